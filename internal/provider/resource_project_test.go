package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

var eventBusGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "eventbus"}

func projectConfig(name, extra string) string {
	return acctest.Config(fmt.Sprintf(`
resource "idp_project" "test" {
  name = %q
%s
}
`, name, extra))
}

// seedProjectVault writes the credentials a platform team keeps in Vault.
func seedProjectVault(t *testing.T, name string) (token string) {
	token = "ghp_" + stack.Name("secret")
	acctest.PutVault(t, render.GitHubAccessVaultPath(name), map[string]any{"username": "ci-bot", "token": token})
	acctest.PutVault(t, render.RegistryVaultPath(name), map[string]any{"username": "robot$" + name, "password": "pw-" + token})
	return token
}

func TestAccProject_lifecycle(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	name := stack.Name("acc-proj")
	token := seedProjectVault(t, name)
	cs, dyn := stack.Kube(t)
	ctx := context.Background()
	ebRef := fmt.Sprintf("EventBus/%s/%s", name, render.EventBus(name))
	ghRef := fmt.Sprintf("Secret/%s/%s", name, render.GitHubAccessSecret(name))
	rotated := token + "-rotated"

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s still exists after destroy (err=%v)", name, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: projectConfig(name, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_project.test", plancheck.ResourceActionCreate),
					// The plan lists every child object before anything exists.
					plancheck.ExpectKnownValue("idp_project.test", tfjsonpath.New("objects").AtMapKey(ebRef), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{12}$`))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_project.test", tfjsonpath.New("id"), knownvalue.StringExact(name)),
					statecheck.ExpectKnownValue("idp_project.test", tfjsonpath.New("eventbus_replicas"), knownvalue.Int64Exact(3)),
					statecheck.ExpectKnownValue("idp_project.test", tfjsonpath.New("objects"), knownvalue.MapSizeExact(12)),
				},
				Check: resource.ComposeTestCheckFunc(
					checkProjectLive(t, name, 3, token),
					checkWorkflowRBAC(t, name),
					checkNoSecretInState(token, "pw-"+token),
				),
			},
			{
				// Replicas and labels change in place, never by replacement.
				Config: projectConfig(name, `  eventbus_replicas = 5
  labels = { team = "web" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_project.test", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
					if err != nil {
						return err
					}
					if ns.Labels["team"] != "web" || ns.Labels[render.LabelManagedBy] != render.ManagedBy {
						return fmt.Errorf("namespace labels = %v", ns.Labels)
					}
					return checkEventBusReplicas(ctx, t, name, 5)
				},
			},
			{
				// Someone edits the EventBus by hand: refresh reports the
				// field, apply heals it.
				PreConfig: func() {
					patch := []byte(`{"spec":{"jetstream":{"replicas":4}}}`)
					if _, err := dyn.Resource(eventBusGVR).Namespace(name).Patch(ctx, render.EventBus(name), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: projectConfig(name, `  eventbus_replicas = 5
  labels = { team = "web" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_project.test", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error { return checkEventBusReplicas(ctx, t, name, 5) },
			},
			{
				// A rotation in Vault shows as an update of that Secret
				// (without the value) and apply re-syncs it.
				PreConfig: func() {
					acctest.PutVault(t, render.GitHubAccessVaultPath(name), map[string]any{"username": "ci-bot", "token": rotated})
				},
				RefreshState: true,
				Check: resource.TestMatchResourceAttr("idp_project.test", "objects."+ghRef,
					regexp.MustCompile(`^Vault .*/`+regexp.QuoteMeta(render.GitHubAccessVaultPath(name))+` version 2 not synced$`)),
				ExpectNonEmptyPlan: true,
			},
			{
				Config: projectConfig(name, `  eventbus_replicas = 5
  labels = { team = "web" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_project.test", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					checkProjectLive(t, name, 5, rotated),
					checkNoSecretInState(token, rotated),
				),
			},
			{
				ResourceName:                         "idp_project.test",
				ImportState:                          true,
				ImportStateId:                        name,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts"},
			},
			{
				// A volume in the namespace stops destroy.
				PreConfig: func() {
					pvc := &corev1.PersistentVolumeClaim{
						ObjectMeta: metav1.ObjectMeta{Name: "data-0"},
						Spec: corev1.PersistentVolumeClaimSpec{
							AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
							Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: k8sresource.MustParse("1Gi")}},
						},
					}
					if _, err := cs.CoreV1().PersistentVolumeClaims(name).Create(ctx, pvc, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config: projectConfig(name, `  eventbus_replicas = 5
  labels = { team = "web" }`),
				Destroy:     true,
				ExpectError: regexp.MustCompile(`(?s)holds 1 PersistentVolumeClaim.*data-0.*delete_data = true`),
			},
			{
				Config: projectConfig(name, `  eventbus_replicas = 5
  labels = { team = "web" }
  delete_data = true`),
				Check: func(*terraform.State) error {
					_, err := cs.CoreV1().PersistentVolumeClaims(name).Get(ctx, "data-0", metav1.GetOptions{})
					return err // still there: refusing destroy deleted nothing
				},
			},
		},
	})
}

func TestAccProject_isolationOff(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	// A k3s-like platform: its ingress in kube-system, or on the host network.
	t.Setenv("IDP_ISOLATION_ALLOWED_NAMESPACES", "kube-system")
	t.Setenv("IDP_ISOLATION_ALLOWED_CIDRS", "192.0.2.0/24")
	name := stack.Name("acc-iso")
	seedProjectVault(t, name)
	cs, _ := stack.Kube(t)
	policyGone := func(*terraform.State) error {
		_, err := cs.NetworkingV1().NetworkPolicies(name).Get(context.Background(), render.IsolationPolicy(name), metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("isolation policy should be gone, got err=%v", err)
		}
		return nil
	}
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: projectConfig(name, `  allowed_namespaces = ["ingress-nginx"]`),
				Check: func(*terraform.State) error {
					np, err := cs.NetworkingV1().NetworkPolicies(name).Get(context.Background(), render.IsolationPolicy(name), metav1.GetOptions{})
					if err != nil {
						return err
					}
					// The project, the platform's and the project's namespaces, the platform's addresses.
					from := np.Spec.Ingress[0].From
					if len(from) != 3 || from[0].PodSelector == nil ||
						strings.Join(from[1].NamespaceSelector.MatchExpressions[0].Values, ",") != "ingress-nginx,kube-system" ||
						from[2].IPBlock == nil || from[2].IPBlock.CIDR != "192.0.2.0/24" {
						return fmt.Errorf("unexpected ingress peers %+v", from)
					}
					return nil
				},
			},
			{
				// Turning isolation off removes the policy (pruning).
				Config: projectConfig(name, `  isolation = false`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_project.test", plancheck.ResourceActionUpdate),
				}},
				Check: policyGone,
			},
		},
	})
}

func TestAccProject_invalidInput(t *testing.T) {
	stack.PreCheck(t)
	for _, tc := range []struct{ config, err string }{
		{projectConfig("Shop_1", ""), `(?s)name.*DNS-1123 label`},
		{projectConfig(strings.Repeat("a", render.MaxProjectName+1), ""), fmt.Sprintf(`(?s)name.*length must be between 1 and %d`, render.MaxProjectName)},
		{projectConfig("ok", `  github_access_vault_path = "data/ok-github"`), `(?s)github_access_vault_path.*must not start with data/`},
		{projectConfig("ok", `  labels = { "bad key!" = "x" }`), `(?s)Invalid key.*labels = \{ "bad key!"`},
		{projectConfig("ok", `  eventbus_replicas = 1`), `(?s)eventbus_replicas.*between 3 and 9`},
	} {
		acctest.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProviderFactories,
			Steps:                    []resource.TestStep{{Config: tc.config, PlanOnly: true, ExpectError: regexp.MustCompile(tc.err)}},
		})
	}
}

func TestAccProject_missingVaultSecret(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	name := stack.Name("acc-novault")
	cs, _ := stack.Kube(t)
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      projectConfig(name, ""),
			ExpectError: regexp.MustCompile(`(?s)Vault secret not found.*` + regexp.QuoteMeta(render.GitHubAccessVaultPath(name))),
			Check:       nil,
		}},
		CheckDestroy: func(*terraform.State) error {
			// Nothing reached the cluster.
			if _, err := cs.CoreV1().Namespaces().Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s was created although Vault had no secret (err=%v)", name, err)
			}
			return nil
		},
	})
}

// checkEventBusReplicas checks a new project's bus: JetStream, with a
// volume per replica.
func checkEventBusReplicas(ctx context.Context, t *testing.T, ns string, want int64) error {
	_, dyn := stack.Kube(t)
	eb, err := dyn.Resource(eventBusGVR).Namespace(ns).Get(ctx, render.EventBus(ns), metav1.GetOptions{})
	if err != nil {
		return err
	}
	spec := eb.Object["spec"].(map[string]any)
	js, _ := spec["jetstream"].(map[string]any)
	size, _, _ := unstructured.NestedString(js, "persistence", "volumeSize")
	if js == nil || spec["nats"] != nil || js["replicas"] != want || size != "1Gi" || js["version"] != render.JetStreamVersion {
		return fmt.Errorf("EventBus spec = %v, want jetstream with replicas %d, 1Gi volumes, version %s", spec, want, render.JetStreamVersion)
	}
	return nil
}

// checkNativeEventBus checks a native NATS bus as the old chart made it.
func checkNativeEventBus(ctx context.Context, t *testing.T, ns string, want int64) error {
	_, dyn := stack.Kube(t)
	eb, err := dyn.Resource(eventBusGVR).Namespace(ns).Get(ctx, render.EventBus(ns), metav1.GetOptions{})
	if err != nil {
		return err
	}
	spec := eb.Object["spec"].(map[string]any)
	native, _, _ := unstructured.NestedMap(spec, "nats", "native")
	// antiAffinity is left to its default (false), which Argo Events drops.
	if spec["jetstream"] != nil || native["replicas"] != want || native["auth"] != "none" || native["antiAffinity"] != nil {
		return fmt.Errorf("EventBus spec = %v, want nats.native with replicas %d, auth none, no antiAffinity", spec, want)
	}
	return nil
}

// checkProjectLive asserts on the objects in the cluster, by contract name.
func checkProjectLive(t *testing.T, name string, replicas int64, token string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		cs, _ := stack.Kube(t)
		if err := checkEventBusReplicas(ctx, t, name, replicas); err != nil {
			return err
		}
		if _, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, render.WorkflowServiceAccount(name), metav1.GetOptions{}); err != nil {
			return err
		}
		rb, err := cs.RbacV1().RoleBindings(name).Get(ctx, render.WorkflowRole(name), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if rb.Subjects[0].Name != render.WorkflowServiceAccount(name) || rb.RoleRef.Name != render.WorkflowRole(name) {
			return fmt.Errorf("RoleBinding binds %v to %v", rb.Subjects, rb.RoleRef)
		}
		gh, err := cs.CoreV1().Secrets(name).Get(ctx, render.GitHubAccessSecret(name), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if string(gh.Data["username"]) != "ci-bot" || string(gh.Data["token"]) != token {
			return fmt.Errorf("GitHub access secret does not hold the Vault values")
		}
		reg, err := cs.CoreV1().Secrets(name).Get(ctx, render.RegistrySecret, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if reg.Type != corev1.SecretTypeDockerConfigJson || !strings.Contains(string(reg.Data[".dockerconfigjson"]), `"robot$`+name+`"`) {
			return fmt.Errorf("registry secret: type %s, dockerconfigjson without the Vault username", reg.Type)
		}
		if _, err := cs.NetworkingV1().NetworkPolicies(name).Get(ctx, render.IsolationPolicy(name), metav1.GetOptions{}); err != nil {
			return err
		}
		return nil
	}
}

// sar is one SubjectAccessReview: may service account sa (in namespace
// ns) do verb on resource (optionally one named object)?
type sar struct {
	sa, ns, group, resource, name, verb string
	allowed                             bool
}

// checkSARs proves service accounts' permissions with the API server's own
// authorizer.
func checkSARs(t *testing.T, saNamespace string, cases []sar) resource.TestCheckFunc {
	return func(*terraform.State) error {
		cs, _ := stack.Kube(t)
		for _, c := range cases {
			user := "system:serviceaccount:" + saNamespace + ":" + c.sa
			res, sub, _ := strings.Cut(c.resource, "/")
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   user,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: c.ns, Group: c.group, Resource: res,
					Subresource: sub, Name: c.name, Verb: c.verb},
			}}
			got, err := cs.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
			if err != nil {
				return err
			}
			if got.Status.Allowed != c.allowed {
				return fmt.Errorf("%s %s %s.%s %q in %q: allowed=%v, want %v", user, c.verb, c.resource, c.group, c.name, c.ns, got.Status.Allowed, c.allowed)
			}
		}
		return nil
	}
}

// checkWorkflowRBAC: what the project's events and executor identities
// need is allowed, nothing else is. Build pods' own containers get no
// token at all (e2e test); deploy identities are per application.
func checkWorkflowRBAC(t *testing.T, ns string) resource.TestCheckFunc {
	events, executor := render.WorkflowServiceAccount(ns), render.ExecutorServiceAccount(ns)
	var cases []sar
	for _, sa := range []string{events, executor} {
		cases = append(cases,
			sar{sa, ns, "argoproj.io", "workflows", "", "create", sa == events}, // Sensors create Workflows
			// The Argo executor reports results; it needs no pod access.
			sar{sa, ns, "argoproj.io", "workflowtaskresults", "", "create", sa == executor},
			sar{sa, ns, "argoproj.io", "workflowtaskresults", "", "patch", sa == executor},
			sar{sa, ns, "argoproj.io", "workflows", "", "get", false},
			sar{sa, ns, "argoproj.io", "workflows", "", "list", false},
			sar{sa, ns, "argoproj.io", "workflows", "", "delete", false},
			sar{sa, ns, "argoproj.io", "workflowtemplates", "", "create", false},
			sar{sa, ns, "argoproj.io", "sensors", "", "create", false},
			sar{sa, ns, "argoproj.io", "eventsources", "", "patch", false},
			sar{sa, ns, "", "pods", "", "patch", false},
			sar{sa, ns, "", "pods/log", "", "get", false},
			sar{sa, ns, "", "configmaps", "", "get", false},
			sar{sa, ns, "coordination.k8s.io", "leases", "", "create", false},
			// Deploying is the per-application deploy identity's job.
			sar{sa, ns, "apps", "deployments", "", "create", false},
			sar{sa, ns, "apps", "deployments", "", "patch", false},
			sar{sa, ns, "traefik.io", "ingressroutes", "", "create", false},
			sar{sa, ns, "traefik.io", "ingressroutes", "", "patch", false},
			sar{sa, ns, "", "services", "", "create", false},
			sar{sa, ns, "", "secrets", "", "get", false},
			sar{sa, ns, "", "secrets", "", "list", false},
			sar{sa, ns, "", "secrets", render.RegistrySecret, "get", false},
			// Argo's agent (the runs' branch-head check) runs as the executor:
			// its task sets, and the token it sends, by name.
			sar{sa, ns, "", "secrets", render.GitHubAccessSecret(ns), "get", sa == executor},
			sar{sa, ns, "", "secrets", render.GitHubAccessSecret(ns), "patch", false},
			sar{sa, ns, "argoproj.io", "workflowtasksets", "", "watch", sa == executor},
			sar{sa, ns, "argoproj.io", "workflowtasksets/status", "", "patch", sa == executor},
			sar{sa, ns, "argoproj.io", "workflowtasksets", "", "create", false},
			sar{sa, ns, "rbac.authorization.k8s.io", "roles", "", "create", false},
			sar{sa, "default", "argoproj.io", "workflows", "", "create", false},
			sar{sa, "default", "argoproj.io", "workflowtaskresults", "", "create", false},
			sar{sa, "", "", "namespaces", "", "list", false},
		)
	}
	return checkSARs(t, ns, cases)
}

// checkNoSecretInState fails if any attribute of any resource holds one of
// the secret values.
func checkNoSecretInState(secrets ...string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		for addr, rs := range s.RootModule().Resources {
			for k, v := range rs.Primary.Attributes {
				for _, sec := range secrets {
					if strings.Contains(v, sec) {
						return fmt.Errorf("%s.%s holds a secret value", addr, k)
					}
				}
			}
		}
		return nil
	}
}

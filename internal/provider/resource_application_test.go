package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

var (
	workflowTemplateGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflowtemplates"}
	workflowGVR         = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
	sensorGVR           = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "sensors"}
	eventSourceGVR      = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "eventsources"}
	ingressRouteGVR     = schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "ingressroutes"}
)

const (
	testRegistryHost    = "harbor.example.com"
	testRegistryProject = "injunweb"
	testWebhookBase     = "https://webhook.example.com"
)

// providerTestEnv sets the provider settings tests rely on beyond the
// stack's: registry and webhook URL (GitHub only where a test fakes it).
func providerTestEnv(t *testing.T) {
	t.Setenv("IDP_REGISTRY_HOST", testRegistryHost)
	t.Setenv("IDP_REGISTRY_PROJECT", testRegistryProject)
	t.Setenv("IDP_WEBHOOK_BASE_URL", testWebhookBase)
}

func appConfig(project, app, git, extra string) string {
	return acctest.Config(fmt.Sprintf(`
resource "idp_project" "p" {
  name = %[1]q
}

resource "idp_application" "app" {
  project = idp_project.p.name
  name    = %[2]q
  git     = { %[3]s }
  port    = 8080
%[4]s
}
`, project, app, git, extra))
}

func sha(c byte) string { return strings.Repeat(string(c), 40) }

// simulateCI does what a push does once the Sensor fired: a Workflow from
// the template with git_sha (accepted by the real Workflow CRD), then the
// template's deploy steps exactly as written, applied as Argo's resource
// step would (server-side, with the step's flags), since no Argo
// controller runs here.
func simulateCI(t *testing.T, project, app, commit string) {
	t.Helper()
	ctx := context.Background()
	_, dyn := stack.Kube(t)
	ns := render.Namespace(project)
	wf := render.BuildWorkflow(project, app, commit)
	if _, err := dyn.Resource(workflowGVR).Namespace(ns).Create(ctx, wf, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the Workflow CRD rejected a run of the template: %v", err)
	}
	tmpl, err := dyn.Resource(workflowTemplateGVR).Namespace(ns).Get(ctx, render.WorkflowTemplate(project, app), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	templates, _, _ := unstructured.NestedSlice(tmpl.Object, "spec", "templates")
	// Argo fills parameters the run does not set from the template's defaults.
	params := map[string]string{render.GitShaParameter: commit}
	defaults, _, _ := unstructured.NestedSlice(tmpl.Object, "spec", "arguments", "parameters")
	for _, d := range defaults {
		if v, ok := d.(map[string]any)["value"].(string); ok {
			params[d.(map[string]any)["name"].(string)] = v
		}
	}
	steps := 0
	for _, tm := range templates {
		res, ok := tm.(map[string]any)["resource"].(map[string]any)
		if !ok {
			continue
		}
		switch res["action"] {
		case "get":
			continue // the gate (this run is current) and the rollout wait: waitDeploymentImage below
		case "create":
			continue // the gate's resubmit, which a current run skips
		}
		if res["action"] != "apply" {
			t.Fatalf("deploy step action %v, want apply", res["action"])
		}
		manager := ""
		for _, f := range res["flags"].([]any) {
			if m, ok := strings.CutPrefix(f.(string), "--field-manager="); ok {
				manager = m
			}
		}
		manifest := res["manifest"].(string)
		for k, v := range params {
			manifest = strings.ReplaceAll(manifest, "{{workflow.parameters."+k+"}}", v)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
			t.Fatal(err)
		}
		gvr := map[string]schema.GroupVersionResource{
			"Deployment":   {Group: "apps", Version: "v1", Resource: "deployments"},
			"IngressRoute": ingressRouteGVR,
			"ConfigMap":    {Version: "v1", Resource: "configmaps"},
		}[obj.GetKind()]
		force := true
		if _, err := dyn.Resource(gvr).Namespace(obj.GetNamespace()).Patch(ctx, obj.GetName(), types.ApplyPatchType, []byte(manifest),
			metav1.PatchOptions{FieldManager: manager, Force: &force}); err != nil {
			t.Fatalf("deploy step %v: %v", tm.(map[string]any)["name"], err)
		}
		steps++
	}
	if steps == 0 {
		t.Fatal("the WorkflowTemplate has no deploy step")
	}
	waitDeploymentImage(t, ns, render.Deployment(app), render.Image(testRegistryHost, testRegistryProject, project, app, commit))
}

// waitDeploymentImage waits until the Deployment runs image on all ready
// replicas (kwok makes pods Ready).
func waitDeploymentImage(t *testing.T, ns, name, image string) {
	t.Helper()
	cs, _ := stack.Kube(t)
	deadline := time.Now().Add(90 * time.Second)
	for {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && d.Spec.Template.Spec.Containers[0].Image == image && d.Status.ObservedGeneration >= d.Generation &&
			d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.ReadyReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Deployment %s/%s did not roll out %s (err=%v)", ns, name, image, err)
		}
		time.Sleep(time.Second)
	}
}

func checkDeployedImage(t *testing.T, ns, app, commit string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		cs, _ := stack.Kube(t)
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), render.Deployment(app), metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := render.Image(testRegistryHost, testRegistryProject, ns, app, commit)
		if got := d.Spec.Template.Spec.Containers[0].Image; got != want || d.Status.ReadyReplicas != *d.Spec.Replicas {
			return fmt.Errorf("Deployment runs %s with %d/%d ready, want %s fully rolled out", got, d.Status.ReadyReplicas, *d.Spec.Replicas, want)
		}
		return nil
	}
}

func TestAccApplication_ciAndTofuAgree(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	gh := acctest.NewGitHub(t)
	gh.AddRepo("myorg", "my-api", true)
	gh.SetBranch("myorg", "my-api", "main", sha('1'))
	project, app := stack.Name("acc-app"), "api"
	seedProjectVault(t, project)
	// The plan checks the repository with the token CI uses.
	acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": gh.Token})
	cs, dyn := stack.Kube(t)
	ctx := context.Background()
	git := `owner = "myorg", repo = "my-api", branch = "main"`
	domains := `  domains = ["api.example.com", "www.example.com"]`
	dataSource := fmt.Sprintf(`
data "idp_application" "app" {
  project    = %q
  name       = %q
  depends_on = [idp_application.app]
}
`, project, app)
	var webhookSecret string
	releaseConfig := strings.Replace(appConfig(project, app, `owner = "myorg", repo = "my-api", branch = "release"`,
		`  domains = ["api.example.com"]`), "port    = 8080", "port    = 9090", 1) + dataSource

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			if _, err := cs.CoreV1().Namespaces().Get(ctx, project, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				return fmt.Errorf("namespace %s still exists (err=%v)", project, err)
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				// Create: CI wiring lands, no Deployment before a build, and
				// the branch head is submitted as the first build.
				Config: appConfig(project, app, git, domains),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// The webhook route is planned with the rest, before any build.
					plancheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("objects").AtMapKey("IngressRoute/"+project+"/"+render.WebhookRoute(project, app)),
						knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{12}$`))),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("id"), knownvalue.StringExact(project+"/"+app)),
					statecheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("git").AtMapKey("hash"), knownvalue.Null()),
					statecheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("build_on_create"), knownvalue.Bool(true)),
					statecheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("webhook_url"), knownvalue.StringExact(testWebhookBase+"/"+project+"-"+app)),
				},
				Check: func(s *terraform.State) error {
					if _, err := cs.AppsV1().Deployments(project).Get(ctx, render.Deployment(app), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return fmt.Errorf("a Deployment exists before any build (err=%v)", err)
					}
					if _, err := dyn.Resource(sensorGVR).Namespace(project).Get(ctx, render.Sensor(project, app), metav1.GetOptions{}); err != nil {
						return err
					}
					es, err := dyn.Resource(eventSourceGVR).Namespace(project).Get(ctx, render.EventSource(project, app), metav1.GetOptions{})
					if err != nil {
						return err
					}
					secretRef, _, _ := unstructured.NestedString(es.Object, "spec", "github", render.GitHubEvent(project, app), "webhookSecret", "name")
					if secretRef != render.WebhookSecret(project, app) {
						return fmt.Errorf("EventSource webhookSecret refers to %q", secretRef)
					}
					// The fake is a GitHub Enterprise server: Argo Events registers
					// the webhook through its API, kaniko clones from it over http.
					event, _, _ := unstructured.NestedMap(es.Object, "spec", "github", render.GitHubEvent(project, app))
					if event["githubBaseURL"] != gh.URL+"api/v3/" || event["githubUploadURL"] != gh.URL+"api/uploads/" {
						return fmt.Errorf("EventSource GitHub URLs %v, %v for a server at %s", event["githubBaseURL"], event["githubUploadURL"], gh.URL)
					}
					// Webhooks reach the EventSource before any build.
					hookRoute, err := dyn.Resource(ingressRouteGVR).Namespace(project).Get(ctx, render.WebhookRoute(project, app), metav1.GetOptions{})
					if err != nil {
						return fmt.Errorf("webhook route: %w", err)
					}
					routes, _, _ := unstructured.NestedSlice(hookRoute.Object, "spec", "routes")
					wantMatch := "Host(`webhook.example.com`) && Path(`/" + project + "-" + app + "`)"
					if r := routes[0].(map[string]any); r["match"] != wantMatch ||
						r["services"].([]any)[0].(map[string]any)["name"] != render.EventSourceService(project, app) {
						return fmt.Errorf("webhook route %v, want %s to %s", r, wantMatch, render.EventSourceService(project, app))
					}
					tmpl, err := dyn.Resource(workflowTemplateGVR).Namespace(project).Get(ctx, render.WorkflowTemplate(project, app), metav1.GetOptions{})
					if err != nil {
						return err
					}
					clone := "--context=git://" + strings.TrimPrefix(gh.URL, "http://") + "myorg/my-api.git#refs/heads/main#"
					if spec := fmt.Sprint(tmpl.Object["spec"]); !strings.Contains(spec, clone) || !strings.Contains(spec, "GIT_PULL_METHOD") {
						return fmt.Errorf("kaniko does not clone %s over http: %s", clone, spec)
					}
					hook, err := cs.CoreV1().Secrets(project).Get(ctx, render.WebhookSecret(project, app), metav1.GetOptions{})
					if err != nil {
						return err
					}
					webhookSecret = string(hook.Data["secret"])
					if len(webhookSecret) < 32 {
						return fmt.Errorf("webhook secret is %d characters", len(webhookSecret))
					}
					// The catch-up CronWorkflow ticks every minute and may
					// start a run of its own during the apply: not a build.
					wfs, err := dyn.Resource(workflowGVR).Namespace(project).List(ctx, metav1.ListOptions{LabelSelector: "!workflows.argoproj.io/cron-workflow"})
					if err != nil {
						return err
					}
					if len(wfs.Items) != 1 {
						return fmt.Errorf("%d Workflows after create, want the first build", len(wfs.Items))
					}
					params, _, _ := unstructured.NestedSlice(wfs.Items[0].Object, "spec", "arguments", "parameters")
					if v := params[0].(map[string]any)["value"]; v != sha('1') {
						return fmt.Errorf("first build of %v, want the branch head %s", v, sha('1'))
					}
					// The hook is Argo Events' to create (kwok runs no
					// EventSource): the provider never makes one.
					if hooks := gh.Hooks("myorg", "my-api"); len(hooks) != 0 {
						return fmt.Errorf("%d GitHub hooks before any EventSource ran", len(hooks))
					}
					if err := checkDeployRBAC(t, project, app, []string{"api.example.com", "www.example.com"})(s); err != nil {
						return err
					}
					return checkNoSecretInState(webhookSecret)(s)
				},
			},
			{
				// CI deploys commit 2: tofu agrees, plan empty, state and the
				// data source show it; GitHub's head is still commit 1.
				PreConfig: func() { simulateCI(t, project, app, sha('2')) },
				Config:    appConfig(project, app, git, domains) + dataSource,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionNoop),
					plancheck.ExpectResourceAction("idp_project.p", plancheck.ResourceActionNoop),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("git").AtMapKey("hash"), knownvalue.StringExact(sha('2'))),
					statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("deployed_hash"), knownvalue.StringExact(sha('2'))),
					statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("branch_head"), knownvalue.StringExact(sha('1'))),
					statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("up_to_date"), knownvalue.Bool(false)),
					statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("ready_replicas"), knownvalue.Int64Exact(1)),
				},
			},
			{
				// Pin commit 3: an in-place update that waits for the rollout.
				Config: appConfig(project, app, git+`, hash = "`+sha('3')+`"`, domains) + dataSource,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(checkDeployedImage(t, project, app, sha('3')), func(*terraform.State) error {
					// Frozen: pushes still build, but runs have no deploy step.
					tmpl, err := dyn.Resource(workflowTemplateGVR).Namespace(project).Get(ctx, render.WorkflowTemplate(project, app), metav1.GetOptions{})
					if err != nil {
						return err
					}
					if spec := fmt.Sprint(tmpl.Object["spec"]); strings.Contains(spec, "resource:") || !strings.Contains(spec, "kaniko") {
						return fmt.Errorf("a pinned application's WorkflowTemplate still deploys, or no longer builds: %s", spec)
					}
					return nil
				}),
			},
			{
				// Unpin: the deploy steps come back and the branch head
				// (commit 1 on GitHub) is submitted as a build; what runs
				// stays until CI deploys it. CI owns the commit again, so
				// the plan leaves it to the apply.
				Config: appConfig(project, app, git, domains) + dataSource,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("idp_application.app", tfjsonpath.New("git").AtMapKey("hash")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("git").AtMapKey("hash"), knownvalue.StringExact(sha('3'))),
				},
				Check: resource.ComposeTestCheckFunc(checkDeployedImage(t, project, app, sha('3')), func(*terraform.State) error {
					runs, err := dyn.Resource(workflowGVR).Namespace(project).List(ctx, metav1.ListOptions{LabelSelector: render.LabelApplication + "=" + app})
					if err != nil {
						return err
					}
					if b := render.LastBuild(runs.Items); b == nil || b.Commit != sha('1') {
						return fmt.Errorf("after unpinning, the newest build is %+v, want one of the branch head %s", b, sha('1'))
					}
					return nil
				}),
			},
			{
				PreConfig: func() {
					simulateCI(t, project, app, sha('4'))
					gh.SetBranch("myorg", "my-api", "main", sha('4'))
				},
				Config: appConfig(project, app, git, domains) + dataSource,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionNoop),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_application.app", tfjsonpath.New("git").AtMapKey("hash"), knownvalue.StringExact(sha('4'))),
					statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("up_to_date"), knownvalue.Bool(true)),
				},
			},
			{
				// Someone deletes the Deployment CI rolled out: the plan says
				// so, and apply restores it at CI's commit.
				PreConfig: func() {
					fg := metav1.DeletePropagationForeground
					if err := cs.AppsV1().Deployments(project).Delete(ctx, render.Deployment(app), metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
						t.Fatal(err)
					}
					for {
						if _, err := cs.AppsV1().Deployments(project).Get(ctx, render.Deployment(app), metav1.GetOptions{}); apierrors.IsNotFound(err) {
							return
						}
						time.Sleep(200 * time.Millisecond)
					}
				},
				Config: appConfig(project, app, git, domains) + dataSource,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
				Check: checkDeployedImage(t, project, app, sha('4')),
			},
			{
				// Port, domains and branch change in place; the dropped
				// domain's route is removed.
				PreConfig: func() { gh.SetBranch("myorg", "my-api", "release", sha('4')) },
				Config: strings.Replace(appConfig(project, app, `owner = "myorg", repo = "my-api", branch = "release"`,
					`  domains = ["api.example.com"]`), "port    = 8080", "port    = 9090", 1) + dataSource,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if _, err := dyn.Resource(ingressRouteGVR).Namespace(project).Get(ctx, render.IngressRoute(project, app, "www.example.com"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return fmt.Errorf("route of a removed domain still exists (err=%v)", err)
					}
					rt, err := dyn.Resource(ingressRouteGVR).Namespace(project).Get(ctx, render.IngressRoute(project, app, "api.example.com"), metav1.GetOptions{})
					if err != nil {
						return err
					}
					port, _, _ := unstructured.NestedSlice(rt.Object, "spec", "routes")
					if svc := port[0].(map[string]any)["services"].([]any)[0].(map[string]any); svc["port"] != int64(9090) || svc["name"] != app {
						return fmt.Errorf("route points to %v", svc)
					}
					sensor, err := dyn.Resource(sensorGVR).Namespace(project).Get(ctx, render.Sensor(project, app), metav1.GetOptions{})
					if err != nil {
						return err
					}
					if !strings.Contains(fmt.Sprint(sensor.Object["spec"]), "refs/heads/release") {
						return fmt.Errorf("Sensor does not filter on the new branch")
					}
					return checkDeployedImage(t, project, app, sha('4'))(nil)
				},
			},
			{
				// Hand edits in managed fields are drift, healed by apply.
				PreConfig: func() {
					patch := []byte(`{"spec":{"dependencies":[{"name":"github-dep","eventSourceName":"x","eventName":"y"}]}}`)
					if _, err := dyn.Resource(sensorGVR).Namespace(project).Patch(ctx, render.Sensor(project, app), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
						t.Fatal(err)
					}
				},
				Config: strings.Replace(appConfig(project, app, `owner = "myorg", repo = "my-api", branch = "release"`,
					`  domains = ["api.example.com"]`), "port    = 8080", "port    = 9090", 1) + dataSource,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
			},
			{
				// A new version of the app's environment in Vault: the plan
				// shows the Secret behind, and apply restarts the pods.
				PreConfig: func() {
					acctest.PutVault(t, render.AppSecretVaultPath(project, app), map[string]any{"GREETING": "hello"})
				},
				Config: releaseConfig,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
				Check: restartedFor(t, project, app, "1"),
			},
			{
				// CI deploys again: it neither removes the restart nor fights
				// tofu over it.
				PreConfig:        func() { simulateCI(t, project, app, sha('5')) },
				Config:           releaseConfig,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check:            resource.ComposeTestCheckFunc(restartedFor(t, project, app, "1"), checkDeployedImage(t, project, app, sha('5'))),
			},
			{
				ResourceName:                         "idp_application.app",
				ImportState:                          true,
				ImportStateId:                        project + "/" + app,
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts", "build_on_create"},
			},
		},
	})
}

// restartedFor checks the app's pods were restarted for version of its
// Vault environment.
func restartedFor(t *testing.T, p, a, version string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		cs, _ := stack.Kube(t)
		d, err := cs.AppsV1().Deployments(p).Get(context.Background(), render.Deployment(a), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := d.Spec.Template.Annotations[render.AnnotationRestartedFor]; got != version {
			return fmt.Errorf("pods restarted for environment version %q, want %q", got, version)
		}
		return nil
	}
}

// checkDeployRBAC: an application's deploy identity may write its own
// Deployment, routes and release record, by name, and create runs in its
// project, and nothing else.
func checkDeployRBAC(t *testing.T, p, a string, domains []string) resource.TestCheckFunc {
	sa := render.DeployServiceAccount(p, a)
	cases := []sar{
		{sa, p, "apps", "deployments", render.Deployment(a), "patch", true},
		{sa, p, "apps", "deployments", render.Deployment(a), "create", true},
		{sa, p, "apps", "deployments", render.Deployment(a), "get", true},
		{sa, p, "apps", "deployments", render.Deployment("other"), "patch", false},
		{sa, p, "apps", "deployments", "", "create", false},
		{sa, p, "apps", "deployments", render.Deployment(a), "delete", false},
		{sa, p, "", "configmaps", render.ReleaseConfigMap(p, a), "patch", true},
		{sa, p, "", "configmaps", "other", "patch", false},
		{sa, p, "traefik.io", "ingressroutes", render.IngressRoute(p, a, "evil.example.org"), "patch", false},
		{sa, p, "traefik.io", "ingressroutes", "", "create", false},
		{sa, p, "argoproj.io", "workflowtaskresults", "", "create", true},
		// A run from an older template resubmits its commit (the deploy gate);
		// nothing else about runs.
		{sa, p, "argoproj.io", "workflows", "", "create", true},
		{sa, p, "argoproj.io", "workflows", "", "delete", false},
		{sa, p, "argoproj.io", "workflows", "", "patch", false},
		{sa, "default", "argoproj.io", "workflows", "", "create", false},
		{sa, p, "", "secrets", "", "get", false},
		{sa, p, "", "secrets", render.GitHubAccessSecret(p), "get", false},
		{sa, p, "", "services", render.Service(a), "patch", false},
		{sa, "default", "apps", "deployments", render.Deployment(a), "patch", false},
	}
	for _, d := range domains {
		cases = append(cases, sar{sa, p, "traefik.io", "ingressroutes", render.IngressRoute(p, a, d), "patch", true})
	}
	return checkSARs(t, p, cases)
}

func TestAccApplication_githubChecks(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	gh := acctest.NewGitHub(t)
	gh.AddRepo("myorg", "readonly", false)
	gh.AddRepo("myorg", "my-api", true)
	gh.SetBranch("myorg", "my-api", "main", sha('1'))
	project := stack.Name("acc-gh")
	for _, tc := range []struct{ git, err string }{
		{`owner = "myorg", repo = "nope", branch = "main"`, `(?s)git.*repository myorg/nope not found`},
		{`owner = "myorg", repo = "my-api", branch = "feature"`, `(?s)git.*branch "feature" not found in myorg/my-api`},
		{`owner = "myorg", repo = "readonly", branch = "main"`, `(?s)git.*lacks admin access to myorg/readonly`},
	} {
		acctest.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProviderFactories,
			Steps:                    []resource.TestStep{{Config: appConfig(project, "api", tc.git, ""), PlanOnly: true, ExpectError: regexp.MustCompile(tc.err)}},
		})
	}
	t.Setenv("GITHUB_TOKEN", "ghp_wrong")
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{Config: appConfig(project, "api", `owner = "myorg", repo = "my-api", branch = "main"`, ""),
			PlanOnly: true, ExpectError: regexp.MustCompile(`(?s)token was rejected \(401\)`)}},
	})
}

func TestAccApplication_invalidInput(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	git := `owner = "myorg", repo = "my-api", branch = "main"`
	for _, tc := range []struct{ config, err string }{
		{appConfig("shop", "1api", git, ""), `(?s)name.*must start with a letter`},
		{appConfig("shop", strings.Repeat("a", 24), git, ""), `(?s)name.*at most 27 keep`},
		{strings.Replace(appConfig("shop", "api", git, ""), "8080", "70000", 1), `(?s)port.*between 1 and 65535`},
		{appConfig("shop", "api", git, `  domains = ["Bad_Domain.com"]`), `(?s)domains.*lowercase DNS name`},
		{appConfig("shop", "api", `owner = "myorg", repo = "my-api", branch = "feat..x"`, ""), `(?s)Invalid branch.*"feat\.\.x" must be a git branch name`},
		{appConfig("shop", "api", `owner = "-bad", repo = "my-api", branch = "main"`, ""), `(?s)git\.owner must be a GitHub user or organisation name, got: -bad`},
		{appConfig("shop", "api", git+`, hash = "XYZ"`, ""), `(?s)git\.hash must be a full 40-character lowercase hex commit hash`},
	} {
		acctest.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProviderFactories,
			Steps:                    []resource.TestStep{{Config: tc.config, PlanOnly: true, ExpectError: regexp.MustCompile(tc.err)}},
		})
	}
}

// Two applications in one project; the old chart's dispatch mode; webhook
// secret rotation on request only; app secrets synced but never in state;
// destroying one application leaves the other untouched.
func TestAccApplication_dispatchRotationAndNeighbours(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	project := stack.Name("acc-two")
	seedProjectVault(t, project)
	appEnv := "postgres://user:" + stack.Name("pw") + "@db/app"
	acctest.PutVault(t, render.AppSecretVaultPath(project, "web"), map[string]any{"DATABASE_URL": appEnv})
	cs, dyn := stack.Kube(t)
	ctx := context.Background()
	kv, _ := stack.Vault(t)
	git := `owner = "myorg", repo = "web", branch = "main"`
	config := func(rotation string, withWorker bool) string {
		c := appConfig(project, "web", git, `  dispatch = { repository = "myorg/gitops" }
  webhook_secret_rotation = "`+rotation+`"`)
		if withWorker {
			c += `
resource "idp_application" "worker" {
  project = idp_project.p.name
  name    = "worker"
  git     = { owner = "myorg", repo = "worker", branch = "main" }
  port    = 9000
}
`
		}
		return c
	}
	webhookVersion := func() int {
		s, err := kv.Get(ctx, render.WebhookSecretVaultPath(project, "web"))
		if err != nil {
			t.Fatal(err)
		}
		return s.VersionMetadata.Version
	}
	workerAlive := func(*terraform.State) error {
		for _, name := range []string{render.EventSource(project, "worker"), render.Sensor(project, "worker")} {
			gvr := eventSourceGVR
			if strings.HasSuffix(name, "sensor") {
				gvr = sensorGVR
			}
			if _, err := dyn.Resource(gvr).Namespace(project).Get(ctx, name, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("worker's %s: %v", name, err)
			}
		}
		_, err := cs.CoreV1().Services(project).Get(ctx, "worker", metav1.GetOptions{})
		return err
	}

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config("1", true),
				Check: resource.ComposeTestCheckFunc(
					func(*terraform.State) error {
						tmpl, err := dyn.Resource(workflowTemplateGVR).Namespace(project).Get(ctx, render.WorkflowTemplate(project, "web"), metav1.GetOptions{})
						if err != nil {
							return err
						}
						spec := fmt.Sprint(tmpl.Object["spec"])
						if !strings.Contains(spec, "https://api.github.com/repos/myorg/gitops/dispatches") || strings.Contains(spec, "manifest") {
							return fmt.Errorf("dispatch mode template: %s", spec)
						}
						sec, err := cs.CoreV1().Secrets(project).Get(ctx, render.AppSecret(project, "web"), metav1.GetOptions{})
						if err != nil {
							return err
						}
						if string(sec.Data["DATABASE_URL"]) != appEnv {
							return fmt.Errorf("app secret not synced from Vault")
						}
						if v := webhookVersion(); v != 1 {
							return fmt.Errorf("webhook secret at version %d after create", v)
						}
						return nil
					},
					workerAlive,
					checkNoSecretInState(appEnv),
				),
			},
			{
				// Unrelated changes never regenerate the webhook secret...
				Config: strings.Replace(config("1", true), "port    = 8080", "port    = 8081", 1),
				Check: func(*terraform.State) error {
					if v := webhookVersion(); v != 1 {
						return fmt.Errorf("webhook secret regenerated (version %d) by an unrelated change", v)
					}
					return nil
				},
			},
			{
				// ...asking for it does, and the Kubernetes Secret follows.
				Config: strings.Replace(config("2", true), "port    = 8080", "port    = 8081", 1),
				Check: func(*terraform.State) error {
					if v := webhookVersion(); v != 2 {
						return fmt.Errorf("webhook secret at version %d after rotation, want 2", v)
					}
					s, _ := kv.Get(ctx, render.WebhookSecretVaultPath(project, "web"))
					sec, err := cs.CoreV1().Secrets(project).Get(ctx, render.WebhookSecret(project, "web"), metav1.GetOptions{})
					if err != nil {
						return err
					}
					if string(sec.Data["secret"]) != s.Data["secret"] {
						return fmt.Errorf("Kubernetes webhook secret not re-synced after rotation")
					}
					return nil
				},
			},
			{
				// Destroying one application leaves its neighbour alone.
				Config: strings.Replace(config("2", false), "port    = 8080", "port    = 8081", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.worker", plancheck.ResourceActionDestroy),
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionNoop),
				}},
				Check: func(*terraform.State) error {
					if _, err := cs.CoreV1().Services(project).Get(ctx, "worker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return fmt.Errorf("worker Service survived its destroy (err=%v)", err)
					}
					if _, err := kv.Get(ctx, render.WebhookSecretVaultPath(project, "worker")); err == nil {
						return fmt.Errorf("worker's generated webhook secret left in Vault")
					}
					_, err := cs.CoreV1().Services(project).Get(ctx, "web", metav1.GetOptions{})
					return err
				},
			},
		},
	})
}

// An application may not take over a Service that already serves other
// pods (a database of the same name): the forced apply would silently send
// the database's traffic to the application. The Service carries our
// managed-by label but no owner label, as one of ours made before claims:
// without our label it would be refused as someone else's
// (TestAccForeign_refused).
func TestAccApplication_refusesTakenName(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	project := stack.Name("acc-taken")
	seedProjectVault(t, project)
	cs, _ := stack.Kube(t)
	ctx := context.Background()
	dbSelector := map[string]string{"app": project + "-api-db"}
	// The same resource address as appConfig's project.
	projectOnly := acctest.Config(fmt.Sprintf(`
resource "idp_project" "p" {
  name = %q
}
`, project))
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: projectOnly},
			{
				PreConfig: func() {
					svc := &corev1.Service{
						ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: project, Labels: map[string]string{render.LabelManagedBy: render.ManagedBy}},
						Spec:       corev1.ServiceSpec{Selector: dbSelector, Ports: []corev1.ServicePort{{Port: 3306}}},
					}
					if _, err := cs.CoreV1().Services(project).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
						t.Fatal(err)
					}
				},
				Config:      appConfig(project, "api", `owner = "myorg", repo = "my-api", branch = "main"`, ""),
				ExpectError: regexp.MustCompile(`(?s)Name already taken.*Service .*/api already exists and selects`),
			},
			{
				Config: projectOnly,
				Check: func(*terraform.State) error {
					svc, err := cs.CoreV1().Services(project).Get(ctx, "api", metav1.GetOptions{})
					if err != nil {
						return err
					}
					if svc.Spec.Selector["app"] != dbSelector["app"] || svc.Spec.Ports[0].Port != 3306 {
						return fmt.Errorf("the refused apply changed the Service: %v %v", svc.Spec.Selector, svc.Spec.Ports)
					}
					return nil
				},
			},
		},
	})
}

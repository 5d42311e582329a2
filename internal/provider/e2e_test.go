package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The end-to-end tests run the whole CI loop for real on the stack's real
// node: the fake GitHub delivers a signed push webhook through Traefik to
// the EventSource, the Sensor creates a Workflow, kaniko builds the commit
// and pushes it to the builds registry, the deploy step rolls it out, and
// Traefik serves it at the application's domain.

const e2eRegistryProject = "e2e"

// e2eEnv points the provider at the stack's real services and seeds the
// project's Vault secrets with credentials that work for them.
func e2eEnv(t *testing.T, gh *acctest.GitHub, project string) {
	t.Helper()
	t.Setenv("IDP_REGISTRY_HOST", os.Getenv("IDP_STACK_REGISTRY_HOST"))
	t.Setenv("IDP_REGISTRY_PROJECT", e2eRegistryProject)
	t.Setenv("IDP_WEBHOOK_BASE_URL", os.Getenv("IDP_STACK_TRAEFIK_URL"))
	acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": gh.Token})
	acctest.PutVault(t, render.RegistryVaultPath(project), map[string]any{
		"username": os.Getenv("IDP_STACK_REGISTRY_USER"), "password": os.Getenv("IDP_STACK_REGISTRY_PASSWORD"),
	})
}

func e2eConfig(project, owner, repo string, apps ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
resource "idp_project" "p" {
  name              = %q
  eventbus_replicas = 3
  annotations       = %s
}
`, project, acctest.RealNodeAnnotations)
	for _, a := range apps {
		name, extra, _ := strings.Cut(a, ":")
		fmt.Fprintf(&b, `
resource "idp_application" %[1]q {
  project = idp_project.p.name
  name    = %[1]q
  git     = { owner = %[2]q, repo = %[3]q, branch = "main" }
  port    = 8080
  domains = [%[4]q]
  %[5]s
}

data "idp_application" %[1]q {
  project    = idp_project.p.name
  name       = idp_application.%[1]s.name
}
`, name, owner, repo, e2eDomain(project, name), extra)
	}
	return acctest.Config(b.String())
}

func e2eDomain(project, app string) string { return app + "." + project + ".e2e.test" }

func TestAccE2E_pushToDeploy(t *testing.T) {
	acctest.RealNode(t)
	gh := acctest.NewGitHubOn(t, acctest.StackHostIP())
	project, owner, repo := acctest.Name("e2e"), "acme", "web"
	gh.AddRepo(owner, repo, true)
	if _, err := gh.Push(owner, repo, "main", acctest.TestAppFiles(t, "initial"), "initial"); err != nil {
		t.Fatal(err)
	}
	e2eEnv(t, gh, project)
	ns := render.Namespace(project)
	var shaA, shaB string
	emptyPlan := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}

	resource.Test(t, resource.TestCase{
		PreCheck:                 func() { acctest.RealNode(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// No hash: CI owns the commit. build_on_create deploys the
				// branch head without a push, and the EventSource registers
				// its hook with GitHub, signed with the secret in Vault.
				Config: e2eConfig(project, owner, repo, "app:build_on_create = true"),
				Check: func(*terraform.State) error {
					start := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
					defer cancel()
					h, err := gh.WaitHook(ctx, owner, repo)
					if err != nil {
						dumpNamespace(t, ns)
						return fmt.Errorf("the EventSource registered no hook: %w", err)
					}
					want := os.Getenv("IDP_STACK_TRAEFIK_URL") + render.WebhookEndpoint(project, "app")
					if h.URL != want || h.Secret == "" {
						return fmt.Errorf("hook url %q (want %q), secret set %v", h.URL, want, h.Secret != "")
					}
					// Also the moment from which the Sensor is subscribed:
					// events published before that are not delivered to it.
					waitServing(t, ns, e2eDomain(project, "app"), "initial", start)
					t.Logf("build on create -> serving: %s after apply", time.Since(start).Round(time.Second))
					return nil
				},
			},
			{
				PreConfig: func() {
					shaA = pushAndServe(t, gh, owner, repo, project, "app", "A")
				},
				Config:            e2eConfig(project, owner, repo, "app:build_on_create = true"),
				ConfigPlanChecks:  emptyPlan,
				ConfigStateChecks: []statecheck.StateCheck{deployedHash("app", &shaA)},
			},
			{
				PreConfig: func() {
					shaB = pushAndServe(t, gh, owner, repo, project, "app", "B")
					strangersStartNothing(t, gh, owner, repo, ns)
				},
				Config:            e2eConfig(project, owner, repo, "app:build_on_create = true"),
				ConfigPlanChecks:  emptyPlan,
				ConfigStateChecks: []statecheck.StateCheck{deployedHash("app", &shaB)},
			},
		},
	})
}

// deployedHash expects the data source to report *sha, read when the
// check runs: the commit is only known once a step's PreConfig pushed it.
func deployedHash(app string, sha *string) statecheck.StateCheck {
	return lateCheck(func() statecheck.StateCheck {
		return statecheck.ExpectKnownValue("data.idp_application."+app, tfjsonpath.New("deployed_hash"), knownvalue.StringExact(*sha))
	})
}

type lateCheck func() statecheck.StateCheck

func (f lateCheck) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	f().CheckState(ctx, req, resp)
}

// pushAndServe pushes a commit whose app answers version, waits until the
// domain serves it, logs the push-to-serving latency and returns the SHA.
func pushAndServe(t *testing.T, gh *acctest.GitHub, owner, repo, project, app, version string) string {
	t.Helper()
	start := time.Now()
	sha, err := gh.Push(owner, repo, "main", acctest.TestAppFiles(t, version), "version "+version)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range gh.Deliveries() {
		if d.Event == "push" && strings.Contains(string(d.Body), sha) && d.StatusCode != http.StatusOK {
			t.Fatalf("push webhook for %s answered %d (%v): %s", version, d.StatusCode, d.Err, d.Response)
		}
	}
	waitServing(t, render.Namespace(project), e2eDomain(project, app), version, start)
	t.Logf("push %s (%s) -> serving at %s: %s", version, sha[:8], e2eDomain(project, app), time.Since(start).Round(time.Second))
	return sha
}

// waitServing polls Traefik until domain answers want, logging each
// Workflow's progress; on timeout it dumps what the namespace runs.
func waitServing(t *testing.T, ns, domain, want string, start time.Time) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(8 * time.Minute)
	seen := map[string]string{}
	var last string
	for {
		got, err := acctest.Serving(ctx, domain)
		if err == nil && got == want {
			return
		}
		last = fmt.Sprintf("%q (err %v)", got, err)
		logWorkflows(t, ns, seen, start)
		if time.Now().After(deadline) {
			dumpNamespace(t, ns)
			t.Fatalf("%s never served %q; last answer %s", domain, want, last)
		}
		time.Sleep(2 * time.Second)
	}
}

// logWorkflows logs each change of a Workflow's phase and of its steps.
func logWorkflows(t *testing.T, ns string, seen map[string]string, start time.Time) {
	t.Helper()
	_, dyn := acctest.Kube(t)
	list, err := dyn.Resource(workflowGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, wf := range list.Items {
		phase, _, _ := unstructured.NestedString(wf.Object, "status", "phase")
		nodes, _, _ := unstructured.NestedMap(wf.Object, "status", "nodes")
		var steps []string
		for _, n := range nodes {
			m := n.(map[string]any)
			if m["type"] == "Pod" {
				steps = append(steps, fmt.Sprintf("%v=%v", m["displayName"], m["phase"]))
			}
		}
		sort.Strings(steps)
		now := phase + " " + strings.Join(steps, " ")
		if seen[wf.GetName()] != now {
			seen[wf.GetName()] = now
			t.Logf("+%s workflow %s: %s", time.Since(start).Round(time.Second), wf.GetName(), now)
		}
	}
}

// strangersStartNothing sends what must not build: a push webhook replayed
// with no signature and with a wrong one, and pushes to branches whose
// names contain the application's branch (main-old, maintenance, main2).
// None may start a Workflow.
func strangersStartNothing(t *testing.T, gh *acctest.GitHub, owner, repo, ns string) {
	t.Helper()
	_, dyn := acctest.Kube(t)
	count := func() int {
		l, err := dyn.Resource(workflowGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	var push *acctest.Delivery
	for _, d := range gh.Deliveries() {
		if d.Event == "push" {
			push = &d
		}
	}
	if push == nil {
		t.Fatal("no push delivery to replay")
	}
	before := count()
	for name, sig := range map[string]string{"no": "", "a wrong": "sha256=" + strings.Repeat("0", 64)} {
		h := push.Header.Clone()
		h.Del("X-Hub-Signature")
		h.Del("X-Hub-Signature-256")
		if sig != "" {
			h.Set("X-Hub-Signature-256", sig)
		}
		d := gh.DeliverRaw(push.URL, h, push.Body)
		t.Logf("push with %s signature: HTTP %d", name, d.StatusCode)
	}
	for _, branch := range []string{"main-old", "maintenance", "main2"} {
		if _, err := gh.Push(owner, repo, branch, acctest.TestAppFiles(t, branch), "look-alike "+branch); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Second)
	if after := count(); after != before {
		t.Fatalf("unsigned, wrongly signed or look-alike branch pushes started %d Workflow(s)", after-before)
	}
}

// dumpNamespace logs what runs in ns, to tell which stage of the pipeline
// failed (README: "When a pipeline fails").
func dumpNamespace(t *testing.T, ns string) {
	t.Helper()
	cs, dyn := acctest.Kube(t)
	for _, l := range acctest.PipelineReport(context.Background(), cs, dyn, ns, nil) {
		t.Log(l)
	}
}

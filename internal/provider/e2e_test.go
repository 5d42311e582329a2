package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
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
	"github.com/idpkit/terraform-provider-idp/internal/stack"
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
	// The EventSource registers the hook with the fake GitHub: applies
	// wait for it.
	t.Setenv("IDP_GITHUB_SYNC_HOOKS", "true")
	acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": gh.Token})
	acctest.PutVault(t, render.RegistryVaultPath(project), map[string]any{
		"username": os.Getenv("IDP_STACK_REGISTRY_USER"), "password": os.Getenv("IDP_STACK_REGISTRY_PASSWORD"),
	})
}

func e2eDomain(project, app string) string { return app + "." + project + ".e2e.test" }

// e2eAppConfig is one project with application "app" on the real node.
// Variables let steps pin a commit or rotate the webhook secret with
// values known only once earlier steps ran (TF_VAR_pin, TF_VAR_rotation).
func e2eAppConfig(project, owner, repo string, withApp bool) string {
	app := fmt.Sprintf(`
variable "pin" {
  type    = string
  default = null
}

variable "rotation" {
  type    = string
  default = null
}

resource "idp_application" "app" {
  project                 = idp_project.p.name
  name                    = "app"
  git                     = { owner = %[1]q, repo = %[2]q, branch = "main", hash = var.pin }
  port                    = 8080
  domains                 = [%[3]q]
  build_on_create         = true
  rollout_timeout         = "90s"
  webhook_secret_rotation = var.rotation
}

data "idp_application" "app" {
  project = idp_project.p.name
  name    = idp_application.app.name
}
`, owner, repo, e2eDomain(project, "app"))
	if !withApp {
		app = ""
	}
	return acctest.Config(fmt.Sprintf(`
resource "idp_project" "p" {
  name              = %q
  eventbus_replicas = 3
  annotations       = %s
}
`, project, stack.RealNodeAnnotations) + app)
}

// e2eRepo starts a fake GitHub on the stack's host address with repository
// owner/repo, whose main branch holds the test app answering version, and
// points the provider and project prefix's Vault secrets at the stack.
func e2eRepo(t *testing.T, prefix, owner, repo, version string) (gh *acctest.GitHub, project string) {
	t.Helper()
	stack.RealNode(t)
	gh = acctest.NewGitHubOn(t, stack.HostIP())
	project = stack.Name(prefix)
	gh.AddRepo(owner, repo, true)
	if _, err := gh.Push(owner, repo, "main", stack.TestAppFiles(t, version), version); err != nil {
		t.Fatal(err)
	}
	e2eEnv(t, gh, project)
	return gh, project
}

func TestAccE2E_pushToDeploy(t *testing.T) {
	owner, repo := "acme", "web"
	gh, project := e2eRepo(t, "e2e", owner, repo, "initial")
	ns, domain := render.Namespace(project), e2eDomain(project, "app")
	var shaA, shaB, shaC, shaBroken string
	emptyPlan := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
	}}
	config := e2eAppConfig(project, owner, repo, true)

	acctest.Test(t, resource.TestCase{
		PreCheck:                 func() { stack.RealNode(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// No hash: CI owns the commit. build_on_create deploys the
				// branch head without a push; GitHub's hook carries the
				// secret in Vault; the Dockerfile's RUN step found no token.
				// A new project's EventBus is JetStream: every push below
				// reaches the Sensor through it.
				Config: config,
				Check: func(*terraform.State) error {
					start := time.Now()
					if err := jetStreamBusReady(t, project); err != nil {
						return err
					}
					if err := hookSignsWithVault(t, gh, owner, repo, project); err != nil {
						return err
					}
					// Also the moment from which the Sensor is subscribed:
					// events published before that are not delivered to it.
					waitServing(t, ns, domain, "initial", start)
					t.Logf("build on create -> serving: %s after apply", time.Since(start).Round(time.Second))
					got, err := stack.ServingPath(context.Background(), domain, "/probe")
					t.Logf("what the build's RUN step could reach:\n%s", got)
					if err != nil || !strings.Contains(got, "token: absent") || !regexp.MustCompile(`api: 40[13]`).MatchString(got) {
						return fmt.Errorf("a Dockerfile RUN step had a service account token or API access: %q (err %v)", got, err)
					}
					return nil
				},
			},
			{
				// Two quick pushes: runs take turns (Argo mutex), in either
				// order, and a run whose commit is no longer the branch head
				// builds nothing (A's, usually: B is pushed at once), so the
				// later commit is what stays deployed.
				PreConfig: func() {
					start := time.Now()
					shaA = push(t, gh, owner, repo, "A")
					shaB = push(t, gh, owner, repo, "B")
					waitServing(t, ns, domain, "B", start)
					t.Logf("pushes A and B -> B serving: %s", time.Since(start).Round(time.Second))
					a, b := waitBuild(t, ns, shaA, "Succeeded"), waitBuild(t, ns, shaB, "Succeeded")
					aStart, bStart := stepStart(t, ns, a.Workflow, "head"), stepStart(t, ns, b.Workflow, "head")
					if a.FinishedAt > bStart && b.FinishedAt > aStart {
						t.Fatalf("runs overlapped: A's ran %s to %s, B's %s to %s", aStart, a.FinishedAt, bStart, b.FinishedAt)
					}
					t.Logf("A's run: %q", a.Message)
					noPodsOf(t, ns, a.Workflow) // garbage-collected on success
				},
				Config:           config,
				ConfigPlanChecks: emptyPlan,
				ConfigStateChecks: []statecheck.StateCheck{
					deployedHash("app", &shaB),
					lateCheck(func() statecheck.StateCheck {
						return statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("last_build"), knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"commit": knownvalue.StringExact(shaB), "phase": knownvalue.StringExact("Succeeded"),
							"started_at": knownvalue.NotNull(), "finished_at": knownvalue.NotNull(),
						}))
					}),
				},
			},
			{
				// Pin B. Strangers first: unsigned, wrongly signed and
				// look-alike branch pushes start nothing.
				PreConfig: func() {
					strangersStartNothing(t, gh, owner, repo, ns)
					t.Setenv("TF_VAR_pin", shaB)
				},
				Config:           config,
				ConfigPlanChecks: update,
			},
			{
				// While pinned, a push builds but changes nothing served,
				// and the plan stays empty.
				PreConfig: func() {
					shaC = push(t, gh, owner, repo, "C")
					waitBuild(t, ns, shaC, "Succeeded")
					time.Sleep(5 * time.Second)
					if got, err := stack.Serving(context.Background(), domain); got != "B" {
						t.Fatalf("a push during the pin changed what is served: %q (err %v)", got, err)
					}
				},
				Config:            config,
				ConfigPlanChecks:  emptyPlan,
				ConfigStateChecks: []statecheck.StateCheck{deployedHash("app", &shaB)},
			},
			{
				// Unpin and rotate the webhook secret in one apply: the branch
				// head (C, built during the pin) is deployed, and GitHub's
				// hook gets the new secret.
				PreConfig: func() {
					t.Setenv("TF_VAR_pin", "")
					os.Unsetenv("TF_VAR_pin")
					t.Setenv("TF_VAR_rotation", "2")
				},
				Config:           config,
				ConfigPlanChecks: update,
				Check: func(*terraform.State) error {
					start := time.Now()
					waitServing(t, ns, domain, "C", start)
					t.Logf("unpin -> C serving: %s after apply", time.Since(start).Round(time.Second))
					return hookSignsWithVault(t, gh, owner, repo, project)
				},
			},
			{
				// A push signed with the rotated secret is accepted at once
				// (the EventSource restarted onto it). Its app never becomes
				// Ready: the run fails after rollout_timeout, the data source
				// says so, and the previous pods keep serving.
				PreConfig: func() {
					start := time.Now()
					shaBroken = push(t, gh, owner, repo, "broken")
					b := waitBuild(t, ns, shaBroken, "Failed")
					t.Logf("broken push -> run failed: %s (%s)", time.Since(start).Round(time.Second), b.Message)
					if got, _ := stack.Serving(context.Background(), domain); got != "C" {
						t.Fatalf("a failed rollout stopped C from serving: %q", got)
					}
				},
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					lateCheck(func() statecheck.StateCheck {
						return statecheck.ExpectKnownValue("data.idp_application.app", tfjsonpath.New("last_build"), knownvalue.ObjectPartial(map[string]knownvalue.Check{
							"commit": knownvalue.StringExact(shaBroken), "phase": knownvalue.StringExact("Failed"),
							"message": knownvalue.NotNull(),
						}))
					}),
				},
			},
			{
				// Destroy the application while a run is in flight: no run,
				// pod, Deployment or hook is left, and nothing comes back.
				PreConfig: func() {
					sha := push(t, gh, owner, repo, "D")
					waitBuild(t, ns, sha, "Running")
				},
				Config: e2eAppConfig(project, owner, repo, false),
				Check: func(*terraform.State) error {
					time.Sleep(15 * time.Second) // a surviving deploy step would re-create by now
					return noOrphans(t, gh, ns, owner, repo)
				},
			},
		},
	})
}

// jetStreamBusReady waits until project's EventBus, which must be
// JetStream, has every replica ready, and logs how long after the bus was
// created its last replica became ready.
func jetStreamBusReady(t *testing.T, project string) error {
	t.Helper()
	ctx := context.Background()
	cs, dyn := stack.Kube(t)
	ns := render.Namespace(project)
	bus, err := dyn.Resource(eventBusGVR).Namespace(ns).Get(ctx, render.EventBus(project), metav1.GetOptions{})
	if err != nil {
		return err
	}
	if typ, _, _ := render.ParseEventBus(bus); typ != render.EventBusJetStream {
		return fmt.Errorf("a new project's EventBus is %s, want %s", typ, render.EventBusJetStream)
	}
	sts := render.EventBusStatefulSet(project, render.EventBusJetStream)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(2 * time.Second) {
		s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, sts, metav1.GetOptions{})
		if err == nil && s.Spec.Replicas != nil && s.Status.ReadyReplicas == *s.Spec.Replicas {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("JetStream StatefulSet %s not ready after 3 minutes (err %v)", sts, err)
		}
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	var last time.Time
	for _, p := range pods.Items {
		if !strings.HasPrefix(p.Name, sts+"-") {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == "Ready" && c.LastTransitionTime.After(last) {
				last = c.LastTransitionTime.Time
			}
		}
	}
	t.Logf("JetStream EventBus: all replicas ready %s after the bus was created", last.Sub(bus.GetCreationTimestamp().Time).Round(time.Second))
	return nil
}

// hookSignsWithVault waits for GitHub's hook for the application (the
// EventSource registers it when it starts) and checks it is the only one
// and signs with the webhook secret now in Vault.
func hookSignsWithVault(t *testing.T, gh *acctest.GitHub, owner, repo, project string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := gh.WaitHook(ctx, owner, repo); err != nil {
		dumpNamespace(t, render.Namespace(project))
		return fmt.Errorf("the EventSource registered no hook: %w", err)
	}
	kv, _ := stack.Vault(t)
	s, err := kv.Get(context.Background(), render.WebhookSecretVaultPath(project, "app"))
	if err != nil {
		return err
	}
	want := os.Getenv("IDP_STACK_TRAEFIK_URL") + render.WebhookEndpoint(project, "app")
	var found []acctest.WebHook
	for _, h := range gh.Hooks(owner, repo) {
		if h.URL == want {
			found = append(found, h)
		}
	}
	if len(found) != 1 || found[0].Secret != s.Data["secret"] || !found[0].Active {
		return fmt.Errorf("%d hooks for %s; want one, active, signing with Vault's current secret (version %d)", len(found), want, s.VersionMetadata.Version)
	}
	return nil
}

// push pushes a commit of the test app answering version.
func push(t *testing.T, gh *acctest.GitHub, owner, repo, version string) string {
	t.Helper()
	sha, err := gh.Push(owner, repo, "main", stack.TestAppFiles(t, version), "version "+version)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range gh.Deliveries() {
		if d.Event == "push" && strings.Contains(string(d.Body), sha) && d.StatusCode != http.StatusOK {
			t.Fatalf("push webhook for %s answered %d (%v): %s", version, d.StatusCode, d.Err, d.Response)
		}
	}
	return sha
}

// waitBuild waits until the run of commit sha reaches phase (Running
// means at least started) and returns it.
func waitBuild(t *testing.T, ns, sha, phase string) render.Build {
	t.Helper()
	_, dyn := stack.Kube(t)
	start, seen := time.Now(), map[string]string{}
	for {
		l, err := dyn.Resource(workflowGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: render.LabelApplication + "=app"})
		if err == nil {
			for i := range l.Items {
				b := render.ParseBuild(&l.Items[i])
				if b.Commit == sha && (b.Phase == phase || phase == "Running" && b.StartedAt != "") {
					return b
				}
				if b.Commit == sha && b.FinishedAt != "" && b.Phase != phase {
					dumpNamespace(t, ns)
					t.Fatalf("run %s of %s ended %s (%s), want %s", b.Workflow, sha[:8], b.Phase, b.Message, phase)
				}
			}
		}
		logWorkflows(t, ns, seen, start)
		if time.Since(start) > 6*time.Minute {
			dumpNamespace(t, ns)
			t.Fatalf("no run of %s reached %s", sha[:8], phase)
		}
		time.Sleep(2 * time.Second)
	}
}

// stepStart is when a run's step (a pod) started.
func stepStart(t *testing.T, ns, workflow, step string) string {
	t.Helper()
	_, dyn := stack.Kube(t)
	wf, err := dyn.Resource(workflowGVR).Namespace(ns).Get(context.Background(), workflow, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nodes, _, _ := unstructured.NestedMap(wf.Object, "status", "nodes")
	for _, n := range nodes {
		// The branch-head check is an HTTP step, retried: its Retry node.
		if m := n.(map[string]any); m["displayName"] == step && (m["type"] == "Pod" || m["type"] == "Retry") {
			return m["startedAt"].(string)
		}
	}
	t.Fatalf("run %s has no step %s", workflow, step)
	return ""
}

// noPodsOf waits until workflow's pods are gone.
func noPodsOf(t *testing.T, ns, workflow string) {
	t.Helper()
	cs, _ := stack.Kube(t)
	for start := time.Now(); ; time.Sleep(time.Second) {
		pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + workflow})
		if err == nil && len(pods.Items) == 0 {
			return
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("pods of succeeded run %s are still there (err %v)", workflow, err)
		}
	}
}

// noOrphans checks that nothing of application "app" is left.
func noOrphans(t *testing.T, gh *acctest.GitHub, ns, owner, repo string) error {
	t.Helper()
	cs, dyn := stack.Kube(t)
	ctx := context.Background()
	wfs, err := dyn.Resource(workflowGVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow"})
	if err != nil {
		return err
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	if n := len(wfs.Items) + len(pods.Items) + len(deps.Items) + len(gh.Hooks(owner, repo)); n != 0 {
		return fmt.Errorf("left after destroy: %d Workflows, %d workflow pods, %d Deployments, %d GitHub hooks",
			len(wfs.Items), len(pods.Items), len(deps.Items), len(gh.Hooks(owner, repo)))
	}
	return nil
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

// waitServing polls Traefik until domain answers want, logging each
// Workflow's progress; on timeout it dumps what the namespace runs.
func waitServing(t *testing.T, ns, domain, want string, start time.Time) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(8 * time.Minute)
	seen := map[string]string{}
	var last string
	for {
		got, err := stack.Serving(ctx, domain)
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
	_, dyn := stack.Kube(t)
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
	_, dyn := stack.Kube(t)
	count := func() int { // the runs pushes start (not the catch-up's own)
		l, err := dyn.Resource(workflowGVR).Namespace(ns).List(context.Background(), metav1.ListOptions{LabelSelector: render.LabelApplication})
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
		if _, err := gh.Push(owner, repo, branch, stack.TestAppFiles(t, branch), "look-alike "+branch); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Second)
	if after := count(); after > before { // runs may also be garbage-collected meanwhile
		t.Fatalf("unsigned, wrongly signed or look-alike branch pushes started %d Workflow(s)", after-before)
	}
}

// dumpNamespace logs what runs in ns, to tell which stage of the pipeline
// failed (README: "When a pipeline fails").
func dumpNamespace(t *testing.T, ns string) {
	t.Helper()
	cs, dyn := stack.Kube(t)
	for _, l := range stack.PipelineReport(context.Background(), cs, dyn, ns) {
		t.Log(l)
	}
}

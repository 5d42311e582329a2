package faults_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/fakegithub"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// The timing faults (issue 20): tofu and CI interleaved on the real node,
// with real pushes through the whole loop (GitHub's webhook, Argo Events,
// a kaniko build, the deploy steps, Traefik). Each ends with what users
// rely on: the newest push serves, the plan is empty, nothing is left
// behind. Pushes are counted into the summary (pushes sent, served, lost).

// ciApp is one project on the real node with one unpinned application
// "app" that CI deploys, and the fake GitHub its pushes come from.
type ciApp struct {
	t       *testing.T
	w       *acctest.Tofu
	gh      *acctest.GitHub
	project string
	owner   string
	repo    string
	sent    []string // commits pushed, in order
}

func newCIApp(t *testing.T, prefix string) *ciApp {
	t.Helper()
	c := newCIProject(t, prefix)
	c.gh.AddRepo(c.owner, c.repo, true)
	c.push("v0")
	return c
}

// realNodeSlots bounds how many timing tests run CI on the real node at
// once. Three at once (with -parallel 3) overloaded its 2 cores: pod
// starts took minutes and the tests' bounds (a push to serving, the
// catch-up) ran out (2026-12-06, two runs in three).
var realNodeSlots = make(chan struct{}, 2)

// newCIProject is newCIApp without the application's repository.
func newCIProject(t *testing.T, prefix string) *ciApp {
	t.Helper()
	stack.RealNode(t)
	realNodeSlots <- struct{}{}
	// Registered first, so it runs last: after the destroy.
	t.Cleanup(func() { <-realNodeSlots })
	gh, err := fakegithub.Start(stack.HostIP()) // not NewGitHubOn: it sets the environment, which parallel tests may not
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	c := &ciApp{t: t, gh: gh, project: stack.Name(prefix), owner: "acme", repo: "web"}
	acctest.PutVault(t, render.GitHubAccessVaultPath(c.project), map[string]any{"username": "ci-bot", "token": gh.Token})
	acctest.PutVault(t, render.RegistryVaultPath(c.project), map[string]any{
		"username": os.Getenv("IDP_STACK_REGISTRY_USER"), "password": os.Getenv("IDP_STACK_REGISTRY_PASSWORD"),
	})
	c.w = acctest.NewTofu(t, "GITHUB_TOKEN="+gh.Token, "GITHUB_BASE_URL="+gh.URL,
		"IDP_REGISTRY_HOST="+os.Getenv("IDP_STACK_REGISTRY_HOST"), "IDP_REGISTRY_PROJECT=faults",
		"IDP_WEBHOOK_BASE_URL="+os.Getenv("IDP_STACK_TRAEFIK_URL"))
	return c
}

// config is the project and its application with replicas pods.
func (c *ciApp) config(replicas int) string {
	return fmt.Sprintf(`
resource "idp_project" "p" {
  name        = %[1]q
  annotations = %[2]s
}

resource "idp_application" "app" {
  project         = idp_project.p.name
  name            = "app"
  git             = { owner = %[3]q, repo = %[4]q, branch = "main" }
  port            = 8080
  replicas        = %[5]d
  domains         = [%[6]q]
  build_on_create = true
  rollout_timeout = "90s"
}
`, c.project, stack.RealNodeAnnotations, c.owner, c.repo, replicas, c.domain())
}

func (c *ciApp) domain() string { return "app." + c.project + ".faults.test" }

// push commits the test app answering version to main, which delivers
// GitHub's push webhook.
func (c *ciApp) push(version string) string {
	c.t.Helper()
	sha, err := c.gh.Push(c.owner, c.repo, "main", stack.TestAppFiles(c.t, version), version)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sent = append(c.sent, version)
	pushed(1)
	return sha
}

// waitServing waits until the domain answers version, the newest push:
// every push up to it is then served (a newer commit contains the older).
func (c *ciApp) waitServing(version string) {
	c.t.Helper()
	c.waitServingWithin(version, 8*time.Minute) // as the e2e tests: a build beside others on 2 cores
}

// waitServingWithin waits until the domain answers version, for at most
// bound.
func (c *ciApp) waitServingWithin(version string, bound time.Duration) {
	c.t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < bound {
		got, err := stack.Serving(context.Background(), c.domain())
		if err == nil && got == version {
			c.t.Logf("%s serves %s after %s", c.domain(), version, time.Since(start).Round(time.Second))
			return
		}
		last = fmt.Sprintf("%q (err %v)", got, err)
		time.Sleep(2 * time.Second)
	}
	kube, dyn := stack.Kube(c.t)
	c.t.Fatalf("%s never served %s; last answer %s\n%s", c.domain(), version, last,
		strings.Join(append(stack.PipelineReport(context.Background(), kube, dyn, render.Namespace(c.project)), c.gh.DeliveryReport()...), "\n"))
}

// servedNewest counts the pushes as served once the newest one serves.
func (c *ciApp) servedNewest() {
	c.t.Helper()
	c.waitServing(c.sent[len(c.sent)-1])
	served(len(c.sent))
	c.sent = nil
}

// deployment is the application's live Deployment.
func (c *ciApp) deployment() *unstructured.Unstructured {
	c.t.Helper()
	_, dyn := stack.Kube(c.t)
	dep, err := dyn.Resource(deploymentsGVR).Namespace(render.Namespace(c.project)).Get(context.Background(), render.Deployment("app"), metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return dep
}

// TestTiming_ciDeployBetweenPlanAndApply: a saved plan of a replicas
// change, made before CI deployed a newer push, is applied after it. The
// apply keeps the newer commit (it was planned as known after apply) and
// changes the replicas; the release record does not move back.
func TestTiming_ciDeployBetweenPlanAndApply(t *testing.T) {
	t.Parallel()
	c := newCIApp(t, "t-saved")
	c.w.Write(c.config(1))
	cleanup(t, c.w)
	c.w.Apply()
	c.servedNewest()

	c.w.Write(c.config(2))
	out, err := c.w.Run("plan", "-input=false", "-no-color", "-out=saved.tfplan")
	if err != nil {
		t.Fatalf("tofu plan -out: %v\n%s", err, out)
	}
	if !strings.Contains(out, "known after apply") {
		t.Errorf("the plan does not show the commit as known after apply:\n%s", out)
	}
	injected(1)
	newer := c.push("v1")
	c.servedNewest()

	if out, err := c.w.Run("apply", "-input=false", "-no-color", "saved.tfplan"); err != nil {
		t.Fatalf("applying the saved plan: %v\n%s", err, out)
	}
	got, err := stack.Serving(context.Background(), c.domain())
	if err != nil || got != "v1" {
		t.Fatalf("after the saved plan was applied, %s answers %q (err %v), want the newer push v1", c.domain(), got, err)
	}
	dep := c.deployment()
	if tag := render.ImageTag(render.ContainerImage(dep, render.Deployment("app"))); tag != newer {
		t.Errorf("the Deployment runs %s, want the newer commit %s", tag, newer)
	}
	if r, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas"); r != 2 {
		t.Errorf("the Deployment has %d replicas, want the planned 2", r)
	}
	_, dyn := stack.Kube(t)
	cm, err := dyn.Resource(configMapsGVR).Namespace(render.Namespace(c.project)).Get(context.Background(),
		render.ReleaseConfigMap(c.project, "app"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rec := render.ParseReleaseConfigMap(cm); rec != newer {
		t.Errorf("the release record says %s, want %s: it moved back", rec, newer)
	}
	converge(t, c.w, render.Namespace(c.project))
}

// config with the application pinned at commit ("" unpinned).
func (c *ciApp) pinned(replicas int, commit string) string {
	cfg := c.config(replicas)
	if commit == "" {
		return cfg
	}
	return strings.Replace(cfg, `branch = "main" }`, fmt.Sprintf(`branch = "main", hash = %q }`, commit), 1)
}

// builds are the project's runs (every application's), as last_build
// reads them.
func (c *ciApp) builds() []render.Build {
	c.t.Helper()
	_, dyn := stack.Kube(c.t)
	list, err := dyn.Resource(workflowsGVR).Namespace(render.Namespace(c.project)).List(context.Background(),
		metav1.ListOptions{LabelSelector: render.LabelApplication})
	if err != nil {
		c.t.Fatal(err)
	}
	out := make([]render.Build, len(list.Items))
	for i := range list.Items {
		out[i] = render.ParseBuild(&list.Items[i])
	}
	return out
}

// runs lists the project's runs as "<commit>: <phase>".
func (c *ciApp) runs() (all []string, active int) {
	c.t.Helper()
	for _, b := range c.builds() {
		all = append(all, fmt.Sprintf("%.12s: %s", b.Commit, b.Phase))
		if b.Phase == "Pending" || b.Phase == "Running" { // ParseBuild: "" is Pending
			active++
		}
	}
	return all, active
}

// waitRun waits until a run of commit has phase.
func (c *ciApp) waitRun(commit, phase string) {
	c.t.Helper()
	want := fmt.Sprintf("%.12s: %s", commit, phase)
	for start := time.Now(); time.Since(start) < 3*time.Minute; time.Sleep(time.Second) {
		all, _ := c.runs()
		for _, r := range all {
			if r == want {
				return
			}
		}
	}
	all, _ := c.runs()
	c.t.Fatalf("no run of %s became %s: %v", commit, phase, all)
}

// waitRunsDone waits until no run of the application is pending or running.
func (c *ciApp) waitRunsDone() {
	c.t.Helper()
	for start := time.Now(); time.Since(start) < 5*time.Minute; time.Sleep(2 * time.Second) {
		if all, active := c.runs(); active == 0 {
			c.t.Logf("runs done after %s: %v", time.Since(start).Round(time.Second), all)
			return
		}
	}
	all, _ := c.runs()
	c.t.Fatalf("runs still active after 5 minutes: %v", all)
}

// TestTiming_pinWithRunsQueued: a pin applied while one push is building
// and the next is queued behind the application's mutex. Both runs were
// made from the unpinned template, yet neither deploys: what was pinned
// keeps serving. Unpinning then deploys the newest push.
func TestTiming_pinWithRunsQueued(t *testing.T) {
	t.Parallel()
	c := newCIApp(t, "t-pin")
	c.w.Write(c.config(1))
	cleanup(t, c.w)
	c.w.Apply()
	c.servedNewest()
	pin := c.deploymentCommit()

	building := c.push("v1")
	c.waitRun(building, "Running")
	queued := c.push("v2")
	c.waitRun(queued, "Pending") // the mutex holds it until v1's run ends
	injected(1)
	c.w.Write(c.pinned(1, pin))
	c.w.Apply()
	c.waitRunsDone()
	if got, err := stack.Serving(context.Background(), c.domain()); err != nil || got != "v0" {
		t.Fatalf("runs made before the pin changed what is served: %q (err %v), want the pinned v0", got, err)
	}
	if got := c.deploymentCommit(); got != pin {
		t.Fatalf("the Deployment runs %s, want the pinned %s", got, pin)
	}
	if out, changes := c.w.PlanChanges(); changes {
		t.Fatalf("the plan after the queued runs ended is not empty:\n%s", out)
	}

	c.w.Write(c.config(1))
	c.w.Apply()
	c.servedNewest()
	converge(t, c.w, render.Namespace(c.project))
}

// deploymentCommit is the commit the application's Deployment runs.
func (c *ciApp) deploymentCommit() string {
	c.t.Helper()
	return render.ImageTag(render.ContainerImage(c.deployment(), render.Deployment("app")))
}

// TestTiming_pushBurst: ten pushes in quick succession, five times over:
// five applications of one project, each with its own repository and
// mutex, burst at once (five trials in the time of one). The Sensor
// starts a burst's runs at once, and the mutex takes runs created in the
// same second in any order; each run builds only while its commit is the
// branch head. So each application's newest push serves, and stays served
// once every run has ended, and its release record names it.
func TestTiming_pushBurst(t *testing.T) {
	t.Parallel()
	const trials, pushes = 5, 10
	c := newCIProject(t, "t-burst")
	apps := make([]string, trials)
	var hcl strings.Builder
	fmt.Fprintf(&hcl, "resource \"idp_project\" \"p\" {\n  name        = %q\n  annotations = %s\n}\n", c.project, stack.RealNodeAnnotations)
	for i := range apps {
		apps[i] = fmt.Sprintf("app%d", i)
		c.gh.AddRepo(c.owner, apps[i], true)
		if _, err := c.gh.Push(c.owner, apps[i], "main", stack.TestAppFiles(t, "v0"), "v0"); err != nil {
			t.Fatal(err)
		}
		pushed(1)
		fmt.Fprintf(&hcl, `
resource "idp_application" %[1]q {
  project         = idp_project.p.name
  name            = %[1]q
  git             = { owner = %[2]q, repo = %[1]q, branch = "main" }
  port            = 8080
  replicas        = 1
  domains         = [%[3]q]
  build_on_create = true
  rollout_timeout = "90s"
}
`, apps[i], c.owner, burstDomain(c, apps[i]))
	}
	c.w.Write(hcl.String())
	cleanup(t, c.w)
	c.w.Apply()
	for _, a := range apps {
		waitAnswer(t, burstDomain(c, a), "v0", 5*time.Minute)
		served(1)
	}

	start := time.Now()
	heads := map[string]string{}
	for i := 1; i <= pushes; i++ {
		for _, a := range apps {
			sha, err := c.gh.Push(c.owner, a, "main", stack.TestAppFiles(t, fmt.Sprintf("r%d", i)), fmt.Sprintf("r%d", i))
			if err != nil {
				t.Fatal(err)
			}
			heads[a] = sha
			pushed(1)
		}
	}
	injected(trials)
	newest := fmt.Sprintf("r%d", pushes)
	for _, a := range apps {
		waitAnswer(t, burstDomain(c, a), newest, 8*time.Minute)
	}
	t.Logf("every application serves its newest push %s after %s", newest, time.Since(start).Round(time.Second))
	c.waitRunsDone()
	t.Logf("every run ended after %s", time.Since(start).Round(time.Second))
	_, dyn := stack.Kube(t)
	ns := render.Namespace(c.project)
	for _, a := range apps {
		if got, err := stack.Serving(context.Background(), burstDomain(c, a)); err != nil || got != newest {
			t.Errorf("%s: once every run ended, it answers %q (err %v), want the newest push %s", a, got, err, newest)
			continue
		}
		dep, err := dyn.Resource(deploymentsGVR).Namespace(ns).Get(context.Background(), render.Deployment(a), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := render.ImageTag(render.ContainerImage(dep, render.Deployment(a))); got != heads[a] {
			t.Errorf("%s: the Deployment runs %s, want the branch head %s", a, got, heads[a])
		}
		cm, err := dyn.Resource(configMapsGVR).Namespace(ns).Get(context.Background(), render.ReleaseConfigMap(c.project, a), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rec := render.ParseReleaseConfigMap(cm); rec != heads[a] {
			t.Errorf("%s: the release record says %s, want the head %s", a, rec, heads[a])
		}
		served(pushes)
	}
	converge(t, c.w, ns)
}

func burstDomain(c *ciApp, app string) string { return app + "." + c.project + ".faults.test" }

// waitAnswer waits until domain answers version, for at most bound.
func waitAnswer(t *testing.T, domain, version string, bound time.Duration) {
	t.Helper()
	start := time.Now()
	var last string
	for time.Since(start) < bound {
		got, err := stack.Serving(context.Background(), domain)
		if err == nil && got == version {
			return
		}
		last = fmt.Sprintf("%q (err %v)", got, err)
		time.Sleep(2 * time.Second)
	}
	t.Fatalf("%s never answered %s within %s; last answer %s", domain, version, bound, last)
}

// catchUpBound is how long a lost push may take to serve: the catch-up
// (one tick a minute) notes the unbuilt head, starts its run at the next
// tick, and the run builds and rolls out (render/catchup.go), on a busy
// machine.
const catchUpBound = 5 * time.Minute

// TestTiming_lostPushes: a push made while the EventSource, the Sensor or
// the EventBus restarts is refused or dropped, and GitHub never
// redelivers it. The catch-up runs the branch head within its bound.
func TestTiming_lostPushes(t *testing.T) {
	t.Parallel()
	c := newCIApp(t, "t-lost")
	c.w.Write(c.config(1))
	cleanup(t, c.w)
	c.w.Apply()
	c.push("right-after-create") // the apply returns once CI listens
	c.servedNewest()
	kube, _ := stack.Kube(t)
	ns := render.Namespace(c.project)
	for i, part := range []struct{ name, selector string }{
		{"EventSource", render.EventsDeploymentSelector("EventSource", render.EventSource(c.project, "app"))},
		{"Sensor", render.EventsDeploymentSelector("Sensor", render.Sensor(c.project, "app"))},
		{"EventBus", "eventbus-name=" + render.EventBus(c.project)},
	} {
		injected(1)
		start := time.Now()
		c.push(fmt.Sprintf("lost-%d-a", i)) // mid-burst: one push before the restart, two during it
		if err := kube.CoreV1().Pods(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{},
			metav1.ListOptions{LabelSelector: part.selector}); err != nil {
			t.Fatalf("restarting the %s: %v", part.name, err)
		}
		c.push(fmt.Sprintf("lost-%d-b", i))
		c.push(fmt.Sprintf("lost-%d-c", i))
		c.waitServingWithin(c.sent[len(c.sent)-1], catchUpBound)
		served(len(c.sent))
		c.sent = nil
		t.Logf("a burst across a restart of the %s served after %s", part.name, time.Since(start).Round(time.Second))
	}
	converge(t, c.w, ns)
}

// TestTiming_stuckBuild: a build whose clone hangs (a git server that
// accepts and never answers) holds the application's mutex, with the next
// push queued behind it. build_timeout ends it: its run fails and says so,
// the mutex passes on, and the queued push builds and serves. What served
// before serves meanwhile.
func TestTiming_stuckBuild(t *testing.T) {
	t.Parallel()
	c := newCIApp(t, "t-stuck")
	// 60s, not the minimum 30s: the build pod's deadline counts from its
	// start, and the clone must begin within it on a loaded machine.
	c.w.Write(strings.Replace(c.config(1), `rollout_timeout = "90s"`, `rollout_timeout = "90s"
  build_timeout   = "60s"`, 1))
	cleanup(t, c.w)
	c.w.Apply()
	c.servedNewest()

	injected(1)
	c.gh.HangGit(c.owner, c.repo, true)
	stuck := c.push("stuck")
	for start := time.Now(); c.gh.HungGit() == 0; time.Sleep(time.Second) {
		if time.Since(start) > 3*time.Minute {
			all, _ := c.runs()
			t.Fatalf("the build of %s never cloned: %v", stuck, all)
		}
	}
	queued := c.push("after-stuck") // after the head check: the stuck run builds
	c.waitRun(queued, "Pending")    // behind the stuck run's mutex
	start := time.Now()
	c.waitRun(stuck, "Failed")
	c.gh.HangGit(c.owner, c.repo, false)
	t.Logf("the stuck run failed %s after the next push queued", time.Since(start).Round(time.Second))
	if msg := c.runMessage(stuck); !strings.Contains(msg, "deadline") {
		t.Errorf("the stuck run's message %q does not say it ran out of time", msg)
	}
	if got, err := stack.Serving(context.Background(), c.domain()); err != nil || got != "v0" {
		t.Errorf("while stuck the domain answered %q (err %v), want v0", got, err)
	}
	c.servedNewest()
	c.waitRunsDone()
	if out, changes := c.w.PlanChanges(); changes {
		t.Fatalf("the plan after the stuck build is not empty:\n%s", out)
	}
	converge(t, c.w, render.Namespace(c.project))
}

// runMessage is the message the failed run of commit reports, as
// last_build shows it.
func (c *ciApp) runMessage(commit string) string {
	c.t.Helper()
	for _, b := range c.builds() {
		if b.Commit == commit && b.Phase == "Failed" {
			return b.Message
		}
	}
	return ""
}

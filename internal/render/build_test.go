package render

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func workflow(t *testing.T, src string) unstructured.Unstructured {
	t.Helper()
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(src), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestLastBuild(t *testing.T) {
	if LastBuild(nil) != nil {
		t.Fatal("a build without Workflows")
	}
	older := workflow(t, `
metadata: {name: shop-api-build-workflow-aaaaa, creationTimestamp: "2026-11-25T10:00:00Z"}
spec: {arguments: {parameters: [{name: git_sha, value: "1111111111111111111111111111111111111111"}]}}
status: {phase: Succeeded, startedAt: "2026-11-25T10:00:01Z", finishedAt: "2026-11-25T10:01:00Z"}
`)
	newer := workflow(t, `
metadata: {name: shop-api-build-workflow-bbbbb, creationTimestamp: "2026-11-25T10:00:30Z"}
spec: {arguments: {parameters: [{name: git_sha, value: "2222222222222222222222222222222222222222"}]}}
status: {phase: Failed, startedAt: "2026-11-25T10:01:00Z", finishedAt: "2026-11-25T10:03:00Z", message: "child 'x' failed"}
`)
	queued := workflow(t, `
metadata: {name: shop-api-build-workflow-ccccc, creationTimestamp: "2026-11-25T10:00:30Z"}
spec: {arguments: {parameters: [{name: git_sha, value: "3333333333333333333333333333333333333333"}]}}
`)
	got := LastBuild([]unstructured.Unstructured{newer, older})
	want := Build{Workflow: "shop-api-build-workflow-bbbbb", Phase: "Failed", Commit: strings.Repeat("2", 40),
		StartedAt: "2026-11-25T10:01:00Z", FinishedAt: "2026-11-25T10:03:00Z", Message: "child 'x' failed"}
	if *got != want {
		t.Fatalf("LastBuild = %+v, want %+v", *got, want)
	}
	// Same second: the run still going is the newer (runs take turns in
	// creation order); a Workflow the controller has not seen yet is
	// Pending.
	got = LastBuild([]unstructured.Unstructured{queued, newer, older})
	if got.Workflow != "shop-api-build-workflow-ccccc" || got.Phase != "Pending" || got.StartedAt != "" {
		t.Fatalf("LastBuild = %+v, want the queued run", *got)
	}
	// Same second, both done: the one that finished last, whatever the
	// names (two quick pushes).
	first := workflow(t, `
metadata: {name: shop-api-build-workflow-zzzzz, creationTimestamp: "2026-11-25T10:00:30Z"}
status: {phase: Succeeded, finishedAt: "2026-11-25T10:01:00Z"}
`)
	if got = LastBuild([]unstructured.Unstructured{first, newer}); got.Workflow != "shop-api-build-workflow-bbbbb" {
		t.Fatalf("LastBuild = %+v, want the run that finished last", *got)
	}
	// A superseded run finished last, having built nothing: the run that
	// built is the last build.
	skipped := workflow(t, `
metadata: {name: shop-api-build-workflow-yyyyy, creationTimestamp: "2026-11-25T10:00:30Z"}
status:
  phase: Succeeded
  finishedAt: "2026-11-25T10:05:00Z"
  nodes: {b: {type: Skipped, displayName: build, phase: Skipped}}
`)
	if got = LastBuild([]unstructured.Unstructured{skipped, first}); got.Workflow != "shop-api-build-workflow-zzzzz" {
		t.Fatalf("LastBuild = %+v, want the run that built, not the superseded one", *got)
	}
	if got = LastBuild([]unstructured.Unstructured{skipped}); got.Workflow != "shop-api-build-workflow-yyyyy" {
		t.Fatalf("LastBuild = %+v, want the only run", *got)
	}
}

// Argo often leaves a failed run's own message empty: the failed steps
// say what went wrong.
func TestParseBuild_failedStep(t *testing.T) {
	wf := workflow(t, `
metadata: {name: shop-api-build-workflow-ddddd}
status:
  phase: Failed
  nodes:
    a: {type: DAG, displayName: shop-api-build-workflow-ddddd, phase: Failed}
    b: {type: Pod, displayName: build, phase: Succeeded}
    c: {type: Pod, displayName: rollout, phase: Failed, message: Pod was active on the node longer than the specified deadline}
`)
	if got := ParseBuild(&wf).Message; got != "rollout: Pod was active on the node longer than the specified deadline" {
		t.Fatalf("message %q", got)
	}
}

// A run whose commit was no longer the branch head skipped its build: it
// succeeded, and says why nothing was built.
func TestParseBuild_superseded(t *testing.T) {
	wf := workflow(t, `
metadata: {name: shop-api-build-workflow-eeeee}
status:
  phase: Succeeded
  nodes:
    a: {type: DAG, displayName: shop-api-build-workflow-eeeee, phase: Succeeded}
    b: {type: Pod, displayName: head, phase: Succeeded}
    c: {type: Skipped, displayName: build, phase: Skipped, message: "when 'x == y' evaluated false"}
    d: {type: Skipped, displayName: gate, phase: Omitted}
`)
	if got := ParseBuild(&wf).Message; !strings.HasPrefix(got, "superseded: ") {
		t.Fatalf("message %q, want it to say the run was superseded", got)
	}
}

func templateSteps(t *testing.T, a Application) map[string]map[string]any {
	t.Helper()
	objs, err := ApplicationObjects(a)
	if err != nil {
		t.Fatal(err)
	}
	steps := map[string]map[string]any{}
	for _, o := range objs {
		if o.GetKind() == "WorkflowTemplate" {
			tmpls, _, _ := unstructured.NestedSlice(o.Object, "spec", "templates")
			for _, tm := range tmpls {
				steps[tm.(map[string]any)["name"].(string)] = tm.(map[string]any)
			}
		}
	}
	return steps
}

// A pinned application's runs build and never deploy.
func TestWorkflowTemplate_pinnedOnlyBuilds(t *testing.T) {
	a := testApplication()
	a.Hash, a.Pinned = strings.Repeat("a", 40), true
	steps := templateSteps(t, a)
	if len(steps) != 3 || steps["kaniko"] == nil || steps["head"] == nil {
		t.Fatalf("pinned template steps %v, want the DAG, the head check and kaniko only", keys(steps))
	}
}

// The rollout step fails the run after RolloutTimeout, and only a complete
// rollout (every replica updated, ready and available, no old pod left)
// satisfies it. Without replicas there is nothing to wait for.
func TestWorkflowTemplate_rolloutStep(t *testing.T) {
	a := testApplication()
	a.RolloutTimeout = 90
	r := templateSteps(t, a)["rollout"]
	if r["activeDeadlineSeconds"] != int64(90) {
		t.Errorf("rollout deadline %v, want 90", r["activeDeadlineSeconds"])
	}
	cond := r["resource"].(map[string]any)["successCondition"]
	if cond != "status.replicas==2,status.updatedReplicas==2,status.readyReplicas==2,status.availableReplicas==2" {
		t.Errorf("rollout condition %v", cond)
	}
	a.Replicas = 0
	if s := templateSteps(t, a); s["rollout"] != nil || s["record"] == nil {
		t.Errorf("without replicas: steps %v, want a record step and no rollout", keys(s))
	}
}

// Code from the repository (kaniko runs the Dockerfile) gets no token.
func TestWorkflowTemplate_buildHasNoToken(t *testing.T) {
	k := templateSteps(t, testApplication())["kaniko"]
	if k["automountServiceAccountToken"] != false || k["serviceAccountName"] != ExecutorServiceAccount("shop") {
		t.Fatalf("kaniko step %v", k)
	}
	for name, s := range templateSteps(t, testApplication()) {
		if _, ok := s["resource"]; ok && s["serviceAccountName"] != DeployServiceAccount("shop", "api") {
			t.Errorf("deploy step %s runs as %v", name, s["serviceAccountName"])
		}
	}
}

// Empty resourceNames would grant every route: an application without
// domains gets no route rule at all. Unnamed on purpose: the executor's
// task results, and creating a run (a stale run resubmits its commit; a
// generated name cannot be granted by name).
func TestDeployRules_noDomainsNoRoutes(t *testing.T) {
	a := testApplication()
	a.Domains = nil
	for _, r := range deployRules(a) {
		resubmit := r.Resources[0] == "workflows" && reflect.DeepEqual(r.Verbs, []string{"create"})
		if len(r.ResourceNames) == 0 && r.Resources[0] != "workflowtaskresults" && !resubmit {
			t.Errorf("rule %v grants every name", r)
		}
	}
}

func keys[V any](m map[string]V) []string { return sortedKeys(m) }

func TestParseWorkflowTemplatePinned(t *testing.T) {
	for _, c := range []struct {
		pinned, dispatch bool
	}{{false, false}, {true, false}, {false, true}} {
		a := testApplication()
		a.Pinned = c.pinned
		if c.dispatch {
			a.Dispatch = &Dispatch{Repository: "myorg/gitops", EventType: "update-config"}
		}
		objs, _ := ApplicationObjects(a)
		for _, o := range objs {
			if o.GetKind() == "WorkflowTemplate" && ParseWorkflowTemplatePinned(o) != c.pinned {
				t.Errorf("pinned=%v dispatch=%v: parsed pinned=%v", c.pinned, c.dispatch, !c.pinned)
			}
		}
	}
	if ParseWorkflowTemplatePinned(nil) {
		t.Error("no template is pinned")
	}
}

// A run's steps and the run itself have deadlines: the kubelet ends a hung
// build at BuildTimeout, and Argo fails the whole run (releasing the
// application's mutex) after the build and rollout deadlines and a margin,
// even when a pod never starts.
func TestWorkflowTemplate_deadlines(t *testing.T) {
	runDeadline := func(a Application) any {
		objs, err := ApplicationObjects(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == "WorkflowTemplate" {
				return o.Object["spec"].(map[string]any)["activeDeadlineSeconds"]
			}
		}
		t.Fatal("no WorkflowTemplate")
		return nil
	}
	a := testApplication()
	a.BuildTimeout, a.RolloutTimeout = 45, 90
	if d := templateSteps(t, a)["kaniko"]["activeDeadlineSeconds"]; d != int64(45) {
		t.Errorf("build deadline %v, want 45", d)
	}
	if d := runDeadline(a); d != int64(45+90+RunDeadlineMargin) {
		t.Errorf("run deadline %v, want build + rollout + %d", d, RunDeadlineMargin)
	}
	for _, s := range []string{"deploy", "record", "route-0"} {
		if _, ok := templateSteps(t, a)[s]; !ok {
			t.Fatalf("no %s step", s)
		}
	}
	// Without a rollout step (no replicas, pinned, dispatch) the run has
	// only the build's deadline and the margin.
	for name, change := range map[string]func(*Application){
		"no replicas": func(a *Application) { a.Replicas = 0 },
		"pinned":      func(a *Application) { a.Hash, a.Pinned = strings.Repeat("a", 40), true },
		"dispatch":    func(a *Application) { a.Dispatch = &Dispatch{Repository: "myorg/gitops", EventType: "update-config"} },
	} {
		b := a
		change(&b)
		if d := runDeadline(b); d != int64(45+RunDeadlineMargin) {
			t.Errorf("%s: run deadline %v, want build + %d", name, d, RunDeadlineMargin)
		}
		if d := templateSteps(t, b)["kaniko"]["activeDeadlineSeconds"]; d != int64(45) {
			t.Errorf("%s: build deadline %v, want 45", name, d)
		}
	}
	// Unset: the defaults.
	if d := runDeadline(testApplication()); d != int64(DefaultBuildTimeout+DefaultRolloutTimeout+RunDeadlineMargin) {
		t.Errorf("default run deadline %v", d)
	}
}

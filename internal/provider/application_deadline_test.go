package provider_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// A run whose build pod can never be scheduled fails at the run's deadline
// and releases the application's mutex: the run queued behind it starts
// then, and its own deadline counts from that start, not from its
// creation. On kwok, with the stack's Argo Workflows controller; the runs
// shorten the template's deadline to seconds, as a Workflow may.
//
// Argo v3.7.3 fails such a run late: it logs the deadline as passed, but
// with the pod unschedulable no event comes, and the run is failed when the
// controller next processes it for another reason (~110 s later on the
// stack, with its 10 s requeue). The wait allows for that; what users rely
// on is that the mutex is released and the next run gets its full time.
func TestAccApplication_stuckBuildReleasesMutex(t *testing.T) {
	acctest.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "") // no GitHub: no first build
	project, app := acctest.Name("acc-stuck"), "api"
	seedProjectVault(t, project)
	ns := render.Namespace(project)
	cs, dyn := acctest.Kube(t)
	ctx := context.Background()
	const runDeadline = 15

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: appConfig(project, app, `owner = "myorg", repo = "my-api", branch = "main"`,
				"  build_timeout   = \"45s\"\n  rollout_timeout = \"40s\""),
			Check: func(*terraform.State) error {
				tmpl, err := dyn.Resource(workflowTemplateGVR).Namespace(ns).Get(ctx, render.WorkflowTemplate(project, app), metav1.GetOptions{})
				if err != nil {
					return err
				}
				if d, _, _ := unstructured.NestedInt64(tmpl.Object, "spec", "activeDeadlineSeconds"); d != 45+40+render.RunDeadlineMargin {
					return fmt.Errorf("run deadline %d, want build_timeout + rollout_timeout + %d s", d, render.RunDeadlineMargin)
				}
				if b, r := render.ParseTemplateTimeouts(tmpl); b != 45 || r != 40 {
					return fmt.Errorf("kaniko and rollout deadlines %d, %d, want 45, 40", b, r)
				}
				// The namespace now selects no node (another manager's
				// annotation, which is not drift).
				patch := fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q,"annotations":{"scheduler.alpha.kubernetes.io/node-selector":"kubernetes.io/hostname=nowhere"}}}`, ns)
				force := true
				if _, err := cs.CoreV1().Namespaces().Patch(ctx, ns, types.ApplyPatchType, []byte(patch), metav1.PatchOptions{FieldManager: "acc-test", Force: &force}); err != nil {
					return err
				}
				var runs [2]string
				for i, c := range []byte{'1', '2'} {
					wf := render.BuildWorkflow(project, app, sha(c))
					_ = unstructured.SetNestedField(wf.Object, int64(runDeadline), "spec", "activeDeadlineSeconds")
					got, err := dyn.Resource(workflowGVR).Namespace(ns).Create(ctx, wf, metav1.CreateOptions{})
					if err != nil {
						return err
					}
					runs[i] = got.GetName()
				}
				first := waitRun(t, ns, runs[0], func(b render.Build) bool { return b.FinishedAt != "" }, 4*time.Minute)
				if first.Phase != "Failed" {
					return fmt.Errorf("the stuck run ended %s (%s), want Failed", first.Phase, first.Message)
				}
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "workflows.argoproj.io/workflow=" + runs[0]})
				if err != nil {
					return err
				}
				for _, p := range pods.Items {
					if p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending {
						return fmt.Errorf("pod %s of the stuck run was scheduled (%s, node %q): the test needs it unschedulable", p.Name, p.Status.Phase, p.Spec.NodeName)
					}
				}
				t.Logf("stuck run: %s after %s: %s", first.Phase, since(first.StartedAt, first.FinishedAt), first.Message)
				// The second run waited longer than its deadline, yet runs
				// once it holds the mutex, and fails a deadline after that.
				second := waitRun(t, ns, runs[1], func(b render.Build) bool { return b.FinishedAt != "" }, 4*time.Minute)
				created := getRun(t, ns, runs[1]).GetCreationTimestamp().Time
				started, _ := time.Parse(time.RFC3339, second.StartedAt)
				finished, _ := time.Parse(time.RFC3339, second.FinishedAt)
				if second.StartedAt < first.FinishedAt {
					return fmt.Errorf("the queued run started %s, before the stuck one released the mutex at %s", second.StartedAt, first.FinishedAt)
				}
				if waited, ran := started.Sub(created), finished.Sub(started); waited < (runDeadline-2)*time.Second || ran < (runDeadline-1)*time.Second {
					return fmt.Errorf("the queued run waited %s and ran %s: its deadline (%d s) counted while it waited", waited, ran, runDeadline)
				}
				return nil
			},
		}},
	})
}

func getRun(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	_, dyn := acctest.Kube(t)
	wf, err := dyn.Resource(workflowGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return wf
}

// waitRun polls Workflow name until done says so, for at most timeout.
func waitRun(t *testing.T, ns, name string, done func(render.Build) bool, timeout time.Duration) render.Build {
	t.Helper()
	for start := time.Now(); ; time.Sleep(time.Second) {
		b := render.ParseBuild(getRun(t, ns, name))
		if done(b) {
			return b
		}
		if time.Since(start) > timeout {
			dumpNamespace(t, ns)
			t.Fatalf("run %s still %s after %s: %s", name, b.Phase, timeout, b.Message)
		}
	}
}

// since is the time from one RFC 3339 timestamp to another.
func since(from, to string) time.Duration {
	a, _ := time.Parse(time.RFC3339, from)
	b, _ := time.Parse(time.RFC3339, to)
	return b.Sub(a)
}

package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, dyn := stack.Kube(t)
	ns := namespace(t, "diff")
	ctx := testCtx(t, 90*time.Second)

	cm := configMap(ns, "cfg", map[string]any{"key": "ours"})
	// "0.5" cpu is stored as 500m: a naive comparison would see drift.
	dep := deployment(ns, "web", 1, "0.5")
	if _, err := e.Apply(ctx, cm, dep); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	rawDep, err := dyn.Resource(depGVR).Namespace(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	containers, _, _ := unstructured.NestedSlice(rawDep.Object, "spec", "template", "spec", "containers")
	if cpu, _, _ := unstructured.NestedString(containers[0].(map[string]any), "resources", "requests", "cpu"); cpu != "500m" {
		t.Fatalf("live cpu request is %q; the test needs the server to normalise 0.5 to 500m", cpu)
	}

	// Right after apply, and again once the deployment controller has
	// written its annotations and status, nothing has drifted.
	wantStatus(t, diffOne(t, ctx, e, cm), engine.InSync)
	wantStatus(t, diffOne(t, ctx, e, dep), engine.InSync)
	eventually(t, 30*time.Second, "the deployment controller to observe the Deployment", func() (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ObservedGeneration >= d.Generation && d.Annotations["deployment.kubernetes.io/revision"] != "", err
	})
	wantStatus(t, diffOne(t, ctx, e, dep), engine.InSync)

	// Hand edits of fields we manage, by another manager, are drift, named
	// by path only.
	updateCM(t, cs, ns, "cfg", "kubectl-edit", func(c *corev1.ConfigMap) { c.Data["key"] = "hand-edited-value" })
	updateDeployment(t, cs, ns, "web", "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(3)) })
	st := diffOne(t, ctx, e, cm)
	wantStatus(t, st, engine.Drifted, "data.key")
	if s := st.String(); !strings.Contains(s, "data.key") || strings.Contains(s, "hand-edited-value") {
		t.Errorf("Status.String() = %q: want the path and never the value", s)
	}
	wantStatus(t, diffOne(t, ctx, e, dep), engine.Drifted, "spec.replicas")
	// Diff is a dry run: the live objects keep the hand edits.
	if c, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "cfg", metav1.GetOptions{}); c.Data["key"] != "hand-edited-value" {
		t.Errorf("Diff changed the live ConfigMap: data.key = %q", c.Data["key"])
	}

	// Apply heals the drift.
	if _, err := e.Apply(ctx, cm, dep); err != nil {
		t.Fatalf("healing Apply: %v", err)
	}
	if c, _ := cs.CoreV1().ConfigMaps(ns).Get(ctx, "cfg", metav1.GetOptions{}); c.Data["key"] != "ours" {
		t.Errorf("after Apply live data.key = %q, want ours", c.Data["key"])
	}
	if d, _ := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); *d.Spec.Replicas != 1 {
		t.Errorf("after Apply live replicas = %d, want 1", *d.Spec.Replicas)
	}
	wantStatus(t, diffOne(t, ctx, e, cm), engine.InSync)
	wantStatus(t, diffOne(t, ctx, e, dep), engine.InSync)

	// Fields we do not set, changed by someone else, are not drift.
	updateCM(t, cs, ns, "cfg", "kubectl-edit", func(c *corev1.ConfigMap) {
		c.Labels = map[string]string{"team": "platform"}
		c.Data["extra"] = "theirs"
	})
	updateDeployment(t, cs, ns, "web", "kubectl-edit", func(d *appsv1.Deployment) {
		d.Spec.RevisionHistoryLimit = ptr(int32(3)) // server-defaulted to 10, not set by us
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations["example.com/note"] = "hi"
	})
	wantStatus(t, diffOne(t, ctx, e, cm), engine.InSync)
	wantStatus(t, diffOne(t, ctx, e, dep), engine.InSync)

	// A deleted object is missing.
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "cfg", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, diffOne(t, ctx, e, cm), engine.Missing)
	if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "cfg", metav1.GetOptions{}); err == nil {
		t.Errorf("Diff of a missing object created it")
	}
}

// TestDiffRepeatedWhileControllersWrite guards against false drift from
// comparing a live read and a dry-run apply taken at different moments while
// controllers keep writing the object (scaling a Deployment up makes the
// deployment controller and ReplicaSets churn).
func TestDiffRepeatedWhileControllersWrite(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	ns := namespace(t, "churn")
	ctx := testCtx(t, 60*time.Second)

	// The window is right after creation, so use several fresh Deployments.
	for d := range 8 {
		dep := deployment(ns, fmt.Sprintf("web-%d", d), 3, "100m")
		if _, err := e.Apply(ctx, dep); err != nil {
			t.Fatalf("Apply: %v", err)
		}
		for i := range 10 {
			st := diffOne(t, ctx, e, dep)
			if st.State != engine.InSync {
				t.Fatalf("Diff #%d right after applying %s: %s", i, st.Ref, st)
			}
		}
	}
}

func updateCM(t *testing.T, cs kubeClient, ns, name, manager string, edit func(*corev1.ConfigMap)) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		c, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c.Data == nil {
			c.Data = map[string]string{}
		}
		edit(c)
		_, err = cs.CoreV1().ConfigMaps(ns).Update(ctx, c, metav1.UpdateOptions{FieldManager: manager})
		return err
	})
	if err != nil {
		t.Fatalf("updating ConfigMap %s/%s as %s: %v", ns, name, manager, err)
	}
}

func updateDeployment(t *testing.T, cs kubeClient, ns, name, manager string, edit func(*appsv1.Deployment)) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	err := retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(d)
		_, err = cs.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: manager})
		return err
	})
	if err != nil {
		t.Fatalf("updating Deployment %s/%s as %s: %v", ns, name, manager, err)
	}
}

func ptr[T any](v T) *T { return &v }

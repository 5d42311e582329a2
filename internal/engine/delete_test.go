package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

func TestDeleteWaitsUntilGone(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "delete")
	ctx := testCtx(t, 90*time.Second)

	cm := configMap(ns, "cfg", map[string]any{"k": "v"})
	cm2 := configMap(ns, "cfg2", map[string]any{"k": "v"})
	dep := deployment(ns, "web", 2, "100m")
	if _, err := e.Apply(ctx, cm, cm2, dep); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	eventually(t, 60*time.Second, "2 pods of Deployment web (kwok)", func() (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		return err == nil && len(pods.Items) >= 2, err
	})

	// A finalizer on the ReplicaSet holds the Deployment's foreground
	// deletion: Delete must still be waiting while it is there.
	rss, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rss.Items) != 1 {
		t.Fatalf("ReplicaSets of web: %v, %v", rss, err)
	}
	rsName := rss.Items[0].Name
	setRSFinalizers := func(body string) {
		t.Helper()
		_, err := cs.AppsV1().ReplicaSets(ns).Patch(context.Background(), rsName, types.MergePatchType, []byte(body), metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("patching finalizers of ReplicaSet %s: %v", rsName, err)
		}
	}
	setRSFinalizers(`{"metadata":{"finalizers":["test.idpkit.io/hold"]}}`)
	t.Cleanup(func() { setRSFinalizers(`{"metadata":{"finalizers":null}}`) })

	deleted := make(chan error, 1)
	go func() { deleted <- e.Delete(ctx, engine.RefOf(cm), engine.RefOf(dep), engine.RefOf(cm2)) }()
	time.Sleep(3 * time.Second)
	select {
	case err := <-deleted:
		t.Fatalf("Delete returned (%v) while a dependent ReplicaSet was still held by a finalizer", err)
	default:
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || d.DeletionTimestamp == nil {
		t.Fatalf("while its ReplicaSet is held the Deployment should exist, marked for deletion: %v", err)
	}
	setRSFinalizers(`{"metadata":{"finalizers":null}}`)
	if err := <-deleted; err != nil {
		t.Fatalf("Delete: %v", err)
	}
	// Gone, not merely terminating, the moment Delete returns; foreground
	// propagation means the Pods and ReplicaSets went first.
	for _, name := range []string{"cfg", "cfg2"} {
		if _, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s after Delete: err = %v, want NotFound", name, err)
		}
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment after Delete: err = %v, want NotFound", err)
	}
	if rs, err := cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"}); err != nil || len(rs.Items) != 0 {
		t.Errorf("ReplicaSets after Delete: %d, %v; want none", len(rs.Items), err)
	}
	if pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"}); err != nil || len(pods.Items) != 0 {
		t.Errorf("Pods after Delete: %d, %v; want none", len(pods.Items), err)
	}

	// Already absent, and of a kind the cluster does not serve: deleted.
	start := time.Now()
	if err := e.Delete(ctx, engine.RefOf(cm)); err != nil {
		t.Errorf("Delete of an absent object: %v", err)
	}
	unserved := engine.Ref{APIVersion: "test.idpkit.io/v1", Kind: "NotServed" + suffix(), Namespace: ns, Name: "x"}
	if err := e.Delete(ctx, unserved); err != nil {
		t.Errorf("Delete of a kind not served: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("deleting absent objects took %s", d)
	}
}

func TestDeleteBlockedByFinalizerTimesOut(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "finalizer")
	const finalizer = "test.idpkit.io/block"

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "stuck", Namespace: ns, Finalizers: []string{finalizer}}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(testCtx(t, 10*time.Second), cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := cs.CoreV1().ConfigMaps(ns).Patch(ctx, "stuck", types.MergePatchType,
			[]byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("removing finalizer: %v", err)
		}
	})

	ref := engine.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "stuck"}
	// Several concurrent attempts with deadlines a few ms apart: the 3s
	// deadline falls right where the engine's poll wakes up (0.2+0.4+0.8+1.6s),
	// so some attempts hit the deadline in the middle of a request. Each must
	// still report a timeout that names the object and its finalizer.
	type result struct {
		err     error
		elapsed time.Duration
	}
	results := make(chan result, 16)
	for i := range cap(results) {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second+time.Duration(i)*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := e.Delete(ctx, ref)
			results <- result{err, time.Since(start)}
		}()
	}
	for range cap(results) {
		r := <-results
		if r.err == nil {
			t.Fatal("Delete of an object held by a finalizer succeeded")
		}
		if r.elapsed < 2500*time.Millisecond || r.elapsed > 5*time.Second {
			t.Errorf("Delete returned after %s, want about the 3s deadline", r.elapsed)
		}
		for _, want := range []string{"timed out", ref.String(), finalizer} {
			if !strings.Contains(r.err.Error(), want) {
				t.Errorf("error %q does not contain %q", r.err, want)
			}
		}
	}
	live, gerr := cs.CoreV1().ConfigMaps(ns).Get(t.Context(), "stuck", metav1.GetOptions{})
	if gerr != nil || live.DeletionTimestamp == nil {
		t.Errorf("object should still exist, marked for deletion: %v, %v", live, gerr)
	}
}

func TestWait(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "wait")
	ref := engine.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "flag"}
	ready := func(obj *unstructured.Unstructured) (bool, string, error) {
		if obj == nil {
			return false, "ConfigMap does not exist yet", nil
		}
		v, _, _ := unstructured.NestedString(obj.Object, "data", "ready")
		return v == "yes", fmt.Sprintf("data.ready is %q", v), nil
	}

	// Met once someone else creates the object a second later.
	go func() {
		time.Sleep(time.Second)
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "flag", Namespace: ns}, Data: map[string]string{"ready": "yes"}}
		_, _ = cs.CoreV1().ConfigMaps(ns).Create(context.Background(), cm, metav1.CreateOptions{})
	}()
	start := time.Now()
	if err := e.Wait(testCtx(t, 20*time.Second), ref, ready); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("Wait returned after %s, before the object existed", d)
	}

	// Never met: the timeout names the object and the last reason.
	updateCM(t, cs, ns, "flag", "someone", func(c *corev1.ConfigMap) { c.Data["ready"] = "no" })
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	err := e.Wait(ctx, ref, ready)
	if err == nil || !strings.Contains(err.Error(), ref.String()) || !strings.Contains(err.Error(), `data.ready is "no"`) {
		t.Errorf("Wait timeout error = %v; want it to name %s and the reason", err, ref)
	}

	// Met when the object it watches changes (a Modified event).
	go func() {
		time.Sleep(500 * time.Millisecond)
		patch := []byte(`{"data":{"ready":"yes"}}`)
		_, _ = cs.CoreV1().ConfigMaps(ns).Patch(context.Background(), "flag", types.MergePatchType, patch, metav1.PatchOptions{})
	}()
	if err := e.Wait(testCtx(t, 20*time.Second), ref, ready); err != nil {
		t.Fatalf("Wait for a change: %v", err)
	}

	// A failing condition stops the wait at once with its error.
	boom := errors.New("boom")
	err = e.Wait(testCtx(t, 10*time.Second), ref, func(*unstructured.Unstructured) (bool, string, error) { return false, "", boom })
	if !errors.Is(err, boom) {
		t.Errorf("Wait with failing condition = %v, want boom", err)
	}
}

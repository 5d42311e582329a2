package engine_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// TestRefreshSnapshot: a refresh reads a kind with one LIST and gets what
// a GET returns, and it never serves a change made after a read: each
// object is handed out once, reads outside a refresh are live, and the
// next walk (a new engine) lists again.
func TestRefreshSnapshot(t *testing.T) {
	t.Parallel()
	cs, _ := stack.Kube(t)
	ns := namespace(t, "snap")
	ctx := testCtx(t, 90*time.Second)
	const label = "idpkit.io/snapshot-test"
	walk := func() *engine.Engine {
		opts := stack.EngineOptions(t)
		opts.ReadSelector = label + "=" + ns // this test's objects only
		return engine.New(opts)
	}
	writer := stack.Engine(t)

	var objs []*unstructured.Unstructured
	for i := range 3 {
		cm := configMap(ns, fmt.Sprintf("cfg-%d", i), map[string]any{"key": "ours"})
		cm.SetLabels(map[string]string{label: ns})
		objs = append(objs, cm)
	}
	unlabelled := configMap(ns, "plain", map[string]any{"key": "ours"})
	if _, err := writer.Apply(ctx, append(objs, unlabelled)...); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	e := walk()
	refresh := engine.ForRefresh(ctx)
	for _, o := range append(objs, unlabelled) {
		ref := engine.RefOf(o)
		got, err := e.Get(refresh, ref)
		if err != nil || got == nil {
			t.Fatalf("refresh read of %s: %v, %v", ref, got, err)
		}
		live, err := writer.Get(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Object, live.Object) {
			t.Errorf("refresh read of %s differs from a GET:\n%v\n%v", ref, got.Object, live.Object)
		}
	}
	if n := e.SnapshotLists(); n != 1 {
		t.Errorf("refresh reads of one kind made %d LISTs, want 1", n)
	}

	// In sync, then drift made after the first read of each object.
	st, _, err := e.DiffKnown(refresh, engine.Known{}, objs...)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		wantStatus(t, s, engine.InSync)
	}
	updateCM(t, cs, ns, "cfg-0", "kubectl-edit", func(c *corev1.ConfigMap) { c.Data["key"] = "hand-edited" })
	updateCM(t, cs, ns, "cfg-1", "kubectl-edit", func(c *corev1.ConfigMap) { delete(c.Labels, label) })
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "cfg-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check := func(what string, e *engine.Engine) {
		t.Helper()
		st, _, err := e.DiffKnown(refresh, engine.Known{}, objs...)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, st[0], engine.Drifted, "data.key")
		wantStatus(t, st[1], engine.Drifted, "metadata.labels")
		wantStatus(t, st[2], engine.Missing)
		if t.Failed() {
			t.Fatalf("%s: drift made after the snapshot not seen", what)
		}
	}
	check("same engine", e)
	check("next walk", walk())

	// Outside a refresh, reads are live even where a snapshot could answer.
	fresh := walk()
	if _, err := fresh.Get(refresh, engine.RefOf(unlabelled)); err != nil { // lists ConfigMaps
		t.Fatal(err)
	}
	updateCM(t, cs, ns, "cfg-0", "kubectl-edit", func(c *corev1.ConfigMap) { c.Data["key"] = "again" })
	got, err := fresh.Get(ctx, engine.RefOf(objs[0]))
	if err != nil || got == nil {
		t.Fatal(got, err)
	}
	if v, _, _ := unstructured.NestedString(got.Object, "data", "key"); v != "again" {
		t.Errorf("a read outside a refresh got %q from the snapshot, want the live %q", v, "again")
	}
}

// TestRefreshPrefetch: Prefetch lists each kind once, up front, and only
// in a refresh; the reads that follow are answered from those LISTs and
// get what a GET returns.
func TestRefreshPrefetch(t *testing.T) {
	t.Parallel()
	ns := namespace(t, "prefetch")
	ctx := testCtx(t, 90*time.Second)
	const label = "idpkit.io/prefetch-test"
	opts := stack.EngineOptions(t)
	opts.ReadSelector = label + "=" + ns
	e := engine.New(opts)
	writer := stack.Engine(t)

	objs := []*unstructured.Unstructured{
		configMap(ns, "cfg-0", map[string]any{"key": "a"}),
		configMap(ns, "cfg-1", map[string]any{"key": "b"}),
		{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "sa", "namespace": ns}}},
	}
	var refs []engine.Ref
	for _, o := range objs {
		o.SetLabels(map[string]string{label: ns})
		refs = append(refs, engine.RefOf(o))
	}
	if _, err := writer.Apply(ctx, objs...); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	e.Prefetch(ctx, refs...)
	if n := e.SnapshotLists(); n != 0 {
		t.Errorf("Prefetch outside a refresh listed %d kinds, want none", n)
	}
	refresh := engine.ForRefresh(ctx)
	e.Prefetch(refresh, refs...)
	if n := e.SnapshotLists(); n != 2 {
		t.Errorf("Prefetch of 2 kinds started %d LISTs, want 2", n)
	}
	for _, ref := range refs {
		got, err := e.Get(refresh, ref)
		if err != nil || got == nil {
			t.Fatalf("refresh read of %s: %v, %v", ref, got, err)
		}
		live, err := writer.Get(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.Object, live.Object) {
			t.Errorf("refresh read of %s differs from a GET:\n%v\n%v", ref, got.Object, live.Object)
		}
	}
	e.Prefetch(refresh, refs...)
	if n := e.SnapshotLists(); n != 2 {
		t.Errorf("reads and a second Prefetch after the first made %d LISTs in all, want 2", n)
	}
}

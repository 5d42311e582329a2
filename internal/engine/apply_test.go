package engine_test

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

func TestApplyCreatesThenUpdatesInPlace(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "apply")
	ctx := testCtx(t, 60*time.Second)

	out, err := e.Apply(ctx,
		configMap(ns, "cfg", map[string]any{"key": "v1", "old": "x"}),
		deployment(ns, "web", 2, "250m"))
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(out) != 2 {
		t.Fatalf("Apply returned %d objects, want 2", len(out))
	}

	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("live ConfigMap: %v", err)
	}
	if cm.Data["key"] != "v1" || cm.Data["old"] != "x" {
		t.Errorf("live ConfigMap data = %v, want key=v1 old=x", cm.Data)
	}
	if out[0].GetUID() != cm.UID {
		t.Errorf("Apply returned UID %s, live ConfigMap has %s", out[0].GetUID(), cm.UID)
	}
	if !owns(cm.ManagedFields, fieldManager, metav1.ManagedFieldsOperationApply, "f:data", "f:key") {
		t.Errorf("data.key is not owned by %s (Apply); managers: %v", fieldManager, managers(cm.ManagedFields))
	}
	if owns(cm.ManagedFields, fieldManager, metav1.ManagedFieldsOperationUpdate) {
		t.Errorf("%s also appears as an Update manager: %v", fieldManager, managers(cm.ManagedFields))
	}

	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("live Deployment: %v", err)
	}
	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("live replicas = %v, want 2", dep.Spec.Replicas)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if c.Image != "registry.invalid/app:1" || c.Resources.Requests.Cpu().String() != "250m" {
		t.Errorf("live container = image %q cpu %s, want registry.invalid/app:1 250m", c.Image, c.Resources.Requests.Cpu())
	}
	if !owns(dep.ManagedFields, fieldManager, metav1.ManagedFieldsOperationApply, "f:spec", "f:replicas") {
		t.Errorf("spec.replicas is not owned by %s (Apply); managers: %v", fieldManager, managers(dep.ManagedFields))
	}

	// Changed values update the same objects; a key we stop setting is
	// removed (server-side apply semantics, not a merge).
	if _, err := e.Apply(ctx,
		configMap(ns, "cfg", map[string]any{"key": "v2"}),
		deployment(ns, "web", 3, "250m")); err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	cm2, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "cfg", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("live ConfigMap after update: %v", err)
	}
	if cm2.UID != cm.UID {
		t.Errorf("ConfigMap was recreated: UID %s -> %s", cm.UID, cm2.UID)
	}
	if cm2.Data["key"] != "v2" {
		t.Errorf("live data.key = %q, want v2", cm2.Data["key"])
	}
	if _, ok := cm2.Data["old"]; ok {
		t.Errorf("data.old is still there after we stopped setting it: %v", cm2.Data)
	}
	dep2, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("live Deployment after update: %v", err)
	}
	if dep2.UID != dep.UID {
		t.Errorf("Deployment was recreated: UID %s -> %s", dep.UID, dep2.UID)
	}
	if *dep2.Spec.Replicas != 3 {
		t.Errorf("live replicas = %d, want 3", *dep2.Spec.Replicas)
	}
}

func TestGetAndList(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	_, dyn := stack.Kube(t)
	ns := namespace(t, "list")
	ctx := testCtx(t, 30*time.Second)

	var objs []*unstructured.Unstructured
	for _, n := range []string{"a", "b", "c"} {
		o := configMap(ns, n, map[string]any{"k": n})
		if n != "c" {
			o.SetLabels(map[string]string{"sel": "yes"})
		}
		objs = append(objs, o)
	}
	if _, err := e.Apply(ctx, objs...); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	got, err := e.Get(ctx, engine.RefOf(objs[1]))
	if err != nil || got == nil {
		t.Fatalf("Get(b) = %v, %v; want the object", got, err)
	}
	live, err := dyn.Resource(cmGVR).Namespace(ns).Get(ctx, "b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetUID() != live.GetUID() {
		t.Errorf("Get returned UID %s, live is %s", got.GetUID(), live.GetUID())
	}
	if got, err := e.Get(ctx, engine.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "absent"}); got != nil || err != nil {
		t.Errorf("Get(absent) = %v, %v; want nil, nil", got, err)
	}

	items, err := e.List(ctx, "v1", "ConfigMap", ns, "sel=yes")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var names []string
	for _, it := range items {
		names = append(names, it.GetName())
	}
	if len(names) != 2 || names[0] != "a" || names[1] != "b" {
		t.Errorf("List(sel=yes) = %v, want [a b]", names)
	}

	start := time.Now()
	items, err = e.List(ctx, "test.idpkit.io/v1", "NotServed"+suffix(), ns, "")
	if err != nil || items != nil {
		t.Errorf("List of a kind not served = %v, %v; want nil, nil", items, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("List of a kind not served took %s; it must not wait for the kind", d)
	}
}

package engine_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

const csaManager = "kubectl-client-side-apply"

// TestApplyTakesOverSharedFields: fields another manager set to the values
// we apply are ours alone after the first apply, so that they go when we
// stop setting them. Diff reports the shared ownership until then. What
// only the others set stays theirs, except kubectl's last-applied
// annotation, which goes.
func TestApplyTakesOverSharedFields(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, dyn := stack.Kube(t)
	ns := namespace(t, "takeover")
	ctx := testCtx(t, 60*time.Second)
	data := map[string]string{"a": "1", "b": "2"}

	// helm: create (an Update); argocd-controller: server-side apply, not forced.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "helm", Labels: map[string]string{"helm.sh/chart": "x-1"}}, Data: data,
	}, metav1.CreateOptions{FieldManager: "helm"}); err != nil {
		t.Fatal(err)
	}
	argo := configMap(ns, "argo", map[string]any{"a": "1", "b": "2"})
	argo.SetLabels(map[string]string{"helm.sh/chart": "x-1"})
	body, _ := json.Marshal(argo.Object)
	force := false
	if _, err := dyn.Resource(cmGVR).Namespace(ns).Patch(ctx, "argo", types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: "argocd-controller", Force: &force}); err != nil {
		t.Fatal(err)
	}
	// kubectl apply: create (an Update) with the manifest in an annotation.
	kubectl := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubectl", Namespace: ns, Labels: map[string]string{"helm.sh/chart": "x-1"}},
		Data:       map[string]string{"a": "1", "b": "2", "old": "only-in-the-manifest"},
	}
	last, _ := json.Marshal(kubectl)
	kubectl.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: string(last)}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, kubectl, metav1.CreateOptions{FieldManager: csaManager}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ name, other string }{{"helm", "helm"}, {"argo", "argocd-controller"}, {"kubectl", csaManager}} {
		ours := configMap(ns, c.name, map[string]any{"a": "1", "b": "2"})
		st := diffOne(t, ctx, e, ours)
		if c.other == csaManager {
			wantStatus(t, st, engine.Drifted, "metadata.annotations."+corev1.LastAppliedConfigAnnotation, "ownership shared with "+c.other)
		} else {
			wantStatus(t, st, engine.Drifted, "ownership shared with "+c.other)
		}

		if _, err := e.Apply(ctx, ours); err != nil {
			t.Fatalf("%s: Apply: %v", c.name, err)
		}
		live, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, c.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if owns(live.ManagedFields, c.other, "", "f:data", "f:a") {
			t.Errorf("%s: %s still co-owns data.a; managers %v", c.name, c.other, managers(live.ManagedFields))
		}
		wantStatus(t, diffOne(t, ctx, e, ours), engine.InSync)
		if _, annotated := live.Annotations[corev1.LastAppliedConfigAnnotation]; annotated {
			t.Errorf("%s: kubectl's last-applied annotation stayed", c.name)
		}
		if live.Labels["helm.sh/chart"] != "x-1" || !owns(live.ManagedFields, c.other, "", "f:metadata", "f:labels", "f:helm.sh/chart") {
			t.Errorf("%s: %s lost its own label; labels %v, managers %v", c.name, c.other, live.Labels, managers(live.ManagedFields))
		}
		if c.other == csaManager && live.Data["old"] != "only-in-the-manifest" {
			t.Errorf("%s: data.old, set by kubectl only, was removed", c.name)
		}

		// Now we stop setting b: it goes.
		if _, err := e.Apply(ctx, configMap(ns, c.name, map[string]any{"a": "1"})); err != nil {
			t.Fatalf("%s: Apply without b: %v", c.name, err)
		}
		live, err = cs.CoreV1().ConfigMaps(ns).Get(ctx, c.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := live.Data["b"]; ok || live.Data["a"] != "1" {
			t.Errorf("%s: data %v after we stopped setting b, want a (and kubectl's own)", c.name, live.Data)
		}
	}
}

// TestApplyAdoptionKeepsPodTemplate: adopting a Deployment that kubectl
// created, with a pod label we do not set, changes nothing in its pod
// template (no rollout) and leaves the label to kubectl.
func TestApplyAdoptionKeepsPodTemplate(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	_, dyn := stack.Kube(t)
	ns := namespace(t, "template")
	ctx := testCtx(t, 60*time.Second)
	old := deployment(ns, "web", 1, "100m").DeepCopy() // selector and pod labels: no longer one map
	if err := unstructured.SetNestedField(old.Object, "v1", "spec", "template", "metadata", "labels", "version"); err != nil {
		t.Fatal(err)
	}
	last, _ := json.Marshal(old.Object)
	old.SetAnnotations(map[string]string{corev1.LastAppliedConfigAnnotation: string(last)})
	created, err := dyn.Resource(depGVR).Namespace(ns).Create(ctx, old, metav1.CreateOptions{FieldManager: csaManager})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, deployment(ns, "web", 1, "100m")); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	live, err := dyn.Resource(depGVR).Namespace(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// (The generation does change: a Deployment's annotations count.)
	if a, b := fmt.Sprint(created.Object["spec"]), fmt.Sprint(live.Object["spec"]); a != b {
		t.Errorf("adoption changed the spec:\n%s\n%s", a, b)
	}
	if v, _, _ := unstructured.NestedString(live.Object, "spec", "template", "metadata", "labels", "version"); v != "v1" {
		t.Errorf("pod label version = %q, want v1 kept", v)
	}
	if _, annotated := live.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; annotated {
		t.Errorf("kubectl's last-applied annotation stayed")
	}
	wantStatus(t, diffOne(t, ctx, e, deployment(ns, "web", 1, "100m")), engine.InSync)
}

package engine_test

import (
	"encoding/json"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// TestApplyAdoptsObjectsOfOtherManagers: objects created by Helm (Update)
// and ArgoCD (server-side apply) with conflicting values are taken over in
// place; fields only the other manager set survive.
func TestApplyAdoptsObjectsOfOtherManagers(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, dyn := stack.Kube(t)
	ns := namespace(t, "adopt")
	ctx := testCtx(t, 60*time.Second)

	helm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "from-helm", Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"}},
		Data:       map[string]string{"shared": "helm-value", "helm-only": "kept"},
	}
	helmLive, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, helm, metav1.CreateOptions{FieldManager: "helm"})
	if err != nil {
		t.Fatalf("creating as helm: %v", err)
	}

	argoBody, _ := json.Marshal(configMap(ns, "from-argo", map[string]any{"shared": "argo-value", "argo-only": "kept"}).Object)
	force := false
	argoLive, err := dyn.Resource(cmGVR).Namespace(ns).Patch(ctx, "from-argo", types.ApplyPatchType, argoBody,
		metav1.PatchOptions{FieldManager: "argocd-controller", Force: &force})
	if err != nil {
		t.Fatalf("applying as argocd-controller: %v", err)
	}

	for _, c := range []struct {
		name, other, otherOnly string
		uid                    types.UID
	}{
		{"from-helm", "helm", "helm-only", helmLive.UID},
		{"from-argo", "argocd-controller", "argo-only", argoLive.GetUID()},
	} {
		ours := configMap(ns, c.name, map[string]any{"shared": "ours"})
		if _, err := e.Apply(ctx, ours); err != nil {
			t.Fatalf("Apply over %s's object: %v", c.other, err)
		}
		live, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, c.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if live.UID != c.uid {
			t.Errorf("%s: object was recreated (UID %s -> %s)", c.name, c.uid, live.UID)
		}
		if live.Data["shared"] != "ours" {
			t.Errorf("%s: data.shared = %q, want ours", c.name, live.Data["shared"])
		}
		if live.Data[c.otherOnly] != "kept" {
			t.Errorf("%s: data.%s = %q, want kept (only %s set it)", c.name, c.otherOnly, live.Data[c.otherOnly], c.other)
		}
		if !owns(live.ManagedFields, fieldManager, metav1.ManagedFieldsOperationApply, "f:data", "f:shared") {
			t.Errorf("%s: data.shared not owned by us; managers %v", c.name, managers(live.ManagedFields))
		}
		if owns(live.ManagedFields, c.other, "", "f:data", "f:shared") {
			t.Errorf("%s: %s still owns data.shared", c.name, c.other)
		}
		if !owns(live.ManagedFields, c.other, "", "f:data", "f:"+c.otherOnly) {
			t.Errorf("%s: %s lost data.%s; managers %v", c.name, c.other, c.otherOnly, managers(live.ManagedFields))
		}
		wantStatus(t, diffOne(t, ctx, e, ours), engine.InSync)
	}

	// Labels: ours are added next to Helm's, and OwnedEntries tells them apart
	// on the live object.
	ours := configMap(ns, "from-helm", map[string]any{"shared": "ours"})
	ours.SetLabels(map[string]string{"owner": "us"})
	if _, err := e.Apply(ctx, ours); err != nil {
		t.Fatalf("Apply with labels: %v", err)
	}
	live, err := dyn.Resource(cmGVR).Namespace(ns).Get(ctx, "from-helm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := live.GetLabels(); l["app.kubernetes.io/managed-by"] != "Helm" || l["owner"] != "us" {
		t.Errorf("live labels = %v, want Helm's and ours", l)
	}
	if got := engine.OwnedEntries(live, "metadata", "labels"); len(got) != 1 || got["owner"] != "us" {
		t.Errorf("OwnedEntries(labels) = %v, want map[owner:us]", got)
	}
}

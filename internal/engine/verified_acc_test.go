package engine_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// TestDiffKnownBetweenRefreshes: refreshes that skip the dry run for objects
// checked before (in this process, or in an earlier one through the
// resource's records) still see every drift made between two refreshes of
// one process, and never record a drifted object as checked.
func TestDiffKnownBetweenRefreshes(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "known")
	ctx := testCtx(t, 90*time.Second)

	cm := configMap(ns, "cfg", map[string]any{"key": "ours"})
	cm.SetLabels(map[string]string{"app": "web"})
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "creds", "namespace": ns,
			"annotations": map[string]any{"idpkit.io/vault-version": "1"}},
		"data": map[string]any{"password": "b25l"}, // "one"
	}}
	dep := deployment(ns, "web", 1, "0.5")
	objs := []*unstructured.Unstructured{cm, secret, dep}
	if _, err := e.Apply(ctx, objs...); err != nil {
		t.Fatalf("Apply: %v", err)
	}

	refresh := func(e *engine.Engine, known engine.Verified, objs ...*unstructured.Unstructured) ([]engine.Status, engine.Verified, int64) {
		t.Helper()
		before := e.DryRuns()
		st, v, err := e.DiffKnown(ctx, engine.Known{Verified: known}, objs...)
		if err != nil {
			t.Fatalf("DiffKnown: %v", err)
		}
		return st, v, e.DryRuns() - before
	}

	// Right after our apply, this process knows all three are in sync:
	// no dry run (the deployment controller's status and revision writes
	// are the status subresource's).
	st, records, dry := refresh(e, nil, objs...)
	for _, s := range st {
		wantStatus(t, s, engine.InSync)
	}
	if dry != 0 || len(records) != 3 {
		t.Errorf("first refresh after apply: %d dry runs and %d records, want 0 and 3", dry, len(records))
	}
	// Another process (a later tofu run) with the records: still none.
	other := stack.Engine(t)
	for _, o := range objs {
		if st, v, dry := refresh(other, records, o); dry != 0 || st[0].State != engine.InSync {
			t.Errorf("refresh of a new process with the records: %d dry runs (%v), want 0; %v vs %v", dry, st, v, records)
		}
	}
	// A field only another manager owns changes nothing, and needs no dry run.
	updateCM(t, cs, ns, "cfg", "kubectl-edit", func(c *corev1.ConfigMap) { c.Data["extra"] = "theirs" })
	if st, _, dry := refresh(e, records, cm); dry != 0 || st[0].State != engine.InSync {
		t.Errorf("after another manager's own field: %v with %d dry runs, want in sync with 0", st, dry)
	}

	// Drift made between two refreshes of this process: a value we own,
	// a label we own removed, a Secret value, a Deployment field.
	updateCM(t, cs, ns, "cfg", "kubectl-edit", func(c *corev1.ConfigMap) {
		c.Data["key"] = "hand-edited"
		delete(c.Labels, "app")
	})
	updateSecret(t, cs, ns, "creds", func(s *corev1.Secret) { s.Data["password"] = []byte("hand-edited") })
	updateDeployment(t, cs, ns, "web", "kubectl-edit", func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(3)) })
	for range 2 { // and again: a drifted object is never recorded as checked
		st, got, _ := refresh(e, records, objs...)
		wantStatus(t, st[0], engine.Drifted, "data.key", "metadata.labels")
		wantStatus(t, st[1], engine.Drifted, "data.password")
		wantStatus(t, st[2], engine.Drifted, "spec.replicas")
		if len(got) != 0 {
			t.Errorf("drifted objects recorded as checked: %v", got)
		}
	}

	// Apply heals; a new Vault version (a new desired object) is drift
	// although the live Secret did not change.
	if _, err := e.Apply(ctx, objs...); err != nil {
		t.Fatalf("healing Apply: %v", err)
	}
	st, records, _ = refresh(e, records, objs...)
	for _, s := range st {
		wantStatus(t, s, engine.InSync)
	}
	rotated := secret.DeepCopy()
	rotated.SetAnnotations(map[string]string{"idpkit.io/vault-version": "2"})
	rotated.Object["data"] = map[string]any{"password": "dHdv"} // "two"
	st, _, _ = refresh(e, records, rotated)
	wantStatus(t, st[0], engine.Drifted, "data.password", "metadata.annotations.idpkit.io/vault-version")
	// The same version with another value (what Vault would never serve,
	// but a render change could) is drift too: values are compared in memory.
	sameVersion := secret.DeepCopy()
	sameVersion.Object["data"] = map[string]any{"password": "dHdv"}
	st, _, _ = refresh(e, records, sameVersion)
	wantStatus(t, st[0], engine.Drifted, "data.password")

	// A deleted object is missing, and a re-created one (new uid, another
	// manager's) is not taken for the one we checked.
	if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, "cfg", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	st, _, _ = refresh(e, records, cm)
	wantStatus(t, st[0], engine.Missing)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: ns, Labels: map[string]string{"app": "web"}},
		Data:       map[string]string{"key": "ours"},
	}, metav1.CreateOptions{FieldManager: "helm"}); err != nil {
		t.Fatal(err)
	}
	st, _, _ = refresh(e, records, cm)
	wantStatus(t, st[0], engine.Drifted, "ownership shared with helm")
}

func updateSecret(t *testing.T, cs kubeClient, ns, name string, edit func(*corev1.Secret)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit(s)
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
}

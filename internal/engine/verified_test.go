package engine

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Unit tests of the checks that let Diff skip a dry run (verified.go): what
// must change a digest, and what must not. No stack.

func entry(manager string, op metav1.ManagedFieldsOperationType, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{
		Manager: manager, Operation: op, Subresource: subresource, APIVersion: "argoproj.io/v1alpha1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)},
	}
}

// liveEventSource is an EventSource as we applied it, then as Argo Events
// wrote its finalizer, spec fields and status into it.
func liveEventSource(edit func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry)) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "EventSource",
		"metadata": map[string]any{
			"name": "p-a-github-eventsource", "namespace": "p", "uid": "u1",
			"resourceVersion": "10", "generation": int64(2),
			"labels":     map[string]any{"app.kubernetes.io/managed-by": "terraform-provider-idp"},
			"finalizers": []any{"eventsource-controller"},
		},
		"spec": map[string]any{
			"eventBusName": "p-ci-eventbus",
			"github": map[string]any{"t": map[string]any{
				"active": true, "owner": "theirs", "id": int64(7),
			}},
		},
		"status": map[string]any{"conditions": []any{map[string]any{"type": "Deployed"}}},
	}}
	mf := []metav1.ManagedFieldsEntry{
		entry(FieldManager, metav1.ManagedFieldsOperationApply, "",
			`{"f:metadata":{"f:labels":{"f:app.kubernetes.io/managed-by":{}}},"f:spec":{"f:eventBusName":{},"f:github":{".":{},"f:t":{".":{},"f:active":{}}}}}`),
		entry("argo-events", metav1.ManagedFieldsOperationUpdate, "",
			`{"f:metadata":{"f:finalizers":{".":{},"v:\"eventsource-controller\"":{}}},"f:spec":{"f:github":{"f:t":{"f:id":{},"f:owner":{}}}}}`),
		entry("argo-events", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{".":{},"f:conditions":{}}}`),
	}
	if edit != nil {
		edit(o, &mf)
	}
	o.SetManagedFields(mf)
	return o
}

func TestLiveDigest(t *testing.T) {
	base := liveDigest(liveEventSource(nil))
	// As we left it, before the controller wrote anything.
	ours := liveDigest(liveEventSource(func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
		md := o.Object["metadata"].(map[string]any)
		delete(md, "finalizers")
		delete(o.Object["spec"].(map[string]any)["github"].(map[string]any)["t"].(map[string]any), "owner")
		delete(o.Object["spec"].(map[string]any)["github"].(map[string]any)["t"].(map[string]any), "id")
		delete(o.Object, "status")
		*mf = (*mf)[:1]
	}))
	if ours != base {
		t.Errorf("fields only another manager owns (finalizer, spec fields, status) changed the digest")
	}
	for _, c := range []struct {
		name string
		edit func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry)
		same bool
	}{
		{"resourceVersion, generation and status", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			o.SetResourceVersion("99")
			o.SetGeneration(5)
			o.Object["status"] = map[string]any{"conditions": []any{}}
			(*mf)[2].Time = &metav1.Time{}
		}, true},
		{"another manager's own field", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			o.Object["spec"].(map[string]any)["github"].(map[string]any)["t"].(map[string]any)["id"] = int64(8)
			(*mf)[1].Time = &metav1.Time{}
		}, true},
		{"a value we own", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			o.Object["spec"].(map[string]any)["eventBusName"] = "other"
		}, false},
		{"a label we own removed", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			o.SetLabels(nil)
			(*mf)[0].FieldsV1.Raw = []byte(`{"f:spec":{"f:eventBusName":{},"f:github":{".":{},"f:t":{".":{},"f:active":{}}}}}`)
		}, false},
		{"a field of ours taken by another manager", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			(*mf)[0].FieldsV1.Raw = []byte(`{"f:metadata":{"f:labels":{"f:app.kubernetes.io/managed-by":{}}},"f:spec":{"f:github":{".":{},"f:t":{".":{},"f:active":{}}}}}`)
			(*mf)[1].FieldsV1.Raw = []byte(`{"f:metadata":{"f:finalizers":{".":{},"v:\"eventsource-controller\"":{}}},"f:spec":{"f:eventBusName":{},"f:github":{"f:t":{"f:id":{},"f:owner":{}}}}}`)
		}, false},
		{"ownership shared", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			*mf = append(*mf, entry("helm", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:eventBusName":{}}}`))
		}, false},
		{"kubectl's last-applied annotation", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			o.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"})
			*mf = append(*mf, entry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "",
				`{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}}}}`))
		}, false},
		{"recreated (new uid)", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			o.SetUID("u2")
		}, false},
		{"being deleted", func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
			o.SetDeletionTimestamp(&metav1.Time{})
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			obj := liveEventSource(c.edit)
			before := obj.DeepCopy()
			if got := liveDigest(obj) == base; got != c.same {
				t.Errorf("digest unchanged = %v, want %v", got, c.same)
			}
			if !equalObjects(before, obj) {
				t.Errorf("liveDigest changed the live object")
			}
		})
	}
}

func equalObjects(a, b *unstructured.Unstructured) bool {
	return digest(a.Object) == digest(b.Object)
}

func TestSecretChecksNeverEncodeValues(t *testing.T) {
	secret := func(v string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "s", "namespace": "p", "annotations": map[string]any{"idpkit.io/vault-version": "3"}},
			"data":     map[string]any{"password": v},
		}}
	}
	a, b := secret("c2VjcmV0LWE="), secret("c2VjcmV0LWI=")
	if desiredDigest(a) != desiredDigest(b) || liveDigest(a) != liveDigest(b) {
		t.Errorf("digests depend on Secret values: they would encode them")
	}
	if c := checkOf(a, a); strings.Contains(c.Live+c.Desired, "c2VjcmV0") {
		t.Errorf("check %+v holds the value", c)
	}
	// Values are compared in memory instead.
	if !sameSecretData(a, a) || sameSecretData(b, a) {
		t.Errorf("sameSecretData does not tell the values apart")
	}
	// A new key, or a new Vault version, is a new desired object.
	c := secret("c2VjcmV0LWE=")
	c.Object["data"].(map[string]any)["user"] = "dQ=="
	d := secret("c2VjcmV0LWE=")
	d.SetAnnotations(map[string]string{"idpkit.io/vault-version": "4"})
	if desiredDigest(c) == desiredDigest(a) || desiredDigest(d) == desiredDigest(a) {
		t.Errorf("a new key or Vault version left the desired digest as it was")
	}
}

// The local work of a refresh per object: digests of the desired and the
// live object (a skipped dry run costs only this), and, when a dry run is
// made, the comparison of its result with the live object.
// go test -bench Drift ./internal/engine
func BenchmarkDriftCheck(b *testing.B) {
	live := liveEventSource(nil)
	desired := liveEventSource(func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) { *mf = nil })
	b.ReportAllocs()
	for b.Loop() {
		if checkOf(desired, live).Live == "" {
			b.Fatal("no digest")
		}
	}
}

func BenchmarkDriftCompare(b *testing.B) {
	live := liveEventSource(nil)
	applied := liveEventSource(func(o *unstructured.Unstructured, mf *[]metav1.ManagedFieldsEntry) {
		o.Object["spec"].(map[string]any)["eventBusName"] = "other"
	})
	b.ReportAllocs()
	for b.Loop() {
		if f := diffPaths("", comparable(live.Object), comparable(applied.Object)); len(f) != 1 {
			b.Fatalf("fields %v", f)
		}
		_ = takeOverFields(applied)
	}
}

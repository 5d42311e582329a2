package engine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Unit tests that need no stack.

func TestDiffPaths(t *testing.T) {
	obj := func() map[string]any {
		return map[string]any{
			"data": map[string]any{"a": "1", "b": "2"},
			"spec": map[string]any{
				"replicas":   int64(1),
				"containers": []any{map[string]any{"name": "app", "image": "x:1"}, map[string]any{"name": "side"}},
				"args":       []any{"--a", "--b"},
			},
		}
	}
	for _, c := range []struct {
		name string
		edit func(m map[string]any)
		want []string
	}{
		{"equal", func(map[string]any) {}, nil},
		{"leaf changed", func(m map[string]any) { m["data"].(map[string]any)["a"] = "x" }, []string{"data.a"}},
		{"key added", func(m map[string]any) { m["data"].(map[string]any)["c"] = "3" }, []string{"data.c"}},
		{"key removed", func(m map[string]any) { delete(m["data"].(map[string]any), "b") }, []string{"data.b"}},
		{"list element field", func(m map[string]any) {
			m["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"] = "x:2"
		}, []string{"spec.containers[0].image"}},
		{"list length", func(m map[string]any) {
			m["spec"].(map[string]any)["args"] = []any{"--a"}
		}, []string{"spec.args"}},
		{"type changed", func(m map[string]any) { m["data"] = "oops" }, []string{"data"}},
		{"several, sorted", func(m map[string]any) {
			m["spec"].(map[string]any)["replicas"] = int64(2)
			m["data"].(map[string]any)["b"] = "x"
			m["data"].(map[string]any)["a"] = "x"
		}, []string{"data.a", "data.b", "spec.replicas"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := obj()
			c.edit(b)
			// Repeated: map iteration order is random, the output must not be.
			for range 10 {
				if got := diffPaths("", obj(), b); !slices.Equal(got, c.want) {
					t.Fatalf("diffPaths = %q, want %q", got, c.want)
				}
				if got := diffPaths("", b, obj()); !slices.Equal(got, c.want) {
					t.Fatalf("diffPaths (swapped) = %q, want %q", got, c.want)
				}
			}
		})
	}
}

func TestComparableIgnoresVolatileFieldsWithoutMutating(t *testing.T) {
	live := map[string]any{
		"status": map[string]any{"replicas": int64(1)},
		"metadata": map[string]any{
			"name": "x", "resourceVersion": "1", "generation": int64(1),
			"managedFields": []any{"m"}, "labels": map[string]any{"a": "b"},
		},
		"spec": map[string]any{"replicas": int64(1)},
	}
	other := map[string]any{
		"status": map[string]any{"replicas": int64(3)},
		"metadata": map[string]any{
			"name": "x", "resourceVersion": "7", "generation": int64(2),
			"managedFields": []any{"n"}, "labels": map[string]any{"a": "b"},
		},
		"spec": map[string]any{"replicas": int64(1)},
	}
	if got := diffPaths("", comparable(live), comparable(other)); got != nil {
		t.Errorf("volatile fields count as drift: %q", got)
	}
	other["metadata"].(map[string]any)["labels"] = map[string]any{"a": "c"}
	if got := diffPaths("", comparable(live), comparable(other)); !slices.Equal(got, []string{"metadata.labels.a"}) {
		t.Errorf("label change = %q, want metadata.labels.a", got)
	}
	if _, ok := live["status"]; !ok {
		t.Error("comparable removed status from its argument")
	}
	if _, ok := live["metadata"].(map[string]any)["managedFields"]; !ok {
		t.Error("comparable removed managedFields from its argument")
	}
}

func TestStatusString(t *testing.T) {
	for _, c := range []struct {
		st   Status
		want string
	}{
		{Status{State: InSync}, "in sync"},
		{Status{State: Missing}, "missing"},
		{Status{State: Drifted, Fields: []string{"data.key", "spec.replicas"}}, "drifted: data.key, spec.replicas"},
	} {
		if got := c.st.String(); got != c.want {
			t.Errorf("%v.String() = %q, want %q", c.st.State, got, c.want)
		}
	}
}

func TestValuesRedact(t *testing.T) {
	v := Values{"password": "hunter2"}
	s := &Secret{Values: v, Version: 3}
	out := fmt.Sprintf("%v %+v %#v %s %q %x %d %v %+v %#v %d", v, v, v, v, v, v, v, s, s, *s, *s)
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	out += " " + string(js)
	if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", "hunter2")) {
		t.Errorf("formatted Values leak the secret: %s", out)
	}
	if !strings.Contains(out, "<1 redacted values>") {
		t.Errorf("formatted Values = %s, want the redaction", out)
	}
}

func TestMissingKindErrorMessage(t *testing.T) {
	gvk := schema.GroupVersionKind{Group: "test.idpkit.io", Version: "v1", Kind: "Widget"}
	now := (&MissingKindError{GVK: gvk}).Error()
	if !strings.Contains(now, "Widget (test.idpkit.io/v1)") || strings.Contains(now, "waiting") {
		t.Errorf("unwaited message = %q", now)
	}
	waited := (&MissingKindError{GVK: gvk, Waited: 3200 * time.Millisecond}).Error()
	if !strings.Contains(waited, "Widget") || !strings.Contains(waited, "after waiting 3s") || !strings.Contains(waited, "CustomResourceDefinition") {
		t.Errorf("waited message = %q", waited)
	}
}

func TestRefString(t *testing.T) {
	if got := (Ref{Kind: "ConfigMap", Namespace: "ns", Name: "a"}).String(); got != "ConfigMap/ns/a" {
		t.Errorf("namespaced Ref = %q", got)
	}
	if got := (Ref{Kind: "Namespace", Name: "a"}).String(); got != "Namespace/a" {
		t.Errorf("cluster Ref = %q", got)
	}
}

func TestOwnedEntries(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{
			"labels": map[string]any{"ours": "1", "theirs": "2", "gone-from-live": "x"},
		},
	}}
	delete(obj.Object["metadata"].(map[string]any)["labels"].(map[string]any), "gone-from-live")
	obj.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:ours":{},"f:gone-from-live":{}}}}`)}},
		{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:theirs":{}}}}`)}},
		{Manager: FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, FieldsType: "FieldsV1",
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{"f:labels":{"f:theirs":{}}}}`)}},
	})
	got := OwnedEntries(obj, "metadata", "labels")
	if len(got) != 1 || got["ours"] != "1" {
		t.Errorf("OwnedEntries = %v, want map[ours:1]", got)
	}
	if got := OwnedEntries(obj, "metadata", "annotations"); got != nil {
		t.Errorf("OwnedEntries of a map we do not own = %v, want nil", got)
	}
}

func TestMarked(t *testing.T) {
	labels := []string{"app.kubernetes.io/managed-by=terraform-provider-idp", "idpkit.io/owner"}
	for _, c := range []struct {
		name     string
		labels   map[string]string
		managers []string
		want     bool
	}{
		{"nothing of ours", map[string]string{"app": "web"}, []string{"kubectl-create", "helm"}, false},
		{"managed-by another tool", map[string]string{"app.kubernetes.io/managed-by": "Helm"}, []string{"helm"}, false},
		{"a manager named like ours", nil, []string{"terraform-provider-idpx"}, false},
		{"our managed-by label", map[string]string{"app.kubernetes.io/managed-by": "terraform-provider-idp"}, nil, true},
		{"the owner label, any value", map[string]string{"idpkit.io/owner": "database.orders"}, nil, true},
		{"our field manager", nil, []string{"kubectl", FieldManager}, true},
		{"our restart manager", nil, []string{RestartFieldManager}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{Object: map[string]any{}}
			obj.SetLabels(c.labels)
			var mfs []metav1.ManagedFieldsEntry
			for _, m := range c.managers {
				mfs = append(mfs, metav1.ManagedFieldsEntry{Manager: m, Operation: metav1.ManagedFieldsOperationApply})
			}
			obj.SetManagedFields(mfs)
			if got := marked(obj, labels); got != c.want {
				t.Errorf("marked = %v, want %v", got, c.want)
			}
		})
	}
}

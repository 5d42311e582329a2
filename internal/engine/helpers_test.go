package engine_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Helpers shared by the acceptance tests of this package. Every test gets its
// own namespace (random suffix), removed in t.Cleanup, and asserts on live
// objects read with stack.Kube, never only on what the engine returns.

// fieldManager is spelled out, not taken from engine.FieldManager, so that
// renaming the manager (which would orphan every object users already have)
// fails the tests.
const fieldManager = "terraform-provider-idp"

var depGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

type kubeClient = *kubernetes.Clientset

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// suffix is a random lowercase DNS-safe suffix.
func suffix() string { return strings.ToLower(rand.Text()[:6]) }

// testCtx is a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// namespace creates a namespace for t and deletes it when t ends.
func namespace(t *testing.T, prefix string) string {
	t.Helper()
	cs, _ := stack.Kube(t)
	name := "engine-" + prefix + "-" + suffix()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := cs.CoreV1().Namespaces().Create(testCtx(t, 30*time.Second), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

func configMap(ns, name string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"data":       data,
	}}
}

// deployment renders a Deployment whose container requests cpu exactly as
// given, so tests can pass non-canonical quantities such as "0.5".
func deployment(ns, name string, replicas int64, cpu string) *unstructured.Unstructured {
	labels := map[string]any{"app": name}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1",
		"kind":       "Deployment",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{
					"containers": []any{map[string]any{
						"name":  "app",
						"image": "registry.invalid/app:1",
						"resources": map[string]any{
							"requests": map[string]any{"cpu": cpu, "memory": "64Mi"},
						},
					}},
				},
			},
		},
	}}
}

// owns reports whether manager (with operation op, if not empty) owns the
// field at path (fieldsV1 keys such as "f:data", "f:key") of an object.
func owns(mf []metav1.ManagedFieldsEntry, manager string, op metav1.ManagedFieldsOperationType, path ...string) bool {
	for _, m := range mf {
		if m.Manager != manager || (op != "" && m.Operation != op) || m.FieldsV1 == nil {
			continue
		}
		var node any
		if json.Unmarshal(m.FieldsV1.Raw, &node) != nil {
			continue
		}
		found := true
		for _, p := range path {
			nm, ok := node.(map[string]any)
			if !ok {
				found = false
				break
			}
			if node, ok = nm[p]; !ok {
				found = false
				break
			}
		}
		if found {
			return true
		}
	}
	return false
}

func managers(mf []metav1.ManagedFieldsEntry) []string {
	var out []string
	for _, m := range mf {
		out = append(out, m.Manager+"/"+string(m.Operation))
	}
	return out
}

// diffOne runs Diff for one object and returns its status.
func diffOne(t *testing.T, ctx context.Context, e *engine.Engine, obj *unstructured.Unstructured) engine.Status {
	t.Helper()
	st, err := e.Diff(ctx, obj)
	if err != nil {
		t.Fatalf("Diff(%s): %v", engine.RefOf(obj), err)
	}
	if len(st) != 1 {
		t.Fatalf("Diff(%s) returned %d statuses, want 1", engine.RefOf(obj), len(st))
	}
	if st[0].Ref != engine.RefOf(obj) {
		t.Fatalf("Diff status is for %s, want %s", st[0].Ref, engine.RefOf(obj))
	}
	return st[0]
}

func wantStatus(t *testing.T, got engine.Status, state engine.State, fields ...string) {
	t.Helper()
	if got.State != state || !slices.Equal(got.Fields, fields) {
		t.Errorf("%s: got %q (state %d, fields %q), want state %d with fields %q",
			got.Ref, got.String(), got.State, got.Fields, state, fields)
	}
}

// eventually polls cond every 200ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s (last error: %v)", d, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

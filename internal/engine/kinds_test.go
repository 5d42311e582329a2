package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

const widgetGroup = "test.idpkit.io"

// widgetKind is a custom kind unique to one test: its own Kind and plural,
// so parallel tests never share a CustomResourceDefinition.
type widgetKind struct{ kind, plural string }

func newWidgetKind() widgetKind {
	s := suffix()
	return widgetKind{kind: "Widget" + strings.ToUpper(s[:1]) + s[1:], plural: "widgets" + s}
}

func (w widgetKind) gvr() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: widgetGroup, Version: "v1", Resource: w.plural}
}

func (w widgetKind) crd() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": w.plural + "." + widgetGroup},
		"spec": map[string]any{
			"group": widgetGroup,
			"scope": "Namespaced",
			"names": map[string]any{
				"kind": w.kind, "listKind": w.kind + "List",
				"plural": w.plural, "singular": strings.ToLower(w.kind),
			},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object",
					"properties": map[string]any{"spec": map[string]any{
						"type":       "object",
						"properties": map[string]any{"size": map[string]any{"type": "string"}},
					}},
				}},
			}},
		},
	}}
}

func (w widgetKind) object(ns, name, size string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": widgetGroup + "/v1",
		"kind":       w.kind,
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"size": size},
	}}
}

// deleteCRDOnCleanup removes w's CRD (if it was installed) when t ends.
func deleteCRDOnCleanup(t *testing.T, w widgetKind) {
	_, dyn := stack.Kube(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := dyn.Resource(crdGVR).Delete(ctx, w.plural+"."+widgetGroup, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting CRD: %v", err)
		}
	})
}

func TestApplyWaitsForKind(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	_, dyn := stack.Kube(t)
	ns := namespace(t, "waitkind")
	w := newWidgetKind()
	deleteCRDOnCleanup(t, w)
	ctx := testCtx(t, 60*time.Second)
	widget := w.object(ns, "w1", "large")

	// Reads never wait for a kind that is not served: nil / Missing at once.
	// They also fill the engine's discovery cache without the kind, so the
	// apply below must refresh it to see the CRD.
	start := time.Now()
	if got, err := e.Get(ctx, engine.RefOf(widget)); got != nil || err != nil {
		t.Errorf("Get of a kind not served = %v, %v; want nil, nil", got, err)
	}
	wantStatus(t, diffOne(t, ctx, e, widget), engine.Missing)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Get and Diff of a kind not served took %s; they must not wait", d)
	}

	const installAfter = 10 * time.Second
	installed := make(chan error, 1)
	go func() {
		select {
		case <-time.After(installAfter):
		case <-ctx.Done():
			installed <- ctx.Err()
			return
		}
		_, err := dyn.Resource(crdGVR).Create(ctx, w.crd(), metav1.CreateOptions{})
		installed <- err
	}()
	type result struct {
		err     error
		elapsed time.Duration
	}
	applied := make(chan result, 1)
	start = time.Now()
	go func() {
		_, err := e.Apply(ctx, widget)
		applied <- result{err, time.Since(start)}
	}()

	if err := <-installed; err != nil {
		t.Fatalf("installing the CRD: %v", err)
	}
	r := <-applied
	if r.err != nil {
		t.Fatalf("Apply of a kind installed after %s: %v", installAfter, r.err)
	}
	if r.elapsed < installAfter {
		t.Errorf("Apply returned after %s, before the CRD was installed", r.elapsed)
	}
	if r.elapsed > installAfter+15*time.Second {
		t.Errorf("Apply took %s: it noticed the CRD much too late", r.elapsed)
	}
	t.Logf("Apply succeeded after %s", r.elapsed.Round(time.Millisecond))

	live, err := dyn.Resource(w.gvr()).Namespace(ns).Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("live %s: %v", w.kind, err)
	}
	if size, _, _ := unstructured.NestedString(live.Object, "spec", "size"); size != "large" {
		t.Errorf("live spec.size = %q, want large", size)
	}
	wantStatus(t, diffOne(t, ctx, e, widget), engine.InSync)
}

func TestApplyMissingKindFailsAtDeadline(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "nokind")
	w, w2 := newWidgetKind(), newWidgetKind()
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "first", "namespace": ns},
	}}

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err := e.Apply(ctx, cm, w.object(ns, "w1", "small"), w2.object(ns, "w2", "small"))
	// All or nothing: the ConfigMap ahead of the missing kinds was not written.
	if _, getErr := cs.CoreV1().ConfigMaps(ns).Get(t.Context(), "first", metav1.GetOptions{}); !apierrors.IsNotFound(getErr) {
		t.Errorf("objects were applied although kinds were missing (err=%v)", getErr)
	}
	if !strings.Contains(fmt.Sprint(err), w2.kind) {
		t.Errorf("error %q does not name the second missing kind %s", err, w2.kind)
	}
	elapsed := time.Since(start)
	var mk *engine.MissingKindError
	if !errors.As(err, &mk) {
		t.Fatalf("Apply of a kind never installed = %v (%T), want *engine.MissingKindError", err, err)
	}
	if !strings.Contains(err.Error(), w.kind) {
		t.Errorf("error %q does not name the kind %s", err, w.kind)
	}
	if mk.GVK.Kind != w.kind || mk.GVK.Group != widgetGroup {
		t.Errorf("MissingKindError.GVK = %v", mk.GVK)
	}
	if elapsed < 2500*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("Apply failed after %s, want about the 3s deadline", elapsed)
	}
}

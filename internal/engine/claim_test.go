package engine_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

const ownerLabel = "idpkit.io/owner"

// Resources applying the same names in parallel: exactly one claims them
// all, every other is refused naming the winner, and a loser leaves none
// of the objects it created (its own, uncontested ones) behind.
func TestClaimParallel(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "claim")
	ctx := testCtx(t, 60*time.Second)

	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			objs := []*unstructured.Unstructured{
				configMap(ns, "shared-a", map[string]any{"by": fmt.Sprint(i)}),
				configMap(ns, fmt.Sprintf("own-%d", i), map[string]any{"by": fmt.Sprint(i)}),
				configMap(ns, "shared-b", map[string]any{"by": fmt.Sprint(i)}),
			}
			errs[i] = e.Claim(ctx, ownerLabel, fmt.Sprintf("application.app%d", i), objs)
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		var conflict *engine.OwnerConflictError
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("claims %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.As(err, &conflict):
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no claim succeeded: %v", errs)
	}
	for i, err := range errs {
		if i == winner {
			continue
		}
		var conflict *engine.OwnerConflictError
		errors.As(err, &conflict)
		if want := fmt.Sprintf("application.app%d", winner); conflict.Owner != want || conflict.Label != ownerLabel {
			t.Errorf("claim %d refused for %s=%s, want %s", i, conflict.Label, conflict.Owner, want)
		}
	}
	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: ownerLabel})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range list.Items {
		names = append(names, cm.Name)
		if cm.Labels[ownerLabel] != fmt.Sprintf("application.app%d", winner) || cm.Data["by"] != fmt.Sprint(winner) {
			t.Errorf("%s: owner %s, data %v; want the winner's (%d)", cm.Name, cm.Labels[ownerLabel], cm.Data, winner)
		}
	}
	if len(names) != 3 {
		t.Errorf("objects left: %v, want the winner's 3", names)
	}
}

// An object without the label (the old chart's) is claimed in place and
// keeps its data; the apply that follows owns every field it sets alone,
// and the label stays.
func TestClaimAdoptsThenApplyKeepsLabel(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	cs, _ := stack.Kube(t)
	ns := namespace(t, "claim-adopt")
	ctx := testCtx(t, 60*time.Second)

	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "old", Namespace: ns}, Data: map[string]string{"k": "helm"}}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, old, metav1.CreateOptions{FieldManager: "helm"}); err != nil {
		t.Fatal(err)
	}
	fresh := configMap(ns, "fresh", map[string]any{"k": "v"})
	want := []*unstructured.Unstructured{configMap(ns, "old", map[string]any{"k": "ours"}), fresh}
	if err := e.Claim(ctx, ownerLabel, "database.db", want); err != nil {
		t.Fatal(err)
	}
	if err := e.Claim(ctx, ownerLabel, "database.db", want); err != nil {
		t.Fatalf("claiming again: %v", err)
	}
	var conflict *engine.OwnerConflictError
	if err := e.Claim(ctx, ownerLabel, "application.db", want[:1]); !errors.As(err, &conflict) || conflict.Owner != "database.db" {
		t.Fatalf("another owner's claim: %v", err)
	}
	if _, err := e.Apply(ctx, want...); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old", "fresh"} {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Labels[ownerLabel] != "database.db" {
			t.Errorf("%s: labels %v after apply", name, cm.Labels)
		}
		if owns(cm.ManagedFields, "helm", "", "f:data", "f:k") || owns(cm.ManagedFields, fieldManager, metav1.ManagedFieldsOperationUpdate, "f:data", "f:k") {
			t.Errorf("%s: data still co-owned after apply: %v", name, managers(cm.ManagedFields))
		}
	}
}

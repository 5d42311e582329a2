package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// The apply floor: what the cluster itself needs to create an estate.
//
// applyFloor reads every object the state lists, writes copies into fresh
// namespaces (<prefix><namespace>) with one client, one server-side apply
// per object, 10 in flight, and waits, as apply does, until every
// Deployment and StatefulSet among them has rolled out. It prints
// "<objects> <seconds>" for that, then deletes the copies and waits until
// they are gone (not timed). The controllers react to the copies as to the
// originals (Argo Events makes its pods, the StatefulSet controller its
// volumes), so the time is the cluster's share of an apply: no Vault, no
// GitHub, no claims, no checks, no tofu.
func applyFloor(ctx context.Context, stateFile, prefix string) error {
	dyn, targets, err := stateClient(stateFile)
	if err != nil {
		return err
	}
	var (
		mu         sync.Mutex
		namespaces []floorObject
		rest       []floorObject
	)
	err = parallel(targets, func(t target) error {
		live, err := resourceFor(dyn, t.gvr, t.namespace).Get(ctx, t.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		o := floorObject{gvr: t.gvr, obj: floorCopy(live, prefix)}
		mu.Lock()
		defer mu.Unlock()
		if t.namespace == "" {
			namespaces = append(namespaces, o)
		} else {
			rest = append(rest, o)
		}
		return nil
	})
	if err != nil {
		return err
	}
	apply := func(o floorObject) error {
		body, err := o.obj.MarshalJSON()
		if err != nil {
			return err
		}
		force := true
		_, err = resourceFor(dyn, o.gvr, o.obj.GetNamespace()).Patch(ctx, o.obj.GetName(), types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: "bench-floor", Force: &force})
		return err
	}
	start := time.Now()
	if err := parallel(namespaces, apply); err != nil {
		return err
	}
	if err := parallel(rest, apply); err != nil {
		return err
	}
	if err := waitRolledOut(ctx, dyn, rest); err != nil {
		// Its pods would hold the kwok nodes' capacity for every later run.
		if derr := deleteNamespaces(ctx, dyn, namespaces); derr != nil {
			return fmt.Errorf("%w (and deleting the floor's namespaces: %v)", err, derr)
		}
		return err
	}
	fmt.Printf("%d %.3f\n", len(namespaces)+len(rest), time.Since(start).Seconds())
	return deleteNamespaces(ctx, dyn, namespaces)
}

type floorObject struct {
	gvr schema.GroupVersionResource
	obj *unstructured.Unstructured
}

func resourceFor(dyn dynamic.Interface, gvr schema.GroupVersionResource, namespace string) dynamic.ResourceInterface {
	if namespace == "" {
		return dyn.Resource(gvr)
	}
	return dyn.Resource(gvr).Namespace(namespace)
}

// floorCopy is live as a client would write it, in namespace prefix+its own.
func floorCopy(live *unstructured.Unstructured, prefix string) *unstructured.Unstructured {
	o := live.DeepCopy()
	delete(o.Object, "status")
	for _, f := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "finalizers", "ownerReferences"} {
		unstructured.RemoveNestedField(o.Object, "metadata", f)
	}
	if o.GetKind() == "Namespace" {
		o.SetName(prefix + o.GetName())
	} else {
		o.SetNamespace(prefix + o.GetNamespace())
	}
	if o.GetKind() == "Service" { // allocated anew
		unstructured.RemoveNestedField(o.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(o.Object, "spec", "clusterIPs")
	}
	return o
}

// parallel runs f on every item, 10 at a time, and returns the first error.
func parallel[T any](items []T, f func(T) error) error {
	work := make(chan T)
	errs := make(chan error, len(items))
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for it := range work {
				if err := f(it); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	close(errs)
	return <-errs
}

// waitRolledOut polls, one LIST per kind, until every Deployment and
// StatefulSet of objs has all its replicas updated and ready.
func waitRolledOut(ctx context.Context, dyn dynamic.Interface, objs []floorObject) error {
	pending := map[schema.GroupVersionResource]map[string]bool{}
	for _, o := range objs {
		if k := o.obj.GetKind(); k == "Deployment" || k == "StatefulSet" {
			if pending[o.gvr] == nil {
				pending[o.gvr] = map[string]bool{}
			}
			pending[o.gvr][o.obj.GetNamespace()+"/"+o.obj.GetName()] = true
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		left := 0
		for gvr, want := range pending {
			list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			for _, item := range list.Items {
				if key := item.GetNamespace() + "/" + item.GetName(); want[key] && rolledOut(&item) {
					delete(want, key)
				}
			}
			left += len(want)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d workloads not rolled out after 10 minutes", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func rolledOut(o *unstructured.Unstructured) bool {
	n := func(f ...string) int64 { v, _, _ := unstructured.NestedInt64(o.Object, f...); return v }
	want := int64(1)
	if r, ok, _ := unstructured.NestedInt64(o.Object, "spec", "replicas"); ok {
		want = r
	}
	return n("status", "observedGeneration") >= o.GetGeneration() &&
		n("status", "updatedReplicas") >= want && n("status", "readyReplicas") >= want
}

// deleteNamespaces deletes the copies' namespaces and waits until they are gone.
func deleteNamespaces(ctx context.Context, dyn dynamic.Interface, namespaces []floorObject) error {
	for _, ns := range namespaces {
		err := dyn.Resource(ns.gvr).Delete(ctx, ns.obj.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	deadline := time.Now().Add(10 * time.Minute)
	for _, ns := range namespaces {
		for {
			_, err := dyn.Resource(ns.gvr).Get(ctx, ns.obj.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s not deleted after 10 minutes", ns.obj.GetName())
			}
			time.Sleep(time.Second)
		}
	}
	return nil
}

package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// Refresh reads from one LIST per kind.
//
// A refresh reads every object of every resource in state: one GET each is
// about 2,000 requests for 50 projects, each paying the API server's
// per-request cost. Instead, the first refresh read of a kind lists every
// object of that kind carrying the provider's label (Options.ReadSelector),
// in all namespaces, with one consistent LIST; later reads of that kind are
// answered from it.
//
// This is as exact as the GETs it replaces. An engine serves one provider
// instance, which tofu configures for one walk (one plan, one refresh), so
// a snapshot is taken during the refresh that reads it, as a GET would be.
// Only contexts marked by ForRefresh use it: applies, waits and the checks
// after an apply always read live. Each object is handed out once, so a
// second read of it (a dry run's retry) is a GET. An object not in the
// snapshot (deleted, not labelled yet, as before an import is applied) is
// read with a GET, and a kind that cannot be listed (RBAC granting GET
// only) is read with GETs.
//
// Objects are kept as the JSON the API server sent and decoded when read:
// decoded, 2,000 objects with their managedFields would double the
// provider's memory.

// listPageSize bounds one LIST response; continuations read the same
// consistent snapshot.
const listPageSize = 500

type refreshKey struct{}

// ForRefresh marks ctx as a refresh's: Get may answer from the snapshot.
func ForRefresh(ctx context.Context) context.Context {
	return context.WithValue(ctx, refreshKey{}, true)
}

func isRefresh(ctx context.Context) bool {
	v, _ := ctx.Value(refreshKey{}).(bool)
	return v
}

// snapshots holds one kindSnapshot per apiVersion and kind.
type snapshots struct {
	mu    sync.Mutex
	kinds map[string]*kindSnapshot
	lists int // kinds listed, for tests (export_test.go)
}

type kindSnapshot struct {
	ready chan struct{} // closed once listed (or failed)
	mu    sync.Mutex
	objs  map[objectKey]json.RawMessage // nil: listing failed
}

type objectKey struct{ namespace, name string }

// Prefetch starts, in the background, the LISTs of the kinds of refs that
// no refresh read has listed yet, so that the reads of a resource wait for
// one round of LISTs at most instead of one per kind in turn. Outside a
// refresh it does nothing.
func (e *Engine) Prefetch(ctx context.Context, refs ...Ref) {
	if e.readSelector == "" || !isRefresh(ctx) {
		return
	}
	for _, ref := range refs {
		e.kindSnapshot(ctx, ref)
	}
}

// kindSnapshot returns the snapshot of ref's kind, starting its LIST if no
// refresh read has yet. The LIST outlives the read that started it (the
// others of that kind wait for it), within that read's deadline.
func (e *Engine) kindSnapshot(ctx context.Context, ref Ref) *kindSnapshot {
	kind := ref.APIVersion + "/" + ref.Kind
	e.snap.mu.Lock()
	defer e.snap.mu.Unlock()
	if e.snap.kinds == nil {
		e.snap.kinds = map[string]*kindSnapshot{}
	}
	if ks, listed := e.snap.kinds[kind]; listed {
		return ks
	}
	ks := &kindSnapshot{ready: make(chan struct{})}
	e.snap.kinds[kind] = ks
	e.snap.lists++
	listCtx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if deadline, ok := ctx.Deadline(); ok {
		listCtx, cancel = context.WithDeadline(listCtx, deadline)
	}
	go func() {
		defer cancel()
		ks.objs = e.listForSnapshot(listCtx, ref)
		close(ks.ready)
	}()
	return ks
}

// fromSnapshot returns the object from the kind's snapshot, listing the
// kind first if no refresh read has yet; ok is false when the snapshot
// cannot answer and the caller must GET.
func (e *Engine) fromSnapshot(ctx context.Context, ref Ref) (obj *unstructured.Unstructured, ok bool) {
	if e.readSelector == "" || !isRefresh(ctx) {
		return nil, false
	}
	ks := e.kindSnapshot(ctx, ref)
	select {
	case <-ks.ready:
	case <-ctx.Done():
		return nil, false
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.objs == nil {
		return nil, false
	}
	k := objectKey{ref.Namespace, ref.Name}
	raw, found := ks.objs[k]
	if !found {
		return nil, false
	}
	delete(ks.objs, k) // handed out once; also frees it
	// util/json, as client-go's own decoding: integers stay int64.
	var m map[string]any
	if err := utiljson.Unmarshal(raw, &m); err != nil {
		return nil, false
	}
	obj = &unstructured.Unstructured{Object: m}
	obj.SetAPIVersion(ref.APIVersion) // a list's items do not carry them
	obj.SetKind(ref.Kind)
	return obj, true
}

// listForSnapshot lists the kind's labelled objects in all namespaces, or
// returns nil when it cannot (reads then GET).
func (e *Engine) listForSnapshot(ctx context.Context, ref Ref) map[objectKey]json.RawMessage {
	kc, err := e.kubeClients()
	if err != nil {
		return nil
	}
	m, err := kc.kinds.mappingNow(ref.GVK())
	if err != nil {
		return nil
	}
	gvr := m.Resource
	path := "/apis/" + gvr.Group + "/" + gvr.Version + "/" + gvr.Resource
	if gvr.Group == "" {
		path = "/api/" + gvr.Version + "/" + gvr.Resource
	}
	objs := map[objectKey]json.RawMessage{}
	cont := ""
	for {
		req := kc.raw.Get().AbsPath(path).SetHeader("Accept", "application/json").
			Param("labelSelector", e.readSelector).Param("limit", strconv.Itoa(listPageSize))
		if cont != "" {
			req = req.Param("continue", cont)
		}
		var page struct {
			Metadata struct {
				Continue string `json:"continue"`
			} `json:"metadata"`
			Items []json.RawMessage `json:"items"`
		}
		body, err := req.DoRaw(ctx)
		if err == nil {
			err = json.Unmarshal(body, &page)
		}
		if err != nil {
			tflog.Debug(ctx, "refresh: listing failed, reading objects one by one", map[string]any{"kind": ref.Kind, "error": err.Error()})
			return nil
		}
		for _, raw := range page.Items {
			var item struct {
				Metadata struct {
					Namespace string `json:"namespace"`
					Name      string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(raw, &item); err != nil {
				tflog.Debug(ctx, "refresh: listing failed, reading objects one by one", map[string]any{"kind": ref.Kind, "error": fmt.Sprint(err)})
				return nil
			}
			objs[objectKey{item.Metadata.Namespace, item.Metadata.Name}] = raw
		}
		if cont = page.Metadata.Continue; cont == "" {
			break
		}
	}
	tflog.Debug(ctx, "refresh: listed", map[string]any{"kind": ref.Kind, "objects": len(objs)})
	return objs
}

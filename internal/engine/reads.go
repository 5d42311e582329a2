package engine

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Reads one apply shares between its steps.
//
// A create reads its anchor (CreatedMark), then every object it will write
// (Foreign), and then claims the contested ones, which starts with a read
// of the same objects. With WithReads each step starts from the read before
// it instead (Foreign from CreatedMark's, the claim from Foreign's), once.
// Foreign only judges what exists, milliseconds after the read it reuses.
// A claim uses a read under a write that fails when the object changed
// since (a create fails if it exists, a label patch is conditional on the
// resourceVersion read), so a stale one costs a retry, never a wrong claim.

type readsKey struct{}

type reads struct {
	mu sync.Mutex
	m  map[Ref]*unstructured.Unstructured
}

// WithReads returns ctx carrying a store of reads for the steps of one apply.
func WithReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, readsKey{}, &reads{m: map[Ref]*unstructured.Unstructured{}})
}

// rememberRead keeps live (nil: missing) for takeRead, if ctx has a store.
func rememberRead(ctx context.Context, ref Ref, live *unstructured.Unstructured) {
	if r, ok := ctx.Value(readsKey{}).(*reads); ok {
		r.mu.Lock()
		r.m[ref] = live
		r.mu.Unlock()
	}
}

// takeRead returns, once, what rememberRead kept for ref.
func takeRead(ctx context.Context, ref Ref) (*unstructured.Unstructured, bool) {
	r, ok := ctx.Value(readsKey{}).(*reads)
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	live, ok := r.m[ref]
	delete(r.m, ref)
	return live, ok
}

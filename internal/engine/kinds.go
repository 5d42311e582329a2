package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/restmapper"
)

// kindResolver maps kinds to REST resources from one shared discovery cache.
//
// A missing kind is usually a CRD that an app-of-apps installs later in the
// same apply, so the resolver refreshes discovery and retries, but at most
// once per refreshEvery across all callers: ten resources waiting for the same
// CRD must not each hammer discovery.
type kindResolver struct {
	mapper       *restmapper.DeferredDiscoveryRESTMapper
	refreshEvery time.Duration

	mu          sync.Mutex
	lastRefresh time.Time
}

func newKindResolver(m *restmapper.DeferredDiscoveryRESTMapper, refreshEvery time.Duration) *kindResolver {
	return &kindResolver{mapper: m, refreshEvery: refreshEvery, lastRefresh: time.Now()}
}

// MissingKindError says which kind never appeared (and which others of the
// same apply are missing too).
type MissingKindError struct {
	GVK    schema.GroupVersionKind
	Also   []schema.GroupVersionKind
	Waited time.Duration
}

func (e *MissingKindError) Error() string {
	kinds := []string{fmt.Sprintf("%s (%s)", e.GVK.Kind, e.GVK.GroupVersion())}
	for _, g := range e.Also {
		kinds = append(kinds, fmt.Sprintf("%s (%s)", g.Kind, g.GroupVersion()))
	}
	msg := fmt.Sprintf("API kind %s is not served by the cluster", kinds[0])
	if len(kinds) > 1 {
		msg = fmt.Sprintf("API kinds %s are not served by the cluster", strings.Join(kinds, ", "))
	}
	if e.Waited > 0 {
		crds, them := "its CustomResourceDefinition is", "it"
		if len(kinds) > 1 {
			crds, them = "their CustomResourceDefinitions are", "them"
		}
		msg += fmt.Sprintf(" after waiting %s; %s not installed yet (install %s, or raise the resource's "+
			"create timeout if an app-of-apps installs %s in the same apply)", e.Waited.Round(time.Second), crds, them, them)
	}
	return msg
}

// mapping returns the REST mapping for gvk, waiting with backoff until ctx
// ends if the cluster does not serve the kind yet.
func (r *kindResolver) mapping(ctx context.Context, gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	start := time.Now()
	backoff := 500 * time.Millisecond
	for {
		m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil {
			return m, nil
		}
		if !meta.IsNoMatchError(err) {
			return nil, fmt.Errorf("resolving API kind %s: %w", gvk, unreachable(err))
		}
		r.refresh()
		if !Sleep(ctx, backoff) {
			return nil, &MissingKindError{GVK: gvk, Waited: time.Since(start)}
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (r *kindResolver) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.lastRefresh) < r.refreshEvery {
		return
	}
	r.lastRefresh = time.Now()
	r.mapper.Reset()
}

// mappingNow looks gvk up without waiting: at most one (rate-limited)
// discovery refresh. Reads use it so refresh never blocks on a missing CRD.
func (r *kindResolver) mappingNow(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	m, err := r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		r.refresh()
		m, err = r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if meta.IsNoMatchError(err) {
		return nil, &MissingKindError{GVK: gvk}
	}
	if err != nil {
		return nil, fmt.Errorf("resolving API kind %s: %w", gvk, unreachable(err))
	}
	return m, nil
}

func isMissingKind(err error) bool {
	var mk *MissingKindError
	return errors.As(err, &mk)
}

// waitForKinds waits until the cluster serves every kind of objs, so that
// an apply either finds all its kinds or writes nothing; on timeout the
// error lists every kind still missing.
func (r *kindResolver) waitForKinds(ctx context.Context, objs []*unstructured.Unstructured) error {
	var missing *MissingKindError
	seen := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		if seen[gvk] {
			continue
		}
		seen[gvk] = true
		if missing != nil { // the deadline has passed: only look up the rest
			if _, err := r.mappingNow(gvk); isMissingKind(err) {
				missing.Also = append(missing.Also, gvk)
			}
			continue
		}
		if _, err := r.mapping(ctx, gvk); err != nil {
			if !errors.As(err, &missing) {
				return err
			}
		}
	}
	if missing != nil {
		return missing
	}
	return nil
}

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"

	"github.com/hashicorp/terraform-plugin-log/tflog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Apply server-side applies objs in order and returns the live objects.
//
// Conflicts are forced: fields that another manager (Helm, ArgoCD, kubectl)
// set are taken over in place, never by deleting and recreating the object,
// and we become their only owner (takeover.go), so that they go when we
// stop setting them. Fields we do not set keep their owners and values;
// kubectl's last-applied-configuration annotation is removed. A kind the cluster does
// not serve yet is waited for until ctx ends (see kinds.go), before any
// object is written.
func (e *Engine) Apply(ctx context.Context, objs ...*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	return e.applyAll(ctx, nil, objs)
}

// ApplyIf is Apply, applying an object with a resourceVersion in ifAt only
// while it is still at that version: an error wrapping ErrConflict says it
// changed, and nothing after it was applied.
func (e *Engine) ApplyIf(ctx context.Context, ifAt map[Ref]string, objs ...*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	return e.applyAll(ctx, ifAt, objs)
}

// ErrConflict: an object changed since the version an apply was
// conditioned on (ApplyIf).
var ErrConflict = errors.New("changed since it was read")

// applyAll applies objs in order; an object with a resourceVersion in
// ifAt is applied only while it is still at that version.
func (e *Engine) applyAll(ctx context.Context, ifAt map[Ref]string, objs []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	kc, err := e.kubeClients()
	if err != nil {
		return nil, err
	}
	if err := kc.kinds.waitForKinds(ctx, objs); err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for i, obj := range objs {
		live, err := e.applyAt(ctx, obj, ifAt[RefOf(obj)])
		if err != nil {
			return out, err
		}
		out = append(out, live)
		if len(objs) > 1 && i+1 == len(objs)/2 {
			if FaultPoints {
				fault(ctx, FaultApplyHalf, RefOf(obj).String())
			}
		}
	}
	return out, nil
}

func (e *Engine) apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	if dryRun {
		ri, err := e.resource(ctx, RefOf(obj), true)
		if err != nil {
			return nil, err
		}
		return e.patchApply(ctx, ri, obj, true)
	}
	return e.applyAt(ctx, obj, "")
}

// applyAt applies obj; with resourceVersion set, only if the live object
// is still at it (the API server checks: ErrConflict otherwise). What we
// apply, and keep checks of, stays obj without the version.
func (e *Engine) applyAt(ctx context.Context, obj *unstructured.Unstructured, resourceVersion string) (*unstructured.Unstructured, error) {
	ri, err := e.resource(ctx, RefOf(obj), true)
	if err != nil {
		return nil, err
	}
	body := obj
	if resourceVersion != "" {
		body = obj.DeepCopy()
		body.SetResourceVersion(resourceVersion)
	}
	live, err := e.patchApply(ctx, ri, body, false)
	if err != nil {
		return nil, err
	}
	live, err = e.takeOver(ctx, ri, obj, live) // see takeover.go
	if err == nil {
		if FaultPoints {
			fault(ctx, FaultObjectWritten, RefOf(obj).String())
		}
	}
	return live, err
}

// patchApply is one server-side apply request, conflicts forced.
func (e *Engine) patchApply(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	ref := RefOf(obj)
	body, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", ref, err)
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: FieldManager, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	// Only the object's name reaches the log: bodies may hold secret values.
	tflog.Debug(ctx, "server-side apply", map[string]any{"object": ref.String(), "dry_run": dryRun})
	live, err := ri.Patch(ctx, ref.Name, types.ApplyPatchType, body, opts)
	if err != nil && obj.GetResourceVersion() != "" && apierrors.IsConflict(err) {
		return nil, fmt.Errorf("applying %s: %w", ref, ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("applying %s: %w", ref, apiError(err))
	}
	return live, nil
}

// Get returns the live object, or nil when it (or its kind) does not exist.
// In a refresh (ForRefresh) it may come from the refresh's snapshot.
func (e *Engine) Get(ctx context.Context, ref Ref) (*unstructured.Unstructured, error) {
	if obj, ok := e.fromSnapshot(ctx, ref); ok {
		return obj, nil
	}
	ri, err := e.resource(ctx, ref, false)
	if err != nil {
		if isMissingKind(err) {
			return nil, nil
		}
		return nil, err
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, apiError(err))
	}
	return live, nil
}

// List returns the objects of a kind in namespace matching labelSelector
// (empty selects all). A kind the cluster does not serve has no objects.
func (e *Engine) List(ctx context.Context, apiVersion, kind, namespace, labelSelector string) ([]unstructured.Unstructured, error) {
	ref := Ref{APIVersion: apiVersion, Kind: kind, Namespace: namespace}
	ri, err := e.resource(ctx, ref, false)
	if err != nil {
		if isMissingKind(err) {
			return nil, nil
		}
		return nil, err
	}
	list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: labelSelector})
	if err != nil {
		return nil, fmt.Errorf("listing %s in namespace %q: %w", kind, namespace, apiError(err))
	}
	return list.Items, nil
}

// resource resolves ref to a dynamic client. With wait, a kind the cluster
// does not serve yet is waited for until ctx ends; without, it is looked up
// once after at most one discovery refresh.
func (e *Engine) resource(ctx context.Context, ref Ref, wait bool) (dynamic.ResourceInterface, error) {
	kc, err := e.kubeClients()
	if err != nil {
		return nil, err
	}
	var m *meta.RESTMapping
	if wait {
		m, err = kc.kinds.mapping(ctx, ref.GVK())
	} else {
		m, err = kc.kinds.mappingNow(ref.GVK())
	}
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if ref.Namespace == "" {
			return nil, fmt.Errorf("%s is namespaced but has no namespace", ref)
		}
		return kc.dynamic.Resource(m.Resource).Namespace(ref.Namespace), nil
	}
	return kc.dynamic.Resource(m.Resource), nil
}

// apiError keeps the API server's own message, which names the field it
// rejected, and drops client-go's wrapping.
func apiError(err error) error {
	if status, ok := err.(apierrors.APIStatus); ok && status.Status().Message != "" {
		return fmt.Errorf("%s", status.Status().Message)
	}
	return unreachable(err)
}

// unreachable explains a request that never reached the API server.
func unreachable(err error) error {
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) && (errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED)) {
		host := urlErr.URL
		if u, perr := url.Parse(urlErr.URL); perr == nil {
			host = u.Scheme + "://" + u.Host
		}
		return fmt.Errorf("the Kubernetes API server at %s is not reachable (%v): check that it runs and that the provider's "+
			"kubernetes settings (KUBECONFIG) point at it, then apply again", host, unwrapNet(err))
	}
	return err
}

// Create submits a new object, typically one with metadata.generateName
// (a Workflow run), which server-side apply cannot name. It returns the
// created object with its generated name.
func (e *Engine) Create(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ref := RefOf(obj)
	ri, err := e.resource(ctx, ref, true)
	if err != nil {
		return nil, err
	}
	tflog.Debug(ctx, "create", map[string]any{"kind": ref.Kind, "namespace": ref.Namespace, "generate_name": obj.GetGenerateName()})
	created, err := ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil {
		return nil, fmt.Errorf("creating %s %s in %s: %w", ref.Kind, obj.GetGenerateName()+obj.GetName(), ref.Namespace, apiError(err))
	}
	return created, nil
}

// Sync applies desired, then deletes the objects of previous (what the
// prior state rendered) that desired no longer has: a route of a removed
// domain, the isolation policy when it is turned off.
func (e *Engine) Sync(ctx context.Context, previous, desired []*unstructured.Unstructured) error {
	if _, err := e.Apply(ctx, desired...); err != nil {
		return err
	}
	return e.Prune(ctx, previous, desired)
}

// Prune deletes the objects of previous that desired no longer has (Sync's
// second half, for callers that apply desired in steps).
func (e *Engine) Prune(ctx context.Context, previous, desired []*unstructured.Unstructured) error {
	keep := map[Ref]bool{}
	for _, o := range desired {
		keep[RefOf(o)] = true
	}
	var gone []Ref
	for _, o := range previous {
		if r := RefOf(o); !keep[r] {
			gone = append(gone, r)
		}
	}
	if err := e.Delete(ctx, gone...); err != nil {
		return fmt.Errorf("removing objects no longer needed: %w", err)
	}
	return nil
}

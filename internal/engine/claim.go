package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Claiming names.
//
// Object names are a contract, so two resources can derive the same one
// (an application and a database both make Service <name>). A forced apply
// would silently take the other's object, so before applying, a resource
// claims every name: an owner label on the object, set only where it is
// absent, by a write that fails if someone else got there first (a create,
// or a patch conditional on the resourceVersion just read). Of two
// resources applying in parallel, one claims and the other is refused.

// OwnerConflictError: an object to be written is labelled as another's.
type OwnerConflictError struct {
	Ref   Ref
	Label string
	Owner string
}

func (e *OwnerConflictError) Error() string {
	return fmt.Sprintf("%s is labelled %s=%s", e.Ref, e.Label, e.Owner)
}

// Claim makes label=owner hold on every object of objs, or fails with
// *OwnerConflictError and leaves no object it created behind. An object
// that does not exist is created as given plus the label (the apply that
// follows updates it); one without the label (the old chart's, or written
// before labels) gets it; one with owner is ours. Objects are claimed in
// name order, so that resources racing for several names meet first on the
// same one and the loser holds none. Like Apply, it writes nothing until the
// cluster serves every kind of objs.
func (e *Engine) Claim(ctx context.Context, label, owner string, objs []*unstructured.Unstructured) error {
	_, err := e.ClaimCreating(ctx, label, owner, objs, nil)
	return err
}

// ClaimCreating is Claim, and also returns the objects it created, so that
// a create that fails before its first apply can remove them again. adopt,
// if not nil, judges an object that exists without the label before it is
// labelled (the object to claim, the live one): its error refuses the claim
// as an OwnerConflictError does. It sees the read the claim makes anyway.
func (e *Engine) ClaimCreating(ctx context.Context, label, owner string, objs []*unstructured.Unstructured, adopt func(obj, live *unstructured.Unstructured) error) ([]Ref, error) {
	kc, err := e.kubeClients()
	if err != nil {
		return nil, err
	}
	if err := kc.kinds.waitForKinds(ctx, objs); err != nil {
		return nil, err
	}
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return claimKey(sorted[i]) < claimKey(sorted[j]) })
	var created []Ref
	for i, obj := range sorted {
		if len(sorted) > 1 && i == len(sorted)/2 {
			if FaultPoints {
				fault(ctx, FaultClaimHalf, RefOf(obj).String())
			}
		}
		made, err := e.claim(ctx, label, owner, obj, adopt)
		if made {
			created = append(created, RefOf(obj))
		}
		if err != nil {
			if derr := e.Delete(ctx, created...); derr != nil {
				return nil, fmt.Errorf("%w (and removing what this apply created: %v)", err, derr)
			}
			return nil, err
		}
	}
	return created, nil
}

func claimKey(o *unstructured.Unstructured) string {
	return o.GetNamespace() + "/" + o.GetName() + "/" + o.GroupVersionKind().GroupKind().String()
}

// claim claims one object and reports whether it created it.
func (e *Engine) claim(ctx context.Context, label, owner string, obj *unstructured.Unstructured, adopt func(obj, live *unstructured.Unstructured) error) (bool, error) {
	ref := RefOf(obj)
	ri, err := e.resource(ctx, ref, true)
	if err != nil {
		return false, err
	}
	for attempt := 0; ; attempt++ {
		live, known := takeRead(ctx, ref) // Foreign's, in a create (reads.go)
		if !known || attempt > 0 {
			if live, err = e.Get(ctx, ref); err != nil {
				return false, err
			}
		}
		if live != nil {
			if have, ok := live.GetLabels()[label]; ok {
				if have != owner {
					return false, &OwnerConflictError{Ref: ref, Label: label, Owner: have}
				}
				return false, nil
			}
			if adopt != nil {
				if err := adopt(obj, live); err != nil {
					return false, err
				}
			}
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
				"labels":          map[string]string{label: owner},
				"resourceVersion": live.GetResourceVersion(), // fails if written since read
			}})
			_, err = ri.Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
		} else {
			body := obj.DeepCopy()
			labels := body.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels[label] = owner
			body.SetLabels(labels)
			_, err = ri.Create(ctx, body, metav1.CreateOptions{FieldManager: FieldManager})
			if err == nil {
				if FaultPoints {
					fault(ctx, FaultObjectWritten, ref.String())
				}
				return true, nil
			}
		}
		switch {
		case err == nil:
			return false, nil
		case (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err)) && attempt < 5:
			continue // someone else wrote it meanwhile: look again
		default:
			return false, fmt.Errorf("claiming %s: %w", ref, apiError(err))
		}
	}
}

// Created marks.
//
// Claims keep two resources of one state apart; a created mark keeps two
// states apart. A resource whose create completed marks its anchor object
// (the namespace of a project, an application's EventSource, a database's
// StatefulSet), and a create that finds the mark refuses: a resource
// already in another state is adopted only explicitly, by import. A create
// interrupted before it completed leaves no mark, so the next apply, which
// creates again, takes its own objects over, as it takes over the old
// chart's.

// CreatedMark returns annotation key of the object at ref, or "" when the
// object, or the annotation, is absent, or the object is being deleted.
func (e *Engine) CreatedMark(ctx context.Context, ref Ref, key string) (string, error) {
	live, err := e.Get(ctx, ref)
	if err == nil {
		rememberRead(ctx, ref, live) // for Foreign, next in a create (reads.go)
	}
	if err != nil || live == nil || live.GetDeletionTimestamp() != nil {
		return "", err
	}
	return live.GetAnnotations()[key], nil
}

// MarkCreated sets annotation key=value on the object at ref, unless it has
// the annotation already.
func (e *Engine) MarkCreated(ctx context.Context, ref Ref, key, value string) error {
	have, err := e.CreatedMark(ctx, ref, key)
	if err != nil || have != "" {
		return err
	}
	ri, err := e.resource(ctx, ref, false)
	if err != nil {
		return err
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{key: value}}})
	if _, err := ri.Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager}); err != nil &&
		!apierrors.IsNotFound(err) {
		return fmt.Errorf("marking %s as created: %w", ref, apiError(err))
	}
	return nil
}

// Foreign objects.
//
// A claim adopts an object without the owner label, and a create that
// finds no created mark adopts what is there: both so that an interrupted
// create of ours is finished by the next apply. Neither can tell our
// half-made objects from someone else's, so a create first asks Foreign:
// an object that exists and carries none of our marks was made by someone
// else, and taking it over would hand it to our destroy.

// Foreign returns the refs that exist and carry none of our marks, in
// their order. Our marks are a label of labels ("key=value", or
// "key" for any value) and an entry of managedFields by our field manager
// or one named after it (RestartFieldManager): every object we write gets
// both, from the first write on.
func (e *Engine) Foreign(ctx context.Context, refs []Ref, labels ...string) ([]Ref, error) {
	found := make([]*unstructured.Unstructured, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, diffConcurrency)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if live, ok := takeRead(ctx, ref); ok {
				found[i] = live // CreatedMark's read of the anchor
			} else {
				found[i], errs[i] = e.Get(ctx, ref)
			}
			if errs[i] == nil {
				rememberRead(ctx, ref, found[i])
			}
		})
	}
	wg.Wait()
	var out []Ref
	for i, live := range found {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if live != nil && !marked(live, labels) {
			out = append(out, refs[i])
		}
	}
	return out, nil
}

// marked reports whether live carries one of our marks (see Foreign).
func marked(live *unstructured.Unstructured, labels []string) bool {
	have := live.GetLabels()
	for _, l := range labels {
		key, value, withValue := strings.Cut(l, "=")
		if v, ok := have[key]; ok && (!withValue || v == value) {
			return true
		}
	}
	for _, mf := range live.GetManagedFields() {
		if mf.Manager == FieldManager || strings.HasPrefix(mf.Manager, FieldManager+"-") {
			return true
		}
	}
	return false
}

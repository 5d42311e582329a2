package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Taking objects over from other field managers.
//
// Server-side apply lets a manager that set a field to the value we apply
// keep owning it next to us. On objects adopted from the old chart every
// field we set is shared like that with helm, argocd-controller or kubectl,
// and a shared field stays when we stop setting it: a changed Service port
// is added next to the old one (an invalid Service), a key deleted in Vault
// stays in the Secret. So after applying, our manager becomes the only
// owner of the fields it applied. Fields that only others set keep their
// owners and values (in particular the labels of a Deployment's selector
// and pod template, which must not change), with one exception: kubectl's
// last-applied-configuration annotation is removed. It is a copy of a
// manifest that no longer describes the object (of a Secret: with its old
// values), and kubectl apply would compute deletions from it.
//
// Unlike kubectl's own move to server-side apply (csaupgrade), what only
// kubectl's client-side apply set is not made ours: our manager is also
// the one CI deploys with, so owning, say, an extra selector label kubectl
// had set would remove it on the next deploy, and a selector is immutable.

// takeOver runs after a forced apply of obj that returned live. What it
// returns is the end of every apply: in sync with obj, which the next Diff
// need not ask the API server again while it stays as it is (verified.go).
func (e *Engine) takeOver(ctx context.Context, ri dynamic.ResourceInterface, obj, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	out, err := e.takeOverOnce(ctx, ri, obj, live)
	if err == nil {
		e.verified.putApplied(obj, out)
	}
	return out, err
}

func (e *Engine) takeOverOnce(ctx context.Context, ri dynamic.ResourceInterface, obj, live *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ref := RefOf(obj)
	for attempt := 0; ; attempt++ {
		patch, err := takeOverPatch(live)
		if err != nil || patch == nil {
			return live, err
		}
		out, err := ri.Patch(ctx, ref.Name, types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
		if apierrors.IsConflict(err) && attempt < 5 {
			// Written since we applied (by a controller): take the new version over.
			if live, err = ri.Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
				return nil, fmt.Errorf("taking over %s: %w", ref, apiError(err))
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("taking over %s from other field managers: %w", ref, apiError(err))
		}
		return out, nil
	}
}

var lastAppliedPath = fieldpath.MakePathOrDie("metadata", "annotations", corev1.LastAppliedConfigAnnotation)

// takeOverPatch returns the JSON patch that removes kubectl's
// last-applied annotation and makes our manager the only owner of what it
// applied, or nil when there is nothing to take over. The patch fails with
// a conflict if obj changed since it was read.
func takeOverPatch(obj *unstructured.Unstructured) ([]byte, error) {
	entries := obj.GetManagedFields()
	_, annotated := obj.GetAnnotations()[corev1.LastAppliedConfigAnnotation]
	var drop *fieldpath.Set
	if annotated {
		drop = fieldpath.NewSet(lastAppliedPath)
	}
	entries, changed, err := exclusive(entries, drop)
	if err != nil || !changed && !annotated {
		return nil, err
	}
	ops := []map[string]any{
		{"op": "replace", "path": "/metadata/managedFields", "value": entries},
		// Optimistic concurrency, as csaupgrade does: a conflict if obj changed.
		{"op": "replace", "path": "/metadata/resourceVersion", "value": obj.GetResourceVersion()},
	}
	if annotated {
		key := strings.NewReplacer("~", "~0", "/", "~1").Replace(corev1.LastAppliedConfigAnnotation)
		ops = append(ops, map[string]any{"op": "remove", "path": "/metadata/annotations/" + key})
	}
	return json.Marshal(ops)
}

// exclusive removes the fields our manager applied, and drop, from every
// other manager's set (of the main resource, same API version), dropping
// entries left empty. It reports whether anything changed.
func exclusive(entries []metav1.ManagedFieldsEntry, drop *fieldpath.Set) ([]metav1.ManagedFieldsEntry, bool, error) {
	i := ownEntry(entries)
	if i < 0 {
		return entries, false, nil
	}
	ours, err := fieldSet(entries[i])
	if err != nil {
		return nil, false, err
	}
	if drop != nil {
		ours = ours.Union(drop)
	}
	out := make([]metav1.ManagedFieldsEntry, 0, len(entries))
	changed := false
	for j, mf := range entries {
		if j == i || !comparableEntry(mf, entries[i]) {
			out = append(out, mf)
			continue
		}
		theirs, err := fieldSet(mf)
		if err != nil {
			return nil, false, err
		}
		if theirs.Intersection(ours).Empty() {
			out = append(out, mf)
			continue
		}
		changed = true
		rest := theirs.Difference(ours)
		if rest.Empty() {
			continue
		}
		raw, err := rest.ToJSON()
		if err != nil {
			return nil, false, err
		}
		mf.FieldsV1 = &metav1.FieldsV1{Raw: raw}
		out = append(out, mf)
	}
	return out, changed, nil
}

// takeOverFields describes what a takeover would change on obj (as a
// dry-run apply returns it), for Diff: the last-applied annotation it
// removes, and the managers co-owning fields we apply. So the plan after
// an import applies, and the takeover happens before values change.
func takeOverFields(obj *unstructured.Unstructured) []string {
	var out []string
	if _, ok := obj.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok {
		out = append(out, "metadata.annotations."+corev1.LastAppliedConfigAnnotation)
	}
	entries := obj.GetManagedFields()
	i := ownEntry(entries)
	if i < 0 {
		return out
	}
	ours, err := fieldSet(entries[i])
	if err != nil {
		return out
	}
	var shared []string
	for j, mf := range entries {
		if j == i || !comparableEntry(mf, entries[i]) {
			continue
		}
		if theirs, err := fieldSet(mf); err == nil && !theirs.Intersection(ours).Empty() {
			shared = append(shared, mf.Manager)
		}
	}
	if len(shared) > 0 {
		sort.Strings(shared)
		out = append(out, "ownership shared with "+strings.Join(shared, ", "))
	}
	return out
}

// ownEntry is the index of our apply entry for the main resource, or -1.
func ownEntry(entries []metav1.ManagedFieldsEntry) int {
	for i, mf := range entries {
		if mf.Manager == FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply && mf.Subresource == "" {
			return i
		}
	}
	return -1
}

// comparableEntry: field sets of the same resource and API version.
func comparableEntry(mf, ours metav1.ManagedFieldsEntry) bool {
	return mf.Subresource == "" && mf.APIVersion == ours.APIVersion && mf.FieldsV1 != nil
}

func fieldSet(mf metav1.ManagedFieldsEntry) (*fieldpath.Set, error) {
	s := &fieldpath.Set{}
	if mf.FieldsV1 == nil {
		return s, nil
	}
	if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
		return nil, fmt.Errorf("decoding the fields of manager %s: %w", mf.Manager, err)
	}
	return s, nil
}

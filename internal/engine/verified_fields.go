package engine

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// The live digest leaves out what only other managers own.
//
// Controllers write their own fields right after we create an object (Argo
// Events adds its finalizer and spec fields to EventBus, EventSource and
// Sensor). A server-side apply of ours leaves fields that we neither set
// nor own exactly as they are, on the live object and on the dry run's
// result alike, so they cannot change Diff's verdict. Kept are: every
// field we own, everything no manager owns (defaults), the
// last-applied annotation (takeOverFields reports it), and the entries of
// managers who own any field we own (ownership shared) or whose fields are
// of another API version (not comparable with ours).

// liveContent is the part of a live object that a dry-run apply of ours
// can depend on: see liveDigest.
func liveContent(obj *unstructured.Unstructured) map[string]any {
	c := runtime.DeepCopyJSON(withoutSecretValues(obj.Object))
	delete(c, "status")
	md, _ := c["metadata"].(map[string]any)
	if md == nil {
		return c
	}
	delete(md, "resourceVersion")
	delete(md, "generation")
	delete(md, "managedFields")
	entries := obj.GetManagedFields()
	keep := make([]metav1.ManagedFieldsEntry, 0, len(entries))
	var strip *fieldpath.Set
	own := ownEntry(entries)
	var ours *fieldpath.Set
	if own >= 0 {
		ours, _ = fieldSet(entries[own])
	}
	for j, mf := range entries {
		if j == own || ours == nil || mf.APIVersion != entries[own].APIVersion || mf.FieldsV1 == nil {
			if mf.Subresource == "" {
				keep = append(keep, mf)
			}
			continue
		}
		// Status writes too: the deployment controller's own the revision
		// annotation.
		theirs, err := fieldSet(mf)
		if err != nil || !theirs.Intersection(ours).Empty() {
			keep = append(keep, mf)
			continue
		}
		if strip == nil {
			strip = theirs
		} else {
			strip = strip.Union(theirs)
		}
	}
	md["managedFields"] = keep
	if strip != nil {
		// A path is a field when nobody owns anything below it; else a
		// container, which goes only once empty.
		leaves := strip.Union(ours).Leaves()
		stripPaths(c, strip.Difference(ours).Difference(fieldpath.NewSet(lastAppliedPath)), leaves)
	}
	return c
}

// stripPaths removes from obj the paths of set, deepest first: fields
// (leaves) always, containers when left empty.
func stripPaths(obj map[string]any, set, leaves *fieldpath.Set) {
	var paths []fieldpath.Path
	set.Iterate(func(p fieldpath.Path) { paths = append(paths, p.Copy()) })
	sort.SliceStable(paths, func(i, j int) bool { return len(paths[i]) > len(paths[j]) })
	for _, p := range paths {
		removePath(obj, p, leaves.Has(p))
	}
}

// removePath removes p from v; a container only when empty, unless leaf.
// It returns v, changed in place where v is a map, replaced where a list.
func removePath(v any, p fieldpath.Path, leaf bool) any {
	if len(p) == 0 {
		return v
	}
	pe := p[0]
	switch t := v.(type) {
	case map[string]any:
		if pe.FieldName == nil {
			return v
		}
		child, ok := t[*pe.FieldName]
		if !ok {
			return v
		}
		if len(p) == 1 {
			if leaf || empty(child) {
				delete(t, *pe.FieldName)
			}
			return v
		}
		t[*pe.FieldName] = removePath(child, p[1:], leaf)
		return v
	case []any:
		i := listIndex(t, pe)
		if i < 0 {
			return v
		}
		if len(p) == 1 {
			if leaf || empty(t[i]) {
				return append(append([]any{}, t[:i]...), t[i+1:]...)
			}
			return v
		}
		t[i] = removePath(t[i], p[1:], leaf)
		return v
	}
	return v
}

// listIndex finds the element pe selects: by key fields, by value, or by index.
func listIndex(list []any, pe fieldpath.PathElement) int {
	for i, item := range list {
		switch {
		case pe.Index != nil:
			if i == *pe.Index {
				return i
			}
		case pe.Value != nil:
			if value.Equals(value.NewValueInterface(item), *pe.Value) {
				return i
			}
		case pe.Key != nil:
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			match := true
			for _, f := range *pe.Key {
				fv, ok := m[f.Name]
				if !ok || !value.Equals(value.NewValueInterface(fv), f.Value) {
					match = false
					break
				}
			}
			if match {
				return i
			}
		}
	}
	return -1
}

func empty(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	case nil:
		return true
	}
	return false
}

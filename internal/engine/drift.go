package engine

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// State is how a live object compares to what we would apply.
type State int

const (
	InSync State = iota
	Missing
	Drifted
)

// Status reports one object's drift. Fields name paths only, never values,
// so a Status is safe to show in plan output even for Secrets.
type Status struct {
	Ref    Ref
	State  State
	Fields []string
}

func (s Status) String() string {
	switch s.State {
	case Missing:
		return "missing"
	case Drifted:
		return "drifted: " + strings.Join(s.Fields, ", ")
	default:
		return "in sync"
	}
}

// Diff reports, for each desired object, whether applying it would change
// the live object. It asks the API server with a dry-run server-side apply
// and compares the result with the live object, so defaulting, quantity
// normalisation and other managers' fields are judged exactly as a real
// apply would judge them. Fields we do not set never count as drift.
func (e *Engine) Diff(ctx context.Context, desired ...*unstructured.Unstructured) ([]Status, error) {
	out := make([]Status, 0, len(desired))
	for _, obj := range desired {
		st, err := e.diff(ctx, obj)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (e *Engine) diff(ctx context.Context, obj *unstructured.Unstructured) (Status, error) {
	ref := RefOf(obj)
	var live, applied *unstructured.Unstructured
	// A controller may write the object between our read and the dry run
	// (the deployment controller annotates a new Deployment): compare the two
	// only when the dry run was computed from the version we read.
	for range 5 {
		var err error
		if live, err = e.Get(ctx, ref); err != nil {
			return Status{}, err
		}
		if live == nil {
			return Status{Ref: ref, State: Missing}, nil
		}
		if applied, err = e.apply(ctx, obj, true); err != nil {
			return Status{}, fmt.Errorf("checking drift: %w", err)
		}
		if applied.GetResourceVersion() == live.GetResourceVersion() {
			break
		}
	}
	fields := diffPaths("", comparable(live.Object), comparable(applied.Object))
	// What apply changes besides values when it takes an object over (import).
	fields = append(fields, takeOverFields(applied)...)
	st := Status{Ref: ref, State: InSync}
	if len(fields) > 0 {
		st.State, st.Fields = Drifted, fields
	}
	return st, nil
}

// comparable drops what changes on every write without changing meaning.
func comparable(obj map[string]any) map[string]any {
	c := make(map[string]any, len(obj))
	for k, v := range obj {
		c[k] = v
	}
	delete(c, "status")
	if md, ok := obj["metadata"].(map[string]any); ok {
		m := make(map[string]any, len(md))
		for k, v := range md {
			switch k {
			case "managedFields", "resourceVersion", "generation":
			default:
				m[k] = v
			}
		}
		c["metadata"] = m
	}
	return c
}

// diffPaths lists the paths at which a and b differ, sorted.
func diffPaths(prefix string, a, b any) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var out []string
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			out = append(out, diffPaths(join(prefix, k), am[k], bm[k])...)
		}
		sort.Strings(out)
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		var out []string
		for i := range al {
			out = append(out, diffPaths(fmt.Sprintf("%s[%d]", prefix, i), al[i], bl[i])...)
		}
		return out
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []string{prefix}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

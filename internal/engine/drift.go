package engine

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-log/tflog"
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
	st, _, err := e.DiffKnown(ctx, Known{}, desired...)
	return st, err
}

// Known is what a caller of DiffKnown already knows.
type Known struct {
	// Verified are the checks the resource recorded (its private state).
	Verified Verified
	// Live are objects the caller has just read (nil: read and missing);
	// they stand in for Diff's own first read of them.
	Live map[Ref]*unstructured.Unstructured
	// Compared, if set, derives the object to compare from the desired
	// and the live one (nil when missing), e.g. to keep immutable fields
	// as they are live. Checks are made on what it returns.
	Compared func(desired, live *unstructured.Unstructured) *unstructured.Unstructured
	// Applied: desired was just applied by this process. An object whose
	// check is the one its apply made is in sync without a read: a check is
	// a fact about content (verified.go), and a later Diff reads and
	// compares. Not with Compared, which needs the live object.
	Applied bool
}

// diffConcurrency bounds the requests one DiffKnown has in flight; tofu
// refreshes ten resources at a time.
const diffConcurrency = 8

// DiffKnown is Diff, skipping the dry run for an object whose live content
// and desired object match a check in known.Verified or one this process
// made (see verified.go). It returns the checks for the objects found in
// sync, for the caller to keep.
func (e *Engine) DiffKnown(ctx context.Context, known Known, desired ...*unstructured.Unstructured) ([]Status, Verified, error) {
	out := make([]Status, len(desired))
	checks := make([]*Check, len(desired))
	errs := make([]error, len(desired))
	sem := make(chan struct{}, diffConcurrency)
	var wg sync.WaitGroup
	for i, obj := range desired {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], checks[i], errs[i] = e.diff(ctx, known, obj)
		})
	}
	wg.Wait()
	verified := Verified{}
	for i, err := range errs {
		if err != nil {
			return nil, nil, err
		}
		if checks[i] != nil {
			verified[out[i].Ref.String()] = *checks[i]
		}
	}
	return out, verified, nil
}

func (e *Engine) diff(ctx context.Context, known Known, desired *unstructured.Unstructured) (Status, *Check, error) {
	ref := RefOf(desired)
	if known.Applied && known.Compared == nil {
		if ch, ok := e.verified.appliedCheck(desired); ok {
			return Status{Ref: ref, State: InSync}, &ch, nil
		}
	}
	live, prefetched := known.Live[ref]
	obj := desired
	// A controller may write the object between our read and the dry run
	// (the deployment controller annotates a new Deployment): compare the two
	// only when the dry run was computed from the version we read.
	var applied *unstructured.Unstructured
	for attempt := range 5 {
		if attempt > 0 || !prefetched {
			var err error
			if live, err = e.Get(ctx, ref); err != nil {
				return Status{}, nil, err
			}
		}
		if live == nil {
			return Status{Ref: ref, State: Missing}, nil, nil
		}
		if known.Compared != nil {
			obj = known.Compared(desired, live)
		}
		if attempt == 0 {
			if ch, ok := e.verifiedBefore(known, ref, obj, live); ok {
				return Status{Ref: ref, State: InSync}, &ch, nil
			}
			tflog.Debug(ctx, "drift: no check matches, dry run", map[string]any{"object": ref.String()})
		}
		e.dryRuns.Add(1)
		var err error
		if applied, err = e.apply(ctx, obj, true); err != nil {
			return Status{}, nil, fmt.Errorf("checking drift: %w", err)
		}
		if applied.GetResourceVersion() == live.GetResourceVersion() {
			break
		}
	}
	fields := diffPaths("", comparable(live.Object), comparable(applied.Object))
	// What apply changes besides values when it takes an object over (import).
	fields = append(fields, takeOverFields(applied)...)
	if len(fields) > 0 {
		return Status{Ref: ref, State: Drifted, Fields: fields}, nil, nil
	}
	ch := checkOf(obj, live)
	e.verified.put(ref, ch)
	return Status{Ref: ref, State: InSync}, &ch, nil
}

// verifiedBefore returns the check showing obj in sync with live without
// a dry run, from the resource's records or this process's, if any.
func (e *Engine) verifiedBefore(known Known, ref Ref, obj, live *unstructured.Unstructured) (Check, bool) {
	if !sameSecretData(obj, live) {
		return Check{}, false
	}
	now := checkOf(obj, live)
	if now.Live == "" || now.Desired == "" {
		return Check{}, false
	}
	if ch, ok := known.Verified[ref.String()]; ok && ch == now {
		return now, true
	}
	if ch, ok := e.verified.get(ref); ok && ch == now {
		return now, true
	}
	return Check{}, false
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

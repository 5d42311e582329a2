package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Delete deletes refs with foreground propagation and waits until every one
// is gone, so dependents (Pods of a Deployment) are gone too when it returns.
// Objects (or kinds) that do not exist are already deleted.
func (e *Engine) Delete(ctx context.Context, refs ...Ref) error {
	if err := e.RequestDelete(ctx, refs...); err != nil {
		return err
	}
	for _, ref := range refs {
		if err := e.waitGone(ctx, ref); err != nil {
			return err
		}
	}
	return nil
}

// RequestDelete is Delete without the wait: for objects whose going waits
// on others the caller does not wait for (a claim goes once no pod mounts
// it).
func (e *Engine) RequestDelete(ctx context.Context, refs ...Ref) error {
	policy := metav1.DeletePropagationForeground
	for _, ref := range refs {
		ri, err := e.resource(ctx, ref, false)
		if isMissingKind(err) {
			continue
		}
		if err != nil {
			return err
		}
		err = ri.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", ref, apiError(err))
		}
		if FaultPoints {
			fault(ctx, FaultDeleteRequested, ref.String())
		}
	}
	return nil
}

func (e *Engine) waitGone(ctx context.Context, ref Ref) error {
	var last *unstructured.Unstructured
	err := poll(ctx, func() (bool, error) {
		live, err := e.Get(ctx, ref)
		if err == nil {
			last = live
		}
		return live == nil, err
	})
	if err != nil && ended(ctx) {
		return fmt.Errorf("timed out waiting for %s to be deleted%s", ref, blockedBy(last))
	}
	return err
}

// blockedBy explains why an object is still there: its finalizers and, for
// namespaces, the conditions that list what is left inside.
func blockedBy(obj *unstructured.Unstructured) string {
	if obj == nil {
		return ""
	}
	var why []string
	if f := obj.GetFinalizers(); len(f) > 0 {
		why = append(why, "finalizers "+strings.Join(f, ", "))
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["status"] == "True" && cm["message"] != nil {
			why = append(why, fmt.Sprint(cm["message"]))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return " (" + strings.Join(why, "; ") + ")"
}

// ended reports whether ctx is done or past its deadline. A request made
// just as the deadline passes can fail (client-go's rate limiter: "would
// exceed context deadline") before ctx itself reports the deadline.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// poll calls check with a short, growing interval until it reports done,
// fails, or ctx ends.
func poll(ctx context.Context, check func() (bool, error)) error {
	interval := 200 * time.Millisecond
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		if !Sleep(ctx, interval) {
			return ctx.Err()
		}
		interval = min(interval*2, 2*time.Second)
	}
}

// DeleteReleasing deletes ref like Delete, but first takes finalizer off
// it: for an object whose controller would hold it back for a reason the
// caller has dealt with. The other finalizers (foreground deletion) still
// run, so dependents are gone when it returns.
func (e *Engine) DeleteReleasing(ctx context.Context, ref Ref, finalizer string) error {
	ri, err := e.resource(ctx, ref, false)
	if isMissingKind(err) {
		return nil
	}
	if err != nil {
		return err
	}
	policy := metav1.DeletePropagationForeground
	err = ri.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", ref, apiError(err))
	}
	for {
		live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", ref, apiError(err))
		}
		var keep []string
		for _, f := range live.GetFinalizers() {
			if f != finalizer {
				keep = append(keep, f)
			}
		}
		if len(keep) == len(live.GetFinalizers()) {
			break
		}
		// The resourceVersion makes it a compare-and-swap: a finalizer
		// added meanwhile is not dropped unseen.
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"finalizers": keep, "resourceVersion": live.GetResourceVersion(),
		}})
		_, err = ri.Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
		if err == nil || apierrors.IsNotFound(err) {
			break
		}
		if !apierrors.IsConflict(err) {
			return fmt.Errorf("releasing %s from finalizer %s: %w", ref, finalizer, apiError(err))
		}
	}
	return e.waitGone(ctx, ref)
}

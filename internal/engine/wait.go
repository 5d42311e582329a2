package engine

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// Condition inspects a live object (nil while it does not exist) and says
// whether the wait is over; reason says what is still pending.
type Condition func(obj *unstructured.Unstructured) (done bool, reason string, err error)

// watchWindow bounds one watch request; the wait then reads the object
// again and watches anew, so a watch the server ended early costs nothing.
const watchWindow = 30 * time.Second

// Wait watches ref until cond is met or ctx ends; the timeout error carries
// the last reason so users see why, not just that, it timed out. It sees a
// change as soon as the API server has it: a rollout that completes between
// two polls would otherwise hold one of tofu's parallel slots until the next.
func (e *Engine) Wait(ctx context.Context, ref Ref, cond Condition) error {
	var reason string
	check := func(live *unstructured.Unstructured) (bool, error) {
		done, why, err := cond(live)
		reason = why
		return done, err
	}
	err := e.waitLoop(ctx, ref, check)
	if err != nil && ended(ctx) {
		return fmt.Errorf("timed out waiting for %s: %s", ref, reason)
	}
	return err
}

func (e *Engine) waitLoop(ctx context.Context, ref Ref, check func(*unstructured.Unstructured) (bool, error)) error {
	for {
		live, err := e.Get(ctx, ref)
		if err != nil {
			return err
		}
		if done, err := check(live); err != nil || done {
			return err
		}
		if live == nil {
			// Nothing to watch from: look again shortly.
			if !Sleep(ctx, 200*time.Millisecond) {
				return ctx.Err()
			}
			continue
		}
		if done, err := e.watchFrom(ctx, ref, live.GetResourceVersion(), check); err != nil || done {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// watchFrom checks every version of the object after resourceVersion until
// check is done or the watch ends (false: read it again and go on).
func (e *Engine) watchFrom(ctx context.Context, ref Ref, resourceVersion string, check func(*unstructured.Unstructured) (bool, error)) (bool, error) {
	ri, err := e.resource(ctx, ref, false)
	if err != nil {
		return false, err
	}
	timeout := int64(watchWindow.Seconds())
	w, err := ri.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", ref.Name).String(),
		ResourceVersion: resourceVersion,
		TimeoutSeconds:  &timeout,
	})
	if err != nil {
		// A watch refused (RBAC without watch, an expired version): poll.
		return false, pause(ctx)
	}
	defer w.Stop()
	for ev := range w.ResultChan() {
		var live *unstructured.Unstructured
		switch ev.Type {
		case watch.Added, watch.Modified:
			live, _ = ev.Object.(*unstructured.Unstructured)
		case watch.Deleted:
		default: // Error, Bookmark: read again
			return false, nil
		}
		if done, err := check(live); err != nil || done {
			return done, err
		}
	}
	return false, nil
}

// pause waits a short while before the next read, or until ctx ends.
func pause(ctx context.Context) error {
	if !Sleep(ctx, time.Second) {
		return ctx.Err()
	}
	return nil
}

package engine

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Condition inspects a live object (nil while it does not exist) and says
// whether the wait is over; reason says what is still pending.
type Condition func(obj *unstructured.Unstructured) (done bool, reason string, err error)

// Wait polls ref until cond is met or ctx ends; the timeout error carries the
// last reason so users see why, not just that, it timed out.
func (e *Engine) Wait(ctx context.Context, ref Ref, cond Condition) error {
	var reason string
	err := poll(ctx, func() (bool, error) {
		live, err := e.Get(ctx, ref)
		if err != nil {
			return false, err
		}
		var done bool
		done, reason, err = cond(live)
		return done, err
	})
	if err != nil && ended(ctx) {
		return fmt.Errorf("timed out waiting for %s: %s", ref, reason)
	}
	return err
}

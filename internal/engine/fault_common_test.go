package engine

import (
	"context"
	"testing"
	"time"
)

// reachFault reaches point (at "here") and reports whether it held there
// until a 1 s deadline ended the wait.
func reachFault(t *testing.T, point string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fault(ctx, point, "here")
	return ctx.Err() != nil
}

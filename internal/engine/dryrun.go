package engine

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// DryRun sends each object as a server-side apply with dryRun=All: the API
// server validates it (names, schemas, CRD validation, admission) as it
// would for a real apply and stores nothing. The render fuzz tests send a
// sample of fuzzed models this way. The objects' namespace must exist.
func (e *Engine) DryRun(ctx context.Context, objs ...*unstructured.Unstructured) error {
	var errs []error
	for _, obj := range objs {
		if _, err := e.apply(ctx, obj, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

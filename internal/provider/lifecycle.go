package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// lifecycle is what one apply of a resource plugs into applyLifecycle: its
// identity, how it renders, and its own steps around the sync. The order of
// the steps is applyLifecycle's alone.
type lifecycle interface {
	// identity names the resource in refusals: its type, its import ID and
	// the object whose annotation says a state created it.
	identity() (typeName, importID string, anchor engine.Ref)
	// shape is the identities of the objects, rendered without Vault, for
	// the refusal of a create whose names are taken.
	shape(ctx context.Context, diags *diag.Diagnostics) []render.ID
	// desired reads the inputs (Vault) and renders what the apply writes.
	desired(ctx context.Context, diags *diag.Diagnostics) []*unstructured.Unstructured
	// before is what the prior state rendered (names only): what the sync
	// prunes. Nil on create.
	before(ctx context.Context, diags *diag.Diagnostics) []*unstructured.Unstructured
	// beforeSync and afterSync are the resource's own steps around the
	// sync (afterSync includes the wait).
	beforeSync(ctx context.Context, diags *diag.Diagnostics)
	afterSync(ctx context.Context, diags *diag.Diagnostics)
}

// applyLifecycle is one create or update: refuse what another state
// manages (create only) → read inputs and render → sync (apply and prune) →
// the resource's wait → mark created → record what was verified. It returns
// what was applied, nil after an error (in diags).
func applyLifecycle(ctx context.Context, eng *engine.Engine, lc lifecycle, creating bool, priv privateData, applyErr string, diags *diag.Diagnostics) []*unstructured.Unstructured {
	typeName, importID, anchor := lc.identity()
	if creating {
		refuseManaged(ctx, eng, anchor, typeName, importID, diags)
		if diags.HasError() {
			return nil
		}
		ids := lc.shape(ctx, diags)
		if diags.HasError() {
			return nil
		}
		refuseForeign(ctx, eng, ids, typeName, importID, diags)
		if diags.HasError() {
			return nil
		}
	}
	desired := lc.desired(ctx, diags)
	if diags.HasError() {
		return nil
	}
	before := lc.before(ctx, diags)
	lc.beforeSync(ctx, diags)
	if diags.HasError() {
		return nil
	}
	if err := eng.Sync(ctx, before, desired); err != nil {
		diags.AddError(applyErr, err.Error())
		return nil
	}
	lc.afterSync(ctx, diags)
	if diags.HasError() {
		return nil
	}
	markCreated(ctx, eng, anchor, diags)
	recordApplied(ctx, eng, priv, engine.Known{}, desired)
	return desired
}

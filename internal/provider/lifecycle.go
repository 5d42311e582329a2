package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// lifecycle is what one apply of a resource plugs into applyLifecycle: its
// identity, how it renders, and its own steps. The order of the steps is
// applyLifecycle's alone.
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
	// claim takes the names the resource shares with others of its project
	// (guardNames); a no-op for a resource that shares none.
	claim(ctx context.Context, desired []*unstructured.Unstructured, diags *diag.Diagnostics)
	// sync applies desired and prunes what before has and desired has not,
	// with the resource's own steps around (syncObjects for most). It
	// returns what it applied: desired, or what it rendered again.
	sync(ctx context.Context, before, desired []*unstructured.Unstructured, diags *diag.Diagnostics) []*unstructured.Unstructured
	// wait waits until what was applied runs.
	wait(ctx context.Context, diags *diag.Diagnostics)
}

// applyLifecycle is one create or update: refuse what another state
// manages (create only) → read inputs and render → claim → sync (apply and
// prune) → wait → mark created → record what was verified. It returns what
// was applied, nil after an error (in diags).
func applyLifecycle(ctx context.Context, eng *engine.Engine, lc lifecycle, creating bool, priv privateData, diags *diag.Diagnostics) []*unstructured.Unstructured {
	typeName, importID, anchor := lc.identity()
	if creating {
		// Each check starts from the read before it (engine.WithReads).
		ctx = engine.WithReads(ctx)
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
	lc.claim(ctx, desired, diags)
	if diags.HasError() {
		return nil
	}
	applied := lc.sync(ctx, before, desired, diags)
	if diags.HasError() {
		return nil
	}
	lc.wait(ctx, diags)
	if diags.HasError() {
		return nil
	}
	markCreated(ctx, eng, anchor, diags)
	recordApplied(ctx, eng, priv, engine.Known{Applied: true}, applied)
	return applied
}

package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The one life cycle of an apply, which every resource runs (applyLifecycle), and the steps a resource plugs in.

// lifecycle is what one apply of a resource plugs into applyLifecycle: its
// identity, how it renders, and its own steps. The order of the steps is
// applyLifecycle's alone. A resource may also implement the optional steps
// below (claimsFirst, comparesLive); projectLife, applicationLife and
// databaseLife are the three.
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
	// sync applies desired and prunes what before has and desired has not
	// (engine.Sync), with the resource's own steps around. It returns what
	// it applied as rendered: desired, or what it rendered again.
	sync(ctx context.Context, before, desired []*unstructured.Unstructured, diags *diag.Diagnostics) []*unstructured.Unstructured
	// wait waits until what was applied runs.
	wait(ctx context.Context, diags *diag.Diagnostics)
}

// claimsFirst is the optional step of a resource that must claim names
// before its inputs are read: a database, whose password's Vault path an
// application of the same name reads too, so the loser of such a race
// stops before it reads or generates a password. claimFirst returns what
// the claim created, which a create that fails before its sync removes.
type claimsFirst interface {
	claimFirst(ctx context.Context, diags *diag.Diagnostics) []engine.Ref
}

// comparesLive is the optional step of a resource whose applied objects
// keep live fields it does not render (a database's StatefulSet keeps its
// immutable claim templates): the record after the apply compares what
// compared derives from the rendered and the live object, as the
// resource's refresh does.
type comparesLive interface {
	compared(desired, live *unstructured.Unstructured) *unstructured.Unstructured
}

// applyLifecycle is one create or update: refuse what another state
// manages (create only) → claim first (claimsFirst only) → read inputs and
// render → claim → sync (apply and prune) → wait → mark created → record
// what was verified. It returns what was applied, nil after an error (in
// diags).
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
	syncing := false
	if early, ok := lc.(claimsFirst); ok {
		claimed := early.claimFirst(ctx, diags)
		if diags.HasError() {
			return nil
		}
		// A create that fails before its sync (Vault down, sealed, or
		// refusing the password) removes the names it claimed: state will
		// not know them. From the sync on, what it wrote may hold data.
		if creating && len(claimed) > 0 {
			defer func() {
				if !syncing && diags.HasError() {
					if err := eng.Delete(ctx, claimed...); err != nil {
						diags.AddWarning("Objects left behind", fmt.Sprintf("Removing what the failed create made (%v): %v. The next apply adopts them.", claimed, err))
					}
				}
			}()
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
	syncing = true
	applied := lc.sync(ctx, before, desired, diags)
	if diags.HasError() {
		return nil
	}
	lc.wait(ctx, diags)
	if diags.HasError() {
		return nil
	}
	markCreated(ctx, eng, anchor, diags)
	// Applied: what the sync just applied needs no read to be recorded
	// (engine.Known; ignored with Compared, which needs the live object).
	known := engine.Known{Applied: true}
	if c, ok := lc.(comparesLive); ok {
		known.Compared = c.compared
	}
	recordApplied(ctx, eng, priv, known, applied)
	return applied
}

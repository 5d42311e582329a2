package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// apply writes the database: the password first (found or, on create,
// generated in Vault), then larger claims, then the objects, and waits for
// the StatefulSet to roll out. Objects the prior state (nil on create)
// rendered and this one does not are deleted, as for the other resources;
// volumes are never among them (claims are the StatefulSet's, not ours).
func (r *databaseResource) apply(ctx context.Context, plan, prior *databaseModel, priv privateData, diags *diag.Diagnostics) {
	creating := prior == nil
	eng := r.data.Engine
	kv, err := eng.KV()
	if err != nil {
		diags.AddError("Vault is not configured", err.Error())
		return
	}
	spec, _ := plan.spec()
	spec.Password.Mount = kv.Mount()
	ns := render.Namespace(spec.Project)
	if obj, err := eng.Get(ctx, toRef(render.NamespaceID(spec.Project))); err != nil || obj == nil {
		if err == nil {
			err = fmt.Errorf("namespace %s does not exist: create the project first (idp_project), and refer to it as project = idp_project.<x>.name", ns)
		}
		diags.AddAttributeError(path.Root("project"), "Project not found", err.Error())
		return
	}
	anchor := databaseAnchor(spec.Project, spec.Name)
	// The Secret and Service names first, before Vault is touched: an
	// application of the same name reads Vault at the same path. The claim
	// creates what does not exist yet, so it needs the objects themselves,
	// rendered without the password (which the apply below writes).
	shape, err := render.RenderDatabase(spec)
	if err != nil {
		diags.AddError("Rendering database", err.Error())
		return
	}
	if creating {
		refuseManaged(ctx, eng, anchor, "idp_database", spec.Project+"/"+spec.Name, diags)
		if diags.HasError() {
			return
		}
		refuseForeign(ctx, eng, shape.IDs(), "idp_database", spec.Project+"/"+spec.Name, diags)
		if diags.HasError() {
			return
		}
	}
	created := guardNames(ctx, eng, render.DatabaseOwner(spec.Name), shape.SharedNames(), diags)
	if diags.HasError() {
		return
	}
	// A create that fails before its apply (Vault down, sealed, or
	// refusing the password) removes the names it claimed: state will not
	// know them.
	rollback := creating
	defer func() {
		if rollback && diags.HasError() && len(created) > 0 {
			if err := eng.Delete(ctx, created...); err != nil {
				diags.AddWarning("Objects left behind", fmt.Sprintf("Removing what the failed create made (%v): %v. The next apply adopts them.", created, err))
			}
		}
	}()
	claims, err := r.claims(ctx, spec)
	if err != nil {
		diags.AddError("Reading the database's volumes", err.Error())
		return
	}
	liveSts, err := eng.Get(ctx, toRef(shape.Anchor()))
	if err != nil {
		diags.AddError("Reading the database's StatefulSet", err.Error())
		return
	}
	checkStorageClass(spec, liveSts, claims, diags)
	if diags.HasError() {
		return
	}
	if creating {
		r.checkClaimsFit(spec, claims, diags)
		if diags.HasError() {
			return
		}
		spec.Password = r.ensurePassword(ctx, kv, spec, claims, diags)
	} else {
		spec.Password = r.readPassword(ctx, spec, diags)
		if !diags.HasError() {
			r.changePasswordInServer(ctx, spec, diags)
		}
	}
	if diags.HasError() {
		return
	}
	desired, err := render.RenderDatabase(spec)
	if err != nil {
		diags.AddError("Rendering database", err.Error())
		return
	}
	r.expandClaims(ctx, spec, claims, diags)
	if diags.HasError() {
		return
	}
	// The live StatefulSet's claim templates are immutable: they are kept
	// in what is applied; the objects map still fingerprints the rendered ones.
	toApply := desired.All()
	for i, o := range toApply {
		if o == desired.StatefulSet() {
			toApply[i] = render.WithLiveClaimTemplates(o, liveSts)
		}
	}
	var before []*unstructured.Unstructured
	if prior != nil {
		priorSpec, _ := prior.spec()
		priorSpec.Password.Mount = kv.Mount() // only the names matter: what the prior state had to prune
		if set, err := render.RenderDatabase(priorSpec); err == nil {
			before = set.All()
		}
	}
	guardNames(ctx, eng, render.DatabaseOwner(spec.Name), toApply, diags)
	if diags.HasError() {
		return
	}
	rollback = false // from here on the StatefulSet may hold data
	if err := eng.Sync(ctx, before, toApply); err != nil {
		diags.AddError("Applying database", err.Error())
		return
	}
	if err := eng.WaitRollout(ctx, toRef(desired.Anchor())); err != nil {
		diags.AddError("Database did not become ready", err.Error())
		return
	}
	markCreated(ctx, eng, anchor, diags)
	recordApplied(ctx, eng, priv, engine.Known{Compared: withLiveClaimTemplates}, desired.All())
	plan.outputs()
	plan.PasswordVersion = types.Int64Value(int64(spec.Password.Version))
	plan.Objects = plannedObjects(desired.All())
}

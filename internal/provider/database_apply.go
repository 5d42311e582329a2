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

// One apply of a database, as applyLifecycle runs it: its names claimed
// first, then its volumes and password read, then the objects applied and
// the StatefulSet's rollout waited for.

// apply writes the database: the password first (found or, on create,
// generated in Vault), then larger claims, then the objects, and waits for
// the StatefulSet to roll out. Objects the prior state (nil on create)
// rendered and this one does not are deleted, as for the other resources;
// volumes are never among them (claims are the StatefulSet's, not ours).
func (r *databaseResource) apply(ctx context.Context, plan, prior *databaseModel, priv privateData, diags *diag.Diagnostics) {
	kv, err := r.data.Engine.KV()
	if err != nil {
		diags.AddError("Vault is not configured", err.Error())
		return
	}
	l := &databaseLife{r: r, kv: kv, plan: plan, prior: prior}
	l.spec, _ = plan.spec()
	l.spec.Password.Mount = kv.Mount()
	applied := applyLifecycle(ctx, r.data.Engine, l, prior == nil, priv, diags)
	if diags.HasError() {
		return
	}
	plan.outputs()
	plan.PasswordVersion = types.Int64Value(int64(l.spec.Password.Version))
	plan.Objects = plannedObjects(applied)
}

// databaseLife is one apply of a database.
type databaseLife struct {
	r           *databaseResource
	kv          *engine.KV
	plan, prior *databaseModel
	// spec has the password once desired has read it; set is what desired
	// rendered with it, shaped what was rendered before, without it.
	spec        render.Database
	set, shaped *render.DatabaseSet
}

func (l *databaseLife) identity() (string, string, engine.Ref) {
	return "idp_database", l.spec.Project + "/" + l.spec.Name, databaseAnchor(l.spec.Project, l.spec.Name)
}

// shapeSet is the database rendered without its password, once: its
// names, and the objects a claim creates where none exist yet (the apply
// writes the password into them).
func (l *databaseLife) shapeSet(diags *diag.Diagnostics) *render.DatabaseSet {
	if l.shaped == nil {
		set, err := render.RenderDatabase(l.spec)
		if err != nil {
			diags.AddError("Rendering database", err.Error())
			return nil
		}
		l.shaped = set
	}
	return l.shaped
}

func (l *databaseLife) shape(_ context.Context, diags *diag.Diagnostics) []render.ID {
	if set := l.shapeSet(diags); set != nil {
		return set.IDs()
	}
	return nil
}

// claimFirst claims the Secret and Service names before Vault is touched:
// an application of the same name reads Vault at the same path. The claim
// creates what does not exist yet, in the project's namespace, which must
// exist.
func (l *databaseLife) claimFirst(ctx context.Context, diags *diag.Diagnostics) []engine.Ref {
	eng := l.r.data.Engine
	if obj, err := eng.Get(ctx, toRef(render.NamespaceID(l.spec.Project))); err != nil || obj == nil {
		if err == nil {
			err = fmt.Errorf("namespace %s does not exist: create the project first (idp_project), and refer to it as project = idp_project.<x>.name", render.Namespace(l.spec.Project))
		}
		diags.AddAttributeError(path.Root("project"), "Project not found", err.Error())
		return nil
	}
	shape := l.shapeSet(diags)
	if diags.HasError() {
		return nil
	}
	return guardNames(ctx, eng, render.DatabaseOwner(l.spec.Name), shape.SharedNames(), diags)
}

// desired reads the volumes and the password (generated on create, never
// after; a rotation is carried into the running server first), renders
// with it and grows kept claims to size: all before anything of the set is
// written, so a failure here changes nothing else. What it returns keeps
// the live StatefulSet's claim templates, which are immutable; the objects
// map still fingerprints the rendered ones (set).
func (l *databaseLife) desired(ctx context.Context, diags *diag.Diagnostics) []*unstructured.Unstructured {
	r, eng, spec := l.r, l.r.data.Engine, l.spec
	claims, err := r.claims(ctx, spec)
	if err != nil {
		diags.AddError("Reading the database's volumes", err.Error())
		return nil
	}
	liveSts, err := eng.Get(ctx, databaseAnchor(spec.Project, spec.Name))
	if err != nil {
		diags.AddError("Reading the database's StatefulSet", err.Error())
		return nil
	}
	checkStorageClass(spec, liveSts, claims, diags)
	if diags.HasError() {
		return nil
	}
	if l.prior == nil {
		r.checkClaimsFit(spec, claims, diags)
		if diags.HasError() {
			return nil
		}
		l.spec.Password = r.ensurePassword(ctx, l.kv, spec, claims, diags)
	} else {
		l.spec.Password = r.readPassword(ctx, spec, diags)
		if !diags.HasError() {
			r.changePasswordInServer(ctx, l.spec, diags)
		}
	}
	if diags.HasError() {
		return nil
	}
	if l.set, err = render.RenderDatabase(l.spec); err != nil {
		diags.AddError("Rendering database", err.Error())
		return nil
	}
	r.expandClaims(ctx, l.spec, claims, diags)
	if diags.HasError() {
		return nil
	}
	toApply := l.set.All()
	for i, o := range toApply {
		if o == l.set.StatefulSet() {
			toApply[i] = render.WithLiveClaimTemplates(o, liveSts)
		}
	}
	return toApply
}

func (l *databaseLife) before(context.Context, *diag.Diagnostics) []*unstructured.Unstructured {
	if l.prior == nil {
		return nil
	}
	priorSpec, _ := l.prior.spec()
	priorSpec.Password.Mount = l.kv.Mount() // only the names matter: what the prior state had to prune
	set, err := render.RenderDatabase(priorSpec)
	if err != nil {
		return nil
	}
	return set.All()
}

func (l *databaseLife) claim(ctx context.Context, desired []*unstructured.Unstructured, diags *diag.Diagnostics) {
	guardNames(ctx, l.r.data.Engine, render.DatabaseOwner(l.spec.Name), desired, diags)
}

// sync applies and prunes; it returns the rendered set (without the live
// claim templates), which the objects map and the record fingerprint.
func (l *databaseLife) sync(ctx context.Context, before, desired []*unstructured.Unstructured, diags *diag.Diagnostics) []*unstructured.Unstructured {
	if err := l.r.data.Engine.Sync(ctx, before, desired); err != nil {
		diags.AddError("Applying database", err.Error())
		return nil
	}
	return l.set.All()
}

func (l *databaseLife) wait(ctx context.Context, diags *diag.Diagnostics) {
	if err := l.r.data.Engine.WaitRollout(ctx, toRef(l.set.Anchor())); err != nil {
		diags.AddError("Database did not become ready", err.Error())
	}
}

func (l *databaseLife) compared(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	return withLiveClaimTemplates(desired, live)
}

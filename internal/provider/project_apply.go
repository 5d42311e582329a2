package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// One apply of a project, as applyLifecycle runs it (projectLife): its EventBus replaced around the sync.

// apply writes the project: Vault first (so a missing secret stops us
// before anything reaches the cluster), then every object, then prunes
// objects the prior state had and this one does not.
func (r *projectResource) apply(ctx context.Context, plan, prior *projectModel, priv privateData, diags *diag.Diagnostics) {
	desired := applyLifecycle(ctx, r.data.Engine, &projectLife{r: r, plan: plan, prior: prior}, prior == nil, priv, diags)
	if diags.HasError() {
		return
	}
	plan.ID = plan.Name
	plan.Objects = plannedObjects(desired)
}

// projectLife is one apply of a project, as applyLifecycle runs it.
type projectLife struct {
	r           *projectResource
	plan, prior *projectModel
}

func (l *projectLife) identity() (string, string, engine.Ref) {
	return "idp_project", l.plan.Name.ValueString(), projectAnchor(l.plan.Name.ValueString())
}

func (l *projectLife) shape(ctx context.Context, diags *diag.Diagnostics) []render.ID {
	// Before Vault is read: only the names matter.
	spec, _ := l.plan.spec(ctx, diags)
	if err := l.r.data.addPlatformIsolation(&spec); err != nil {
		diags.AddError("Isolation settings unknown", err.Error())
		return nil
	}
	shape, err := render.RenderProject(spec)
	if err != nil {
		diags.AddError("Rendering project", err.Error())
		return nil
	}
	return shape.IDs()
}

func (l *projectLife) desired(ctx context.Context, diags *diag.Diagnostics) []*unstructured.Unstructured {
	return l.r.desired(ctx, l.plan, true, diags)
}

func (l *projectLife) before(ctx context.Context, diags *diag.Diagnostics) []*unstructured.Unstructured {
	if l.prior == nil {
		return nil
	}
	spec, _ := l.prior.spec(ctx, diags)
	before, _ := render.ProjectObjects(spec) // without Vault values: only the names matter
	return before
}

func (l *projectLife) claim(context.Context, []*unstructured.Unstructured, *diag.Diagnostics) {}

// sync replaces the EventBus when its type changes, before the apply, and
// moves the EventSources and Sensors onto the new one after it.
func (l *projectLife) sync(ctx context.Context, before, desired []*unstructured.Unstructured, diags *diag.Diagnostics) []*unstructured.Unstructured {
	eng, name := l.r.data.Engine, l.plan.Name.ValueString()
	switched := l.prior != nil && l.prior.eventBusType() != l.plan.eventBusType()
	if switched {
		if err := replaceEventBus(ctx, eng, name, l.prior.eventBusType()); err != nil {
			diags.AddAttributeError(path.Root("eventbus_type"), "Replacing the EventBus", err.Error())
			return nil
		}
	}
	if err := eng.Sync(ctx, before, desired); err != nil {
		diags.AddError("Applying project", err.Error())
		return nil
	}
	if switched {
		if err := reconnectEvents(ctx, eng, name); err != nil {
			diags.AddAttributeError(path.Root("eventbus_type"), "Moving the project's EventSources and Sensors to the new EventBus", err.Error())
			return nil
		}
	}
	return desired
}

func (l *projectLife) wait(context.Context, *diag.Diagnostics) {}

// desired renders the project with current Vault values, for an apply
// (write) or a refresh, as the application's desired. On refresh a secret
// missing in Vault is a warning, and its Secret is rendered without data
// (and without a synced version).
func (r *projectResource) desired(ctx context.Context, m *projectModel, write bool, diags *diag.Diagnostics) []*unstructured.Unstructured {
	refresh := !write
	spec, _ := m.spec(ctx, diags)
	if err := r.data.addPlatformIsolation(&spec); err != nil {
		diags.AddError("Isolation settings unknown", err.Error())
	}
	spec.GitHubAccess = r.data.readVaultSecret(ctx, spec.GitHubAccess.Path, path.Root("github_access_vault_path"), "username and token", refresh, diags)
	spec.Registry = r.data.readVaultSecret(ctx, spec.Registry.Path, path.Root("registry_vault_path"), ".dockerconfigjson (or username and password)", refresh, diags)
	host, err := r.data.set.RegistryHost.get()
	if err != nil {
		diags.AddError("Registry host unknown", err.Error())
	}
	spec.RegistryHost = host
	if diags.HasError() {
		return nil
	}
	objs, err := render.ProjectObjects(spec)
	if err != nil {
		diags.AddError("Rendering project", err.Error())
	}
	return objs
}

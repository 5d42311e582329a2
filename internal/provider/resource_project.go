package provider

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The idp_project resource: the framework's calls (plan, create, read, update, delete, import). Its schema is in
// project_schema.go, its model in project_model.go, its apply (applyLifecycle's steps) in project_apply.go.

var (
	_ resource.Resource                = &projectResource{}
	_ resource.ResourceWithConfigure   = &projectResource{}
	_ resource.ResourceWithModifyPlan  = &projectResource{}
	_ resource.ResourceWithImportState = &projectResource{}
)

// NewProjectResource is the idp_project resource.
func NewProjectResource() resource.Resource { return &projectResource{} }

type projectResource struct {
	data *ProviderData
}

func (r *projectResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (r *projectResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerData(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan shows, offline, which child objects the apply will write.
func (r *projectResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan projectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if req.State.Raw.IsNull() {
		r.refusePlatformNamespace(plan.Name, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	if !req.State.Raw.IsNull() {
		var prior projectModel
		resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
		checkEventBusChange(&prior, &plan, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	spec, known := plan.spec(ctx, &resp.Diagnostics)
	mount, err := r.data.set.KVMount.get()
	spec.GitHubAccess.Mount, spec.Registry.Mount = mount, mount
	if !known || err != nil || r.data.addPlatformIsolation(&spec) != nil {
		plan.Objects = types.MapUnknown(types.StringType)
	} else {
		objs, err := render.ProjectObjects(spec)
		if err != nil {
			resp.Diagnostics.AddError("Rendering project", err.Error())
			return
		}
		plan.Objects = plannedObjects(objs)
	}
	plan.ID = plan.Name
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// refusePlatformNamespace rejects, at plan, a new project named after a
// namespace of the platform (the provider's isolation.allowed_namespaces):
// a project owns its namespace, and its destroy deletes it. Skipped while
// the name or the setting is unknown; an existing project is left alone.
func (r *projectResource) refusePlatformNamespace(name types.String, diags *diag.Diagnostics) {
	platform, _, err := r.data.Isolation()
	if err != nil || name.IsUnknown() || !slices.Contains(platform, name.ValueString()) {
		return
	}
	diags.AddAttributeError(path.Root("name"), "Namespace of the platform",
		fmt.Sprintf("%q is one of the platform's namespaces (the provider's isolation.allowed_namespaces: %s), where the ingress "+
			"and event controllers run. A project's name is its namespace, which the project owns and its destroy deletes "+
			"with everything in it. Choose another name.", name.ValueString(), strings.Join(platform, ", ")))
}

func (r *projectResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan projectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, defaultCreateTimeout, &resp.Diagnostics)
	defer cancel()

	r.apply(ctx, &plan, nil, resp.Private, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setProjectIdentity(ctx, resp.Identity, plan.Name)...)
}

func (r *projectResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state projectModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Read, defaultReadTimeout, &resp.Diagnostics)
	defer cancel()
	ctx = engine.ForRefresh(ctx) // reads from one LIST per kind (engine/snapshot.go)

	eng := r.data.Engine
	ctx = r.readAhead(ctx, &state)
	nsRef := toRef(render.NamespaceID(state.Name.ValueString()))
	ns, err := eng.Get(ctx, nsRef)
	if err != nil {
		resp.Diagnostics.AddError("Reading project", err.Error())
		return
	}
	if ns == nil || ns.GetDeletionTimestamp() != nil {
		resp.State.RemoveResource(ctx)
		return
	}
	state.normalizeEventBus()
	desired := r.desired(ctx, &state, false, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	known := engine.Known{Live: map[engine.Ref]*unstructured.Unstructured{nsRef: ns}}
	state.Objects, err = observedObjects(ctx, eng, resp.Private, known, desired)
	if err != nil {
		resp.Diagnostics.AddError("Reading project objects", err.Error())
		return
	}
	// A Secret whose Vault secret is missing (warned about above) cannot be
	// compared: its entry says why the next apply will change or fail.
	entries := state.Objects.Elements()
	for _, o := range desired {
		if ann := o.GetAnnotations(); o.GetKind() == "Secret" && ann[render.AnnotationVaultPath] != "" && ann[render.AnnotationVaultVersion] == "" {
			entries[engine.RefOf(o).String()] = types.StringValue("Vault " + ann[render.AnnotationVaultPath] + " has no secret")
		}
	}
	state.Objects = types.MapValueMust(types.StringType, entries)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(setProjectIdentity(ctx, resp.Identity, state.Name)...)
}

// readAhead starts, all at once, the LISTs of the kinds a refresh of m
// reads (engine.Prefetch, from the names the configuration renders) and
// its Vault reads.
func (r *projectResource) readAhead(ctx context.Context, m *projectModel) context.Context {
	var diags diag.Diagnostics // the read reports them
	spec, _ := m.spec(ctx, &diags)
	if r.data.addPlatformIsolation(&spec) == nil {
		if shape, err := render.RenderProject(spec); err == nil {
			r.data.Engine.Prefetch(ctx, toRefs(shape.IDs())...)
		}
	}
	return r.data.readVaultAhead(ctx, spec.GitHubAccess.Path, spec.Registry.Path)
}

func (r *projectResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior projectModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, defaultUpdateTimeout, &resp.Diagnostics)
	defer cancel()

	r.apply(ctx, &plan, &prior, resp.Private, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setProjectIdentity(ctx, resp.Identity, plan.Name)...)
}

func (r *projectResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state projectModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, defaultDeleteTimeout, &resp.Diagnostics)
	defer cancel()

	eng := r.data.Engine
	ns := render.Namespace(state.Name.ValueString())
	if !state.DeleteData.ValueBool() {
		pvcs, err := eng.List(ctx, "v1", "PersistentVolumeClaim", ns, "")
		if err != nil {
			resp.Diagnostics.AddError("Checking for data before delete", err.Error())
			return
		}
		var names []string
		for _, p := range pvcs {
			// The JetStream EventBus's store: undelivered events, not data.
			if !render.IsEventBusVolumeClaim(state.Name.ValueString(), p.GetName()) {
				names = append(names, p.GetName())
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			resp.Diagnostics.AddAttributeError(path.Root("delete_data"), "Project holds data",
				fmt.Sprintf("Namespace %s holds %d PersistentVolumeClaim(s) (%s); deleting the project deletes their volumes. "+
					"Nothing was deleted. To delete the data too, set delete_data = true, apply, then destroy.",
					ns, len(names), strings.Join(names, ", ")))
			return
		}
	}
	// The namespace takes everything in it along; secrets in Vault stay.
	if err := eng.Delete(ctx, toRef(render.NamespaceID(state.Name.ValueString()))); err != nil {
		resp.Diagnostics.AddError("Deleting project", err.Error())
	}
}

// ImportState adopts an existing project in place: the model is rebuilt
// from the live objects, then the next apply takes their fields over.
func (r *projectResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	name := projectImportID(ctx, req, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !dnsLabel.MatchString(name) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%q is not a project name (a DNS-1123 label)", name))
		return
	}
	m, summary, err := r.importModel(ctx, name)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	resp.Diagnostics.Append(setProjectIdentity(ctx, resp.Identity, m.Name)...)
}

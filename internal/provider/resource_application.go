package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The idp_application resource: the framework's calls (plan, create, read, update, delete, import). Its schema is
// in application_schema.go, its model in application_model.go, its apply (applyLifecycle's steps) in
// application_apply.go.

var (
	_ resource.Resource                   = &applicationResource{}
	_ resource.ResourceWithConfigure      = &applicationResource{}
	_ resource.ResourceWithValidateConfig = &applicationResource{}
	_ resource.ResourceWithModifyPlan     = &applicationResource{}
	_ resource.ResourceWithImportState    = &applicationResource{}
)

// NewApplicationResource is the idp_application resource.
func NewApplicationResource() resource.Resource { return &applicationResource{} }

type applicationResource struct {
	data *ProviderData
}

func (r *applicationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_application"
}

func (r *applicationResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks what single-attribute validators cannot: names
// derived from project and application (their length, and those that would
// meet the project's or another object's).
func (r *applicationResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m applicationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Project.IsUnknown() || m.Name.IsUnknown() {
		return
	}
	if n := len(m.Project.ValueString()) + len(m.Name.ValueString()); n > render.MaxProjectAndApplication {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Name too long",
			fmt.Sprintf("project and name together have %d characters; at most %d keep the EventSource's Service name %q within 63 characters.",
				n, render.MaxProjectAndApplication, render.EventSourceService(m.Project.ValueString(), m.Name.ValueString())))
	}
	checkChildName(m.Project.ValueString(), m.Name.ValueString(), &resp.Diagnostics)
	checkDomainRoutes(m.Project.ValueString(), m.Name.ValueString(), knownStrings(m.Domains), &resp.Diagnostics)
	checkDatabaseLinks(ctx, m.Project.ValueString(), m.Databases, &resp.Diagnostics)
}

// ModifyPlan keeps CI's commit when none is pinned and shows, offline,
// which child objects the apply writes.
func (r *applicationResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan, config applicationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	var state *applicationModel
	if !req.State.Raw.IsNull() {
		state = &applicationModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if config.Git != nil && config.Git.Hash.IsNull() {
		// Unpinned: whatever CI deployed stays (null before the first build).
		plan.Git.Hash = types.StringNull()
		if state != nil && state.Git != nil {
			plan.Git.Hash = state.Git.Hash
		}
	}
	if plan.BuildOnCreate.IsUnknown() && !r.data.set.GitHubTokenUnknown {
		gh, err := r.data.GitHub()
		plan.BuildOnCreate = types.BoolValue(err == nil && gh != nil)
	}
	if g := plan.Git; g != nil && (state == nil || state.Git == nil || *state.Git != *g) {
		if err := r.data.checkRepository(ctx, plan.Project, g.Owner, g.Repo, g.Branch); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("git"), "GitHub repository check failed", err.Error())
			return
		}
	}
	plan.ID = types.StringUnknown()
	if !plan.Project.IsUnknown() && !plan.Name.IsUnknown() {
		plan.ID = types.StringValue(plan.Project.ValueString() + "/" + plan.Name.ValueString())
	}

	spec, known := plan.spec(ctx, &resp.Diagnostics)
	spec.Pinned = pinnedIn(&config)
	known = r.fillProviderSettings(&spec, nil) == nil && known
	if !known {
		plan.Objects, plan.Image, plan.WebhookURL = types.MapUnknown(types.StringType), types.StringUnknown(), types.StringUnknown()
	} else {
		objs, err := render.ApplicationObjects(spec)
		if err != nil {
			resp.Diagnostics.AddError("Rendering application", err.Error())
			return
		}
		plan.Objects = plannedObjects(objs)
		plan.Image, plan.WebhookURL = imageOf(spec), types.StringValue(render.WebhookURL(spec.WebhookBaseURL, spec.Project, spec.Name))
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	if state != nil && !spec.Pinned && !resp.Diagnostics.HasError() && !resp.Plan.Raw.Equal(req.State.Raw) {
		unknownCommit(&plan, state) // the apply deploys what CI runs then
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	}
}

func (r *applicationResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan applicationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, defaultCreateTimeout, &resp.Diagnostics)
	defer cancel()

	var config applicationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	pinned := pinnedIn(&config)
	r.apply(ctx, &plan, nil, pinned, resp.Private, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(setPinned(ctx, resp.Private, pinned)...)
	if plan.BuildOnCreate.ValueBool() && plan.Git.Hash.IsNull() {
		r.firstBuild(ctx, &plan, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, plan.Project, plan.Name)...)
}

func (r *applicationResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state applicationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Read, defaultReadTimeout, &resp.Diagnostics)
	defer cancel()
	ctx = engine.ForRefresh(ctx) // reads from one LIST per kind (engine/snapshot.go)

	eng := r.data.Engine
	p, a := state.Project.ValueString(), state.Name.ValueString()
	// Every kind it reads is listed at once (engine.Prefetch), beside its
	// Vault reads.
	eng.Prefetch(ctx, toRefs(render.InventoryOfApplication(p, a, knownStrings(state.Domains)).All())...)
	var diags diag.Diagnostics // desired reports them
	if spec, _ := state.spec(ctx, &diags); !diags.HasError() {
		ctx = r.data.readVaultAhead(ctx, spec.AppSecret.Path, spec.WebhookSecret.Path)
	}
	es, err := eng.Get(ctx, toRef(render.EventSourceID(p, a)))
	if err != nil {
		resp.Diagnostics.AddError("Reading application", err.Error())
		return
	}
	if es == nil {
		resp.State.RemoveResource(ctx)
		return
	}
	// The deployed commit is whatever the Deployment runs now: CI may have
	// rolled out a new one since the last apply.
	state.Git.Hash = types.StringNull()
	dep, err := eng.Get(ctx, toRef(render.DeploymentID(p, a)))
	if err != nil {
		resp.Diagnostics.AddError("Reading application", err.Error())
		return
	}
	if dep != nil {
		if tag := render.ImageTag(render.ContainerImage(dep, render.Deployment(a))); tag != "" {
			state.Git.Hash = types.StringValue(tag)
		}
	} else {
		// Deleted, or never built: the release record tells which. A
		// recorded commit makes the missing Deployment show in the plan,
		// and the apply restores it at that commit.
		cm, err := eng.Get(ctx, toRef(render.ReleaseConfigMapID(p, a)))
		if err != nil {
			resp.Diagnostics.AddError("Reading application", err.Error())
			return
		}
		if commit := render.ParseReleaseConfigMap(cm); commit != "" {
			state.Git.Hash = types.StringValue(commit)
		}
	}
	desired, spec := r.desired(ctx, &state, false, pinnedPrivate(ctx, req.Private), &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	state.Image = imageOf(spec)
	state.WebhookURL = types.StringValue(render.WebhookURL(spec.WebhookBaseURL, p, a))
	known := engine.Known{Live: map[engine.Ref]*unstructured.Unstructured{engine.RefOf(es): es}}
	if dep != nil {
		known.Live[engine.RefOf(dep)] = dep
	}
	state.Objects, err = observedObjects(ctx, eng, resp.Private, known, desired.All())
	if err != nil {
		resp.Diagnostics.AddError("Reading application objects", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, state.Project, state.Name)...)
}

func (r *applicationResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior applicationModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Update, defaultUpdateTimeout, &resp.Diagnostics)
	defer cancel()

	var config applicationModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	pinned, wasPinned := pinnedIn(&config), pinnedPrivate(ctx, req.Private)
	r.apply(ctx, &plan, &prior, pinned, resp.Private, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(setPinned(ctx, resp.Private, pinned)...)
	if wasPinned && !pinned {
		// Unpinned: pushes made during the freeze were built but not
		// deployed; CI now deploys the branch head.
		r.firstBuild(ctx, &plan, &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, plan.Project, plan.Name)...)
}

func (r *applicationResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state applicationModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, defaultDeleteTimeout, &resp.Diagnostics)
	defer cancel()

	// Delete every object the application could have, including the
	// Deployment and routes CI created since the last apply.
	spec, _ := state.spec(ctx, &resp.Diagnostics)
	_ = r.fillProviderSettings(&spec, nil) // the hook's URL
	inv := render.InventoryOfApplication(spec.Project, spec.Name, spec.Domains)
	eng := r.data.Engine
	// First what starts runs (Sensor, WorkflowTemplate, the catch-up), then the runs in
	// flight with their pods, so no deploy step re-creates what follows.
	// The EventSource goes last, after GitHub's hook and the Vault secret:
	// refresh takes the application for gone without it, so a destroy
	// interrupted before then is finished by the next one.
	rest := toRefs(inv.Rest)
	if err := eng.Delete(ctx, toRefs(inv.Starters)...); err != nil {
		resp.Diagnostics.AddError("Deleting application", err.Error())
		return
	}
	runs, err := eng.List(ctx, "argoproj.io/v1alpha1", "Workflow", render.Namespace(spec.Project), render.LabelApplication+"="+spec.Name)
	if err == nil {
		for _, wf := range runs {
			rest = append([]engine.Ref{engine.RefOf(&wf)}, rest...)
		}
		err = eng.Delete(ctx, rest...)
	}
	if err != nil {
		resp.Diagnostics.AddError("Deleting application", err.Error())
		return
	}
	r.deleteHook(ctx, spec, &resp.Diagnostics)
	// The webhook secret was generated for this application alone.
	if kv, err := eng.KV(); err == nil {
		err = kv.Destroy(ctx, render.WebhookSecretVaultPath(spec.Project, spec.Name))
		if err != nil {
			resp.Diagnostics.AddWarning("Webhook secret left in Vault", err.Error())
		}
	}
	if err := eng.Delete(ctx, toRef(inv.Anchor)); err != nil {
		resp.Diagnostics.AddError("Deleting application", err.Error())
	}
}

// ImportState adopts an existing application in place, rebuilding the
// model from the live EventSource, Sensor, Service, Deployment and routes.
func (r *applicationResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := childImportID(ctx, req, &resp.Diagnostics)
	p, a, ok := strings.Cut(id, "/")
	if !ok || !dnsLabel.MatchString(p) || !dnsLabel.MatchString(a) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%q is not <project>/<application>", id))
		return
	}
	m, err := r.importModel(ctx, p, a)
	if err != nil {
		resp.Diagnostics.AddError("Importing application "+id, err.Error())
		return
	}
	// A pinned application's template has no deploy steps: refresh must
	// render it that way too.
	tmpl, err := r.data.Engine.Get(ctx, toRef(render.WorkflowTemplateID(p, a)))
	if err != nil {
		resp.Diagnostics.AddError("Importing application "+id, err.Error())
		return
	}
	resp.Diagnostics.Append(setPinned(ctx, resp.Private, render.ParseWorkflowTemplatePinned(tmpl))...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, m.Project, m.Name)...)
}

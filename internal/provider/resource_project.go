package provider

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

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

type projectModel struct {
	ID                    types.String   `tfsdk:"id"`
	Name                  types.String   `tfsdk:"name"`
	EventBusType          types.String   `tfsdk:"eventbus_type"`
	EventBusReplicas      types.Int64    `tfsdk:"eventbus_replicas"`
	EventBusVolumeSize    types.String   `tfsdk:"eventbus_volume_size"`
	Labels                types.Map      `tfsdk:"labels"`
	Annotations           types.Map      `tfsdk:"annotations"`
	Isolation             types.Bool     `tfsdk:"isolation"`
	AllowedNamespaces     types.Set      `tfsdk:"allowed_namespaces"`
	GitHubAccessVaultPath types.String   `tfsdk:"github_access_vault_path"`
	RegistryVaultPath     types.String   `tfsdk:"registry_vault_path"`
	DeleteData            types.Bool     `tfsdk:"delete_data"`
	Objects               types.Map      `tfsdk:"objects"`
	Timeouts              timeouts.Value `tfsdk:"timeouts"`
}

func (r *projectResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_project"
}

func (r *projectResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A project: its namespace, CI plumbing (Argo Events EventBus, workflow service account " +
			"with least-privilege RBAC), GitHub and registry credentials synced from Vault, and network isolation. " +
			"Applications and databases are created in it with `idp_application` and `idp_database`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The project name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: fmt.Sprintf("Project name, also its namespace. A DNS-1123 label of at most %d characters "+
					"starting with a letter, so that every derived name stays valid (the EventBus StatefulSet's pods carry a "+
					"label `eventbus-<name>-ci-eventbus-stan-<revision hash>` of at most 63; applications' webhook Services "+
					"start with the name). Not `default`, `kube-*` or one of the provider's `isolation.allowed_namespaces`: the "+
					"project owns its namespace, and destroy deletes it. A create refuses a namespace (or other object) that "+
					"exists without this provider's label or field manager; `tofu import` adopts a project that the idp chart "+
					"or another state made. Changing it replaces the project.", render.MaxProjectName),
				Validators:    projectNameValidators(),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"eventbus_type": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The project's Argo Events EventBus: `jetstream` (NATS JetStream: a volume per replica, " +
					"user/password auth and TLS that the Argo Events controller generates) or `nats` (native NATS Streaming, " +
					"what the idp chart made: no auth, events in an emptyDir; end of life since June 2023, deprecated in Argo " +
					"Events). Unset: `jetstream` for a new project, and an existing or imported project keeps the type it has. " +
					"Changing it replaces the EventBus under the same name (the project and its applications stay) and " +
					"restarts the project's EventSources and Sensors on the new bus: a push that arrives meanwhile, about a " +
					"minute, may not be built. See the importing guide, \"Moving the EventBus to JetStream\".",
				Validators:    []validator.String{stringvalidator.OneOf(render.EventBusJetStream, render.EventBusNATS)},
				PlanModifiers: []planmodifier.String{eventBusTypeDefault{}},
			},
			"eventbus_replicas": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(3),
				MarkdownDescription: "NATS replicas of the project's EventBus. Argo Events runs at least 3.",
				Validators:          []validator.Int64{int64validator.Between(3, 9)},
			},
			"eventbus_volume_size": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(defaultEventBusVolume),
				MarkdownDescription: "Volume of each JetStream EventBus replica (the cluster's default StorageClass), a " +
					"Kubernetes quantity. It holds events until their Sensor takes them: small. It cannot change on an existing " +
					"JetStream bus (the claim template is immutable). Ignored by `nats`. Default `" + defaultEventBusVolume + "`.",
				Validators: []validator.String{quantityValidator{}},
			},
			"labels": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Labels for the project's namespace, in addition to `app.kubernetes.io/managed-by`.",
				Validators:          []validator.Map{labelsValidator{}},
			},
			"annotations": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Annotations for the project's namespace.",
				Validators:          []validator.Map{labelsValidator{annotations: true}},
			},
			"isolation": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Admit traffic to the project's pods only from the project itself, from the " +
					"platform's ingress and event controllers (the provider's `isolation` block) and from " +
					"`allowed_namespaces` (a NetworkPolicy). Default `true`.",
			},
			"allowed_namespaces": schema.SetAttribute{
				Optional: true, Computed: true, ElementType: types.StringType,
				Default: setdefault.StaticValue(setValue(nil)),
				MarkdownDescription: "More namespaces whose pods may reach the project's pods when `isolation` is on " +
					"(for example monitoring), in addition to the provider's `isolation.allowed_namespaces`, where the " +
					"ingress and event controllers run. Default none.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(nameValidators(63)...)},
			},
			"github_access_vault_path": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Vault KV v2 path (under the provider's `vault.kv_mount`) holding `username` and " +
					"`token` for GitHub. Defaults to `<name>-github-access`.",
				Validators: []validator.String{vaultPathValidator{}},
			},
			"registry_vault_path": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Vault KV v2 path holding the registry credentials: either `.dockerconfigjson`, or " +
					"`username` and `password` for the provider's `registry.host`. Defaults to `<name>-registry`.",
				Validators: []validator.String{vaultPathValidator{}},
			},
			"delete_data": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Allow destroy to delete the namespace while it holds PersistentVolumeClaims " +
					"(their volumes are deleted with it). Set it and apply before destroying. Default `false`.",
			},
			"objects": objectsAttribute(),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
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

// spec converts the model to render's input, reporting whether every
// value is known (plans of new projects may hold unknowns).
func (m *projectModel) spec(ctx context.Context, diags *diag.Diagnostics) (render.Project, bool) {
	known := !m.Name.IsUnknown() && !m.EventBusType.IsUnknown() && !m.EventBusReplicas.IsUnknown() &&
		!m.EventBusVolumeSize.IsUnknown() && !m.Labels.IsUnknown() &&
		!m.Annotations.IsUnknown() && !m.Isolation.IsUnknown() && !m.AllowedNamespaces.IsUnknown() &&
		!m.GitHubAccessVaultPath.IsUnknown() && !m.RegistryVaultPath.IsUnknown()
	name := m.Name.ValueString()
	p := render.Project{
		Name:               name,
		EventBusType:       m.eventBusType(),
		EventBusReplicas:   m.EventBusReplicas.ValueInt64(),
		EventBusVolumeSize: m.EventBusVolumeSize.ValueString(),
		Labels:             stringMap(ctx, m.Labels, diags),
		Annotations:        stringMap(ctx, m.Annotations, diags),
		Isolation:          m.Isolation.ValueBool(),
		AllowedNamespaces:  stringSet(ctx, m.AllowedNamespaces, diags),
		GitHubAccess:       render.VaultSecret{Path: orDefault(m.GitHubAccessVaultPath, render.GitHubAccessVaultPath(name))},
		Registry:           render.VaultSecret{Path: orDefault(m.RegistryVaultPath, render.RegistryVaultPath(name))},
	}
	return p, known
}

func orDefault(v types.String, def string) string {
	if v.IsNull() || v.IsUnknown() || v.ValueString() == "" {
		return def
	}
	return v.ValueString()
}

// addPlatformIsolation adds what the provider's isolation block admits to
// what the project itself admits.
func (d *ProviderData) addPlatformIsolation(p *render.Project) error {
	namespaces, cidrs, err := d.Isolation()
	if err != nil {
		return err
	}
	all := append(append([]string{}, namespaces...), p.AllowedNamespaces...)
	sort.Strings(all)
	p.AllowedNamespaces, p.AllowedCIDRs = slices.Compact(all), cidrs
	return nil
}

// without returns the items of list that are not in drop.
func without(list, drop []string) []string {
	var out []string
	for _, v := range list {
		if !slices.Contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

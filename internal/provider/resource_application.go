package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

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

type applicationModel struct {
	ID                    types.String   `tfsdk:"id"`
	Project               types.String   `tfsdk:"project"`
	Name                  types.String   `tfsdk:"name"`
	Git                   *gitModel      `tfsdk:"git"`
	Port                  types.Int64    `tfsdk:"port"`
	Replicas              types.Int64    `tfsdk:"replicas"`
	Domains               types.Set      `tfsdk:"domains"`
	AppSecretVaultPath    types.String   `tfsdk:"app_secret_vault_path"`
	WebhookSecretRotation types.String   `tfsdk:"webhook_secret_rotation"`
	BuildOnCreate         types.Bool     `tfsdk:"build_on_create"`
	RolloutTimeout        types.String   `tfsdk:"rollout_timeout"`
	BuildTimeout          types.String   `tfsdk:"build_timeout"`
	Databases             types.Set      `tfsdk:"databases"`
	Dispatch              *dispatchModel `tfsdk:"dispatch"`
	Image                 types.String   `tfsdk:"image"`
	WebhookURL            types.String   `tfsdk:"webhook_url"`
	Objects               types.Map      `tfsdk:"objects"`
	Timeouts              timeouts.Value `tfsdk:"timeouts"`
}

// databaseLinkModel is an element of databases: the idp_database's own
// attributes of that name (tofu drops the others when a whole
// idp_database is given).
type databaseLinkModel struct {
	Project types.String `tfsdk:"project"`
	Name    types.String `tfsdk:"name"`
	Type    types.String `tfsdk:"type"`
	Port    types.Int64  `tfsdk:"port"`
	// PasswordVersion restarts the pods when the database's password is
	// rotated.
	PasswordVersion types.Int64 `tfsdk:"password_version"`
}

var databaseLinkTypes = map[string]attr.Type{
	"project": types.StringType, "name": types.StringType, "type": types.StringType, "port": types.Int64Type,
	"password_version": types.Int64Type,
}

type dispatchModel struct {
	Repository types.String `tfsdk:"repository"`
	EventType  types.String `tfsdk:"event_type"`
}

type gitModel struct {
	Type   types.String `tfsdk:"type"`
	Owner  types.String `tfsdk:"owner"`
	Repo   types.String `tfsdk:"repo"`
	Branch types.String `tfsdk:"branch"`
	Hash   types.String `tfsdk:"hash"`
}

var (
	githubOwner = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	githubRepo  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	// A domain as Traefik's Host() matcher takes it: RFC 1123 labels. A
	// leading "*." passes here so that wildcardDomainValidator says why not.
	domainName = regexp.MustCompile(`^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

func (r *applicationResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_application"
}

func (r *applicationResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An application of a project: push-to-deploy CI (Argo Events EventSource and Sensor, a Traefik " +
			"IngressRoute that brings GitHub's webhooks to the EventSource, an Argo Workflows template that builds with " +
			"kaniko and rolls the image out in the cluster), a Service, a Deployment and one Traefik IngressRoute per " +
			"domain once a commit is built, and its secrets from Vault.\n\n" +
			"Without `git.hash`, CI owns the deployed commit: after it deploys commit X, the plan is empty and " +
			"`git.hash` reads X. With `git.hash`, tofu pins that commit (rollback or freeze): pushes still build, " +
			"but CI never deploys, so what runs and the plan stay put. Removing `git.hash` again builds and deploys " +
			"the branch head.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "`<project>/<name>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"project": schema.StringAttribute{
				Required: true, MarkdownDescription: "The project (`idp_project.name`). Changing it replaces the application.",
				Validators:    projectNameValidators(),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: fmt.Sprintf("Application name: a DNS-1035 label (it names the Service). Project and "+
					"application names together may have at most %d characters, so every derived name stays valid. "+
					"Not `github-access` nor ending in `-webhook` (their Secrets would be the project's or another "+
					"application's). Apply refuses names whose objects belong to another application or database of the "+
					"project (label `%s`). Changing it replaces the application.", render.MaxProjectAndApplication, render.LabelOwner),
				Validators: append(nameValidators(render.MaxProjectAndApplication-1),
					stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z]`), "must start with a letter (it names a Service)")),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"git": schema.SingleNestedAttribute{
				Required: true, MarkdownDescription: "The repository CI builds.",
				Attributes: map[string]schema.Attribute{
					"type": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("github"),
						MarkdownDescription: "Git host. Only `github` is supported.",
						Validators:          []validator.String{stringvalidator.OneOf("github")},
					},
					"owner": schema.StringAttribute{
						Required: true, MarkdownDescription: "GitHub user or organisation.",
						Validators: []validator.String{stringvalidator.RegexMatches(githubOwner, "must be a GitHub user or organisation name")},
					},
					"repo": schema.StringAttribute{
						Required: true, MarkdownDescription: "Repository name.",
						Validators: []validator.String{githubRepoValidator{}},
					},
					"branch": schema.StringAttribute{
						Required: true, MarkdownDescription: "Branch whose pushes are built and deployed. Besides git's rules, it may not " +
							"contain `#`, `{{` or `$(`, which the build's git context and templates would interpret.",
						Validators: []validator.String{branchValidator{}},
					},
					"hash": schema.StringAttribute{
						Optional: true, Computed: true,
						MarkdownDescription: "Commit to deploy, as its full 40-character sha (the tag CI gives images). " +
							"Unset: CI decides and this reads the deployed commit. Set: tofu deploys it and waits for the rollout.",
						Validators: []validator.String{stringvalidator.RegexMatches(fullCommitHash, fullCommitHashMessage)},
					},
				},
			},
			"port": schema.Int64Attribute{
				Required: true, MarkdownDescription: "Port the application listens on.",
				Validators: []validator.Int64{int64validator.Between(1, 65535)},
			},
			"replicas": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				MarkdownDescription: "Pods to run. Default 1.",
				Validators:          []validator.Int64{int64validator.Between(0, 100)},
			},
			"domains": schema.SetAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Domains routed to the application (a Traefik IngressRoute each, entry points `web` and `websecure`). " +
					"No wildcards (Traefik's `Host()` matches a host exactly). Two domains whose route names meet (`a-b.com` and " +
					"`a.b.com`: dots become dashes) cannot both be given.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(
					stringvalidator.LengthAtMost(253),
					stringvalidator.RegexMatches(domainName, "must be a lowercase DNS name (RFC 1123)"),
					wildcardDomainValidator{},
				)},
			},
			"app_secret_vault_path": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Vault KV v2 path of the application's environment (every key becomes an environment " +
					"variable). Defaults to `<project>-<name>-secret`. May be absent in Vault; it is synced once written.",
				Validators: []validator.String{vaultPathValidator{}},
			},
			"webhook_secret_rotation": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Any value; changing it generates a new GitHub webhook secret. The secret itself is " +
					"generated on create, kept in Vault and never in state.",
			},
			"build_on_create": schema.BoolAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "On create, build and deploy the branch head right away instead of waiting for a push. " +
					"Needs a GitHub token to resolve the head; defaults to `true` when one is configured.",
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"rollout_timeout": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("10m"),
				MarkdownDescription: "How long CI's rollout step waits for every pod to run the new commit and be Ready. " +
					"When it runs out, the workflow fails (the previous pods keep serving: `maxUnavailable` is 0) and " +
					"`data.idp_application.last_build` says so. Default `10m`, Kubernetes' own progress deadline.",
				Validators: []validator.String{durationValidator{min: 30 * time.Second, max: 24 * time.Hour}},
			},
			"build_timeout": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("30m"),
				MarkdownDescription: "How long CI's build step (kaniko: clone, build, push) may run. When it runs out, the " +
					"workflow fails and the next push builds. A run as a whole fails after `build_timeout` + " +
					"`rollout_timeout` + 2m, also when a pod of it never starts (for example an unschedulable build " +
					"pod), so a stuck run never holds up later pushes for long; runs waiting their turn are not " +
					"counted. Default `30m`.",
				Validators: []validator.String{durationValidator{min: 30 * time.Second, max: 24 * time.Hour}},
			},
			"databases": schema.SetNestedAttribute{
				Optional: true,
				MarkdownDescription: "Databases of the project whose connection the pods get in their environment, for " +
					"example `databases = [idp_database.orders]`. For a database `orders-db`: `ORDERS_DB_HOST`, `_PORT`, " +
					"`_USER`, `_DATABASE` (the values `idp_database` reports), `ORDERS_DB_PASSWORD` (a `secretKeyRef` to the " +
					"database's Secret, so the password never passes through tofu) and `ORDERS_DB_URL` (`mysql://`, " +
					"`postgresql://`, `redis://` or `mongodb://user:password@host:port/database`, composed in the pod; a " +
					"password with URL-reserved characters needs escaping, generated ones have none). These override keys " +
					"of the same name in `app_secret_vault_path`.",
				// Optional, checked in ValidateConfig: "required" would be
				// enforced on a whole idp_database that is still unknown.
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"project": schema.StringAttribute{Optional: true, MarkdownDescription: "The database's project: the application's. Required.",
						Validators: projectNameValidators()},
					"name": schema.StringAttribute{Optional: true, MarkdownDescription: "The database's name. Required.",
						Validators: databaseNameValidators()},
					"type": schema.StringAttribute{Optional: true, MarkdownDescription: "The database's type. Required.",
						Validators: []validator.String{stringvalidator.OneOf(render.DatabaseTypeNames()...)}},
					"port": schema.Int64Attribute{Optional: true, MarkdownDescription: "The database's port. Required.",
						Validators: []validator.Int64{int64validator.Between(1, 65535)}},
					"password_version": schema.Int64Attribute{Optional: true,
						MarkdownDescription: "The database's `password_version`: when it changes (a rotation), the pods " +
							"restart onto the new password. Given with the resource itself."},
				}},
			},
			"dispatch": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Deploy the old chart's way instead of in the cluster: after a successful build, the " +
					"workflow's `update-config` step sends a GitHub `repository_dispatch` (payload: project, application, " +
					"hash) to a GitOps repository, whose pipeline sets `git.hash`.",
				Attributes: map[string]schema.Attribute{
					"repository": schema.StringAttribute{
						Required: true, MarkdownDescription: "`owner/repo` that receives the dispatch.",
						Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`), "must be owner/repo")},
					},
					"event_type": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("update-config"),
						MarkdownDescription: "The dispatch's `event_type`. Default `update-config`.",
						Validators:          []validator.String{stringvalidator.LengthBetween(1, 100)},
					},
				},
			},
			"image": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The image the Deployment runs, once a commit is deployed.",
			},
			"webhook_url": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The URL GitHub posts pushes to.",
			},
			"objects": objectsAttribute(),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
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

// checkDatabaseLinks: an application uses its own project's databases.
// (Their variable prefixes cannot collide: database names have no "_".)
func checkDatabaseLinks(ctx context.Context, project string, v types.Set, diags *diag.Diagnostics) {
	for _, db := range databaseLinks(ctx, v, diags) {
		if db.Project.IsNull() || db.Name.IsNull() || db.Type.IsNull() || db.Port.IsNull() {
			diags.AddAttributeError(path.Root("databases"), "Incomplete database",
				"each database needs project, name, type and port: give the resource itself, as in databases = [idp_database.orders].")
			continue
		}
		if db.Project.IsUnknown() || db.Name.IsUnknown() {
			continue
		}
		if render.DatabaseEnvPrefix(db.Name.ValueString()) == "KUBERNETES" {
			diags.AddAttributeError(path.Root("databases"), "Database name taken by Kubernetes",
				"every pod has KUBERNETES_PORT and KUBERNETES_SERVICE_HOST for the API server, which would overwrite this "+
					"database's variables; give the database another name.")
		}
		if db.Project.ValueString() != project {
			diags.AddAttributeError(path.Root("databases"), "Database of another project",
				fmt.Sprintf("database %s is in project %s; an application can use only its own project's databases (%s).",
					db.Name.ValueString(), db.Project.ValueString(), project))
		}
	}
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

// firstBuild submits a Workflow for the branch head, as the Sensor would
// for a push, so a new application goes live without waiting for one.
// A failure is a warning: the application exists and the next push builds.
func (r *applicationResource) firstBuild(ctx context.Context, m *applicationModel, diags *diag.Diagnostics) {
	g := m.Git
	head, err := r.data.branchHead(ctx, g.Owner.ValueString(), g.Repo.ValueString(), g.Branch.ValueString())
	if err == nil && head == "" {
		err = fmt.Errorf("no GitHub token is configured to resolve the head of %s", g.Branch.ValueString())
	}
	if err == nil {
		_, err = r.data.Engine.Create(ctx, render.BuildWorkflow(m.Project.ValueString(), m.Name.ValueString(), head))
	}
	if err == nil {
		// The catch-up takes over should this run not deploy.
		err = r.data.Engine.ApplyAs(ctx, render.CatchUpFieldManager, render.CatchUpNote(m.Project.ValueString(), m.Name.ValueString(), head))
	}
	if err != nil {
		diags.AddAttributeWarning(path.Root("build_on_create"), "First build not started",
			err.Error()+". The application is created; the next push to the branch builds it.")
	}
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

// spec converts the model to render's input, reporting whether every
// value is known.
func (m *applicationModel) spec(ctx context.Context, diags *diag.Diagnostics) (render.Application, bool) {
	g := m.Git
	if g == nil {
		g = &gitModel{}
	}
	known := !m.Project.IsUnknown() && !m.Name.IsUnknown() && !g.Owner.IsUnknown() && !g.Repo.IsUnknown() &&
		!g.Branch.IsUnknown() && !g.Hash.IsUnknown() && !m.Port.IsUnknown() && !m.Replicas.IsUnknown() &&
		!m.Domains.IsUnknown() && !m.AppSecretVaultPath.IsUnknown() && !m.RolloutTimeout.IsUnknown() && !m.BuildTimeout.IsUnknown() &&
		!m.Databases.IsUnknown()
	p, a := m.Project.ValueString(), m.Name.ValueString()
	var links []render.DatabaseLink
	for _, db := range databaseLinks(ctx, m.Databases, diags) {
		known = known && !db.Name.IsUnknown() && !db.Type.IsUnknown() && !db.Port.IsUnknown() && !db.PasswordVersion.IsUnknown()
		links = append(links, render.DatabaseLink{Name: db.Name.ValueString(), Type: db.Type.ValueString(), Port: db.Port.ValueInt64(),
			PasswordVersion: db.PasswordVersion.ValueInt64()})
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Name < links[j].Name })
	var dispatch *render.Dispatch
	if d := m.Dispatch; d != nil {
		known = known && !d.Repository.IsUnknown() && !d.EventType.IsUnknown()
		dispatch = &render.Dispatch{Repository: d.Repository.ValueString(), EventType: d.EventType.ValueString()}
	}
	return render.Application{
		Dispatch: dispatch,
		Project:  p, Name: a,
		Owner: g.Owner.ValueString(), Repo: g.Repo.ValueString(), Branch: g.Branch.ValueString(), Hash: g.Hash.ValueString(),
		Port: m.Port.ValueInt64(), Replicas: m.Replicas.ValueInt64(),
		RolloutTimeout: durationSeconds(m.RolloutTimeout),
		BuildTimeout:   durationSeconds(m.BuildTimeout),
		Databases:      links,
		Domains:        stringSet(ctx, m.Domains, diags),
		AppSecret:      render.VaultSecret{Path: orDefault(m.AppSecretVaultPath, render.AppSecretVaultPath(p, a))},
		WebhookSecret:  render.VaultSecret{Path: render.WebhookSecretVaultPath(p, a)},
	}, known
}

// databaseLinks reads the databases attribute (nil when null or unknown).
func databaseLinks(ctx context.Context, v types.Set, diags *diag.Diagnostics) []databaseLinkModel {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var out []databaseLinkModel
	diags.Append(v.ElementsAs(ctx, &out, false)...)
	return out
}

// databaseLinksValue is the databases attribute for links of project p
// (null for none).
func databaseLinksValue(p string, links []render.DatabaseLink) types.Set {
	elemType := types.ObjectType{AttrTypes: databaseLinkTypes}
	if len(links) == 0 {
		return types.SetNull(elemType)
	}
	elems := make([]attr.Value, len(links))
	for i, l := range links {
		version := types.Int64Null()
		if l.PasswordVersion > 0 {
			version = types.Int64Value(l.PasswordVersion)
		}
		elems[i] = types.ObjectValueMust(databaseLinkTypes, map[string]attr.Value{
			"project": types.StringValue(p), "name": types.StringValue(l.Name),
			"type": types.StringValue(l.Type), "port": types.Int64Value(l.Port), "password_version": version,
		})
	}
	return types.SetValueMust(elemType, elems)
}

// durationSeconds is a validated duration attribute in seconds (0 when
// null: render's default).
func durationSeconds(v types.String) int64 {
	d, _ := time.ParseDuration(v.ValueString())
	return int64(d / time.Second)
}

// durationValue is seconds as a duration attribute reads when written by
// hand: "30m", "90s", "2h" (durationSeconds's inverse).
func durationValue(seconds int64) types.String {
	switch {
	case seconds%3600 == 0:
		return types.StringValue(strconv.FormatInt(seconds/3600, 10) + "h")
	case seconds%60 == 0:
		return types.StringValue(strconv.FormatInt(seconds/60, 10) + "m")
	}
	return types.StringValue(strconv.FormatInt(seconds, 10) + "s")
}

func imageOf(spec render.Application) types.String {
	if spec.Hash == "" {
		return types.StringNull()
	}
	return types.StringValue(render.Image(spec.RegistryHost, spec.RegistryProject, spec.Project, spec.Name, spec.Hash))
}

package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/planmodifiers"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

var (
	_ resource.Resource                   = &databaseResource{}
	_ resource.ResourceWithConfigure      = &databaseResource{}
	_ resource.ResourceWithValidateConfig = &databaseResource{}
	_ resource.ResourceWithModifyPlan     = &databaseResource{}
	_ resource.ResourceWithImportState    = &databaseResource{}
)

// NewDatabaseResource is the idp_database resource.
func NewDatabaseResource() resource.Resource { return &databaseResource{} }

type databaseResource struct {
	data *ProviderData
}

type databaseModel struct {
	ID                types.String   `tfsdk:"id"`
	Project           types.String   `tfsdk:"project"`
	Name              types.String   `tfsdk:"name"`
	Type              types.String   `tfsdk:"type"`
	Version           types.String   `tfsdk:"version"`
	Size              types.String   `tfsdk:"size"`
	StorageClass      types.String   `tfsdk:"storage_class"`
	Port              types.Int64    `tfsdk:"port"`
	DeleteData        types.Bool     `tfsdk:"delete_data"`
	Host              types.String   `tfsdk:"host"`
	Username          types.String   `tfsdk:"username"`
	Database          types.String   `tfsdk:"database"`
	PasswordVaultPath types.String   `tfsdk:"password_vault_path"`
	PasswordVersion   types.Int64    `tfsdk:"password_version"`
	Objects           types.Map      `tfsdk:"objects"`
	Timeouts          timeouts.Value `tfsdk:"timeouts"`
}

func (r *databaseResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database"
}

func (r *databaseResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	typeList := "`" + strings.Join(render.DatabaseTypeNames(), "`, `") + "`"
	ports := make([]string, 0, len(render.DatabaseTypes))
	for _, t := range render.DatabaseTypeNames() {
		ports = append(ports, fmt.Sprintf("%s %d", t, render.DatabaseTypes[t].Port))
	}
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A database in a project: a StatefulSet `<project>-<name>-db` with one volume per replica, " +
			"a Service `<name>` and a Secret `<project>-<name>-secret` holding the password from Vault.\n\n" +
			"**Password.** On create, the provider uses the password at Vault `<kv_mount>/<project>-<name>-secret` " +
			"(key `password`) or, when there is none, generates one (32 random letters and digits) and writes it there. " +
			"It never generates another: not on apply, retry or import. The value never enters state or plan; " +
			"`password_version` records the Vault version the database's Secret holds. A rotation written to Vault shows " +
			"in the next plan (an `objects` entry reads `Vault ... not synced`). Servers read the password only when they " +
			"initialise an empty volume, so apply first changes it inside the running server, with the password it has " +
			"now (`ALTER USER` for mysql and postgres, `CONFIG SET requirepass` for redis, `changeUserPassword` for " +
			"mongodb, run in the database's container with the passwords on stdin), then re-syncs the Secret and restarts " +
			"the pods. If the change fails, nothing else changes: the database and its Secret keep the old password.\n\n" +
			"**Data.** Destroy deletes the StatefulSet, Service and Secret but keeps the volumes (PersistentVolumeClaims) " +
			"and the Vault password unless `delete_data` is `true`: a database created again with the same name gets both back. " +
			"`size` only grows: apply expands the existing claims (the StatefulSet's claim template is immutable and kept). " +
			"`storage_class` is fixed when the volumes are created.\n\n" +
			"Use `idp_database_credentials` (an ephemeral resource) to hand the password to other providers without storing it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "`<project>/<name>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"project": schema.StringAttribute{
				Required: true, MarkdownDescription: "The project (namespace), usually `idp_project.<x>.name`. Changing it replaces the database.",
				Validators:    projectNameValidators(),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: fmt.Sprintf("Database name: the Service's name, so a DNS-1035 label (starting with a letter) of at most "+
					"%d characters (MySQL's limit for the user `<name>_user`); `<project>-<name>-db` may have at most %d. "+
					"Not `github-access` nor ending in `-webhook` (its Secret would be the project's or an application's). "+
					"Apply refuses a name whose objects belong to an application of the project (label `%s`). "+
					"Changing it replaces the database.", render.MaxDatabaseName, render.MaxDatabaseStatefulSet, render.LabelOwner),
				Validators: append(nameValidators(render.MaxDatabaseName),
					stringvalidator.RegexMatches(startsWithLetter, "must start with a letter (it names the database's Service)")),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"type": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "One of " + typeList + ". Changing it replaces the database, which needs `delete_data = true` " +
					"applied first: a new server of another type cannot use the old data.",
				Validators: []validator.String{stringvalidator.OneOf(render.DatabaseTypeNames()...)},
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.RequiresReplace(),
					planmodifiers.ReplaceNeedsFlag(path.Root("delete_data"), typeChangeKeepsData, typeChangeDeletesData),
				},
			},
			"version": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Image tag, e.g. `8.0`: the image is `<type>:<version>` (`mongo:<version>` for mongodb). " +
					"Changing it rolls the StatefulSet in place.",
				Validators: []validator.String{stringvalidator.RegexMatches(databaseVersion, "must be an image tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'")},
			},
			"size": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Volume size, a Kubernetes quantity such as `5Gi`. It can grow (apply expands the existing " +
					"claims, which needs a StorageClass with `allowVolumeExpansion`) but never shrink.",
				Validators:    []validator.String{quantityValidator{}},
				PlanModifiers: []planmodifier.String{planmodifiers.QuantityOnlyGrows(sizeShrinks)},
			},
			"storage_class": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "StorageClass of the volumes (`storageClassName` of the StatefulSet's claim template). Unset: the " +
					"cluster's default class; `\"\"` asks for no class (only volumes provisioned by hand bind). It cannot change on an " +
					"existing database (the claim template is immutable and a volume keeps its class): plan rejects a change unless the " +
					"database is replaced anyway (a new `project` or `name`, or a `type` change with `delete_data`). When set, it must " +
					"also be the class of volumes kept from an earlier database of the same name. Import reads it from the StatefulSet.",
				Validators: []validator.String{storageClassValidator{}},
				// Replaced anyway (new names, or a type change that needs
				// delete_data): the new database gets new claims of any class.
				PlanModifiers: []planmodifier.String{
					planmodifiers.FixedUnlessReplaced(storageClassChanges, path.Root("project"), path.Root("name"), path.Root("type")),
				},
			},
			"port": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Port of the container and the Service. Defaults by type: " + strings.Join(ports, ", ") + ". " +
					"Another port is passed to the server as its image documents: `--port` for mysql, redis and mongodb, " +
					"`PGPORT` for postgres.",
				Validators: []validator.Int64{int64validator.Between(1, 65535)},
			},
			"delete_data": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Let destroy (and replacement) delete the volumes and the Vault password too. Set it and apply " +
					"before destroying. Default `false`.",
			},
			"host":     computed("In-cluster host name of the database: `<name>.<project>.svc.cluster.local`."),
			"username": computed("User applications connect as: `<name>_user` (the root user for mongodb, `default` for redis)."),
			"database": computed("Database applications use: `<name>_db` (mongodb users authenticate against `admin`; `0` for redis)."),
			"password_vault_path": computed("Vault KV v2 path of the password (key `password`), relative to the provider's " +
				"`vault.kv_mount`: `<project>-<name>-secret`."),
			"password_version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Version of the Vault secret that the database's Secret holds.",
			},
			"objects": objectsAttribute(),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
}

// What the plan says when a change would lose data (internal/planmodifiers).
var (
	sizeShrinks = planmodifiers.Message{
		Summary: "Database volumes cannot shrink",
		Detail: func(c planmodifiers.Change) string {
			return fmt.Sprintf("size would go from %s down to %s. Kubernetes volumes only grow, so %s keeps its %s volume: "+
				"set size back to at least %s, or move the data to a new database.",
				c.From.ValueString(), c.To.ValueString(), c.ID, c.From.ValueString(), c.From.ValueString())
		},
	}
	storageClassChanges = planmodifiers.Message{
		Summary: "Database volumes cannot change storage class",
		Detail: func(c planmodifiers.Change) string {
			from, to := describeClass(c.From.ValueStringPointer()), describeClass(c.To.ValueStringPointer())
			back := "set storage_class back to " + from
			if c.From.IsNull() {
				back = "remove storage_class again"
			}
			return fmt.Sprintf("storage_class would change from %s to %s. The StatefulSet's claim template is immutable and a volume keeps "+
				"the class it was provisioned with, so %s stays on %s: %s, or move the data to a new database (another name) "+
				"that uses the new class.", from, to, c.ID, from, back)
		},
	}
	typeChangeKeepsData = planmodifiers.Message{
		Summary: "Changing the type replaces the database",
		Detail: func(c planmodifiers.Change) string {
			return fmt.Sprintf("type %s -> %s replaces %s. Its volume would be reattached to the new %s server, which cannot use %s data. "+
				"To start over with an empty database, first set delete_data = true and apply (the replacement then deletes "+
				"the volume and the Vault password); or give the new database another name.",
				c.From.ValueString(), c.To.ValueString(), c.ID, c.To.ValueString(), c.From.ValueString())
		},
	}
	typeChangeDeletesData = planmodifiers.Message{
		Summary: "Replacing the database deletes its data",
		Detail: func(c planmodifiers.Change) string {
			return fmt.Sprintf("type %s -> %s replaces %s, and delete_data is true: its volumes and its Vault password are deleted.",
				c.From.ValueString(), c.To.ValueString(), c.ID)
		},
	}
)

var (
	startsWithLetter = regexp.MustCompile(`^[a-z]`)
	databaseVersion  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

func (r *databaseResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = providerData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the names derived from project and name.
func (r *databaseResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var p, d types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("project"), &p)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("name"), &d)...)
	if resp.Diagnostics.HasError() || p.IsUnknown() || p.IsNull() || d.IsUnknown() || d.IsNull() {
		return
	}
	if sts := render.DatabaseStatefulSet(p.ValueString(), d.ValueString()); len(sts) > render.MaxDatabaseStatefulSet {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Name too long",
			fmt.Sprintf("the StatefulSet name %q has %d characters; project and name together allow at most %d "+
				"(its pods carry a label \"<name>-<revision hash>\" of at most 63).", sts, len(sts), render.MaxDatabaseStatefulSet))
	}
	checkChildName(p.ValueString(), d.ValueString(), &resp.Diagnostics)
}

// ModifyPlan fills the outputs known from the configuration and shows,
// offline, which child objects the apply writes. What would lose data is
// rejected earlier, by the attributes' plan modifiers.
func (r *databaseResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state *databaseModel
	if !req.State.Raw.IsNull() {
		state = &databaseModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if req.Plan.Raw.IsNull() {
		if state != nil && state.DeleteData.ValueBool() {
			resp.Diagnostics.AddWarning("Destroy deletes data",
				fmt.Sprintf("delete_data is true: destroying %s also deletes its volumes and its password in Vault (%s).",
					state.ID.ValueString(), state.PasswordVaultPath.ValueString()))
		}
		return
	}
	if r.data == nil {
		return
	}
	var plan, config databaseModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if config.Port.IsNull() {
		plan.Port = types.Int64Unknown()
		if t, ok := render.DatabaseTypes[plan.Type.ValueString()]; ok {
			plan.Port = types.Int64Value(t.Port)
		}
	}
	plan.outputs()
	if state == nil && !plan.Project.IsUnknown() && !plan.Name.IsUnknown() {
		r.data.creating.add(plan.Project.ValueString(), plan.Name.ValueString())
	}

	if resp.Diagnostics.HasError() {
		return
	}

	spec, known := plan.spec()
	mount, err := r.data.set.KVMount.get()
	spec.Password.Mount = mount
	plan.Objects = types.MapUnknown(types.StringType)
	if known && err == nil {
		objs, err := render.DatabaseObjects(spec)
		if err != nil {
			resp.Diagnostics.AddError("Rendering database", err.Error())
			return
		}
		plan.Objects = plannedObjects(objs)
	}
	// The synced version stays unless the Secret will be written (a new
	// database, a rotation in Vault, a Secret that drifted or went missing).
	plan.PasswordVersion = types.Int64Unknown()
	if state != nil && !plan.Objects.IsUnknown() && !state.Objects.IsNull() && !state.Objects.IsUnknown() {
		key := toRef(render.DatabaseSecretID(spec.Project, spec.Name)).String()
		if before, after := state.Objects.Elements()[key], plan.Objects.Elements()[key]; before != nil && before.Equal(after) {
			plan.PasswordVersion = state.PasswordVersion
		}
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// outputs sets the attributes derived from the configuration.
func (m *databaseModel) outputs() {
	p, d, t := m.Project, m.Name, m.Type
	m.ID, m.Host, m.PasswordVaultPath = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
	m.Username, m.Database = types.StringUnknown(), types.StringUnknown()
	if p.IsUnknown() || d.IsUnknown() {
		return
	}
	m.ID = types.StringValue(p.ValueString() + "/" + d.ValueString())
	m.Host = types.StringValue(render.DatabaseHost(p.ValueString(), d.ValueString()))
	m.PasswordVaultPath = types.StringValue(render.DatabaseVaultPath(p.ValueString(), d.ValueString()))
	if dt, ok := render.DatabaseTypes[t.ValueString()]; ok && !t.IsUnknown() {
		m.Username = types.StringValue(dt.Username(d.ValueString()))
		m.Database = types.StringValue(dt.DBName(d.ValueString()))
	}
}

// spec converts the model to render's input, reporting whether every value
// is known. The Vault mount is the caller's to fill in.
func (m *databaseModel) spec() (render.Database, bool) {
	known := !m.Project.IsUnknown() && !m.Name.IsUnknown() && !m.Type.IsUnknown() && !m.Version.IsUnknown() &&
		!m.Size.IsUnknown() && !m.Port.IsUnknown() && !m.StorageClass.IsUnknown()
	p, d := m.Project.ValueString(), m.Name.ValueString()
	return render.Database{
		Project: p, Name: d, Type: m.Type.ValueString(), Version: m.Version.ValueString(),
		Port: m.Port.ValueInt64(), Size: m.Size.ValueString(), StorageClass: m.StorageClass.ValueStringPointer(),
		Password: render.VaultSecret{Path: render.DatabaseVaultPath(p, d)},
	}, known
}

func (r *databaseResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan databaseModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, plan.Timeouts.Create, defaultCreateTimeout, &resp.Diagnostics)
	defer cancel()

	// On failure nothing is saved: the next apply creates again, finds the
	// password this attempt stored in Vault and adopts what it applied.
	r.apply(ctx, &plan, nil, resp.Private, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	r.data.creating.done(plan.Project.ValueString(), plan.Name.ValueString())
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, plan.Project, plan.Name)...)
}

func (r *databaseResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior databaseModel
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
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, plan.Project, plan.Name)...)
}

func (r *databaseResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state databaseModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Read, defaultReadTimeout, &resp.Diagnostics)
	defer cancel()
	ctx = engine.ForRefresh(ctx) // reads from one LIST per kind (engine/snapshot.go)

	eng := r.data.Engine
	kv, err := eng.KV()
	if err != nil {
		resp.Diagnostics.AddError("Vault is not configured", err.Error())
		return
	}
	spec, _ := state.spec()
	spec.Password.Mount = kv.Mount()
	live := map[engine.Ref]*unstructured.Unstructured{}
	exists := false
	for _, id := range render.InventoryOfDatabase(spec.Project, spec.Name) {
		ref := toRef(id)
		if live[ref], err = eng.Get(ctx, ref); err != nil {
			resp.Diagnostics.AddError("Reading database", err.Error())
			return
		}
		exists = exists || live[ref] != nil
	}
	if !exists && state.DeleteData.ValueBool() {
		// A destroy with delete_data deletes the volumes and the password
		// after the objects: one interrupted in between is finished by the
		// next destroy only while the database stays in state.
		exists, err = r.dataLeft(ctx, spec)
		if err != nil {
			resp.Diagnostics.AddError("Reading database", err.Error())
			return
		}
	}
	if !exists {
		// Gone (with its project, or deleted by hand): the next apply
		// creates it again, with the password and volumes kept.
		resp.State.RemoveResource(ctx)
		return
	}

	pw, found := r.data.readVault(ctx, vaultRead{Path: spec.Password.Path, Attr: path.Root("password_vault_path"), Key: render.DatabasePasswordKey,
		Absent: func(src render.VaultSecret) diag.Diagnostic {
			return diag.NewWarningDiagnostic("Password missing in Vault",
				fmt.Sprintf("Vault has no password at %s; the next apply fails until it is restored (a new one is never generated for an existing database).",
					src.FullPath()))
		}}, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	noPassword := !found
	if found {
		spec.Password.Version, spec.Password.Values = pw.Version, pw.Values
	}
	set, err := render.RenderDatabase(spec)
	if err != nil {
		resp.Diagnostics.AddError("Rendering database", err.Error())
		return
	}
	desired := set.All()
	secret := engine.RefOf(set.Secret())
	statuses, err := diffObjects(ctx, eng, resp.Private, engine.Known{Live: live, Compared: withLiveClaimTemplates}, desired)
	if err != nil {
		resp.Diagnostics.AddError("Reading database objects", err.Error())
		return
	}
	entries := make(map[string]string, len(desired))
	for i, st := range statuses {
		entries[st.Ref.String()] = describe(desired[i], st)
		if noPassword && st.Ref == secret {
			entries[st.Ref.String()] = "Vault " + spec.Password.FullPath() + " has no password"
		}
	}
	state.Objects = types.MapValueMust(types.StringType, toValues(entries))
	if o := live[secret]; o != nil {
		if v, err := strconv.Atoi(o.GetAnnotations()[render.AnnotationVaultVersion]); err == nil {
			state.PasswordVersion = types.Int64Value(int64(v))
		}
	}
	state.outputs()
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, state.Project, state.Name)...)
}

func (r *databaseResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state databaseModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := withTimeout(ctx, state.Timeouts.Delete, defaultDeleteTimeout, &resp.Diagnostics)
	defer cancel()

	spec, _ := state.spec()
	eng := r.data.Engine
	// The StatefulSet first (foreground: its pods are gone when it is), so
	// no pod reads the Secret or holds a claim afterwards.
	if err := eng.Delete(ctx, toRefs(render.InventoryOfDatabase(spec.Project, spec.Name))...); err != nil {
		resp.Diagnostics.AddError("Deleting database", err.Error())
		return
	}
	claims, err := r.claims(ctx, spec)
	if err != nil {
		resp.Diagnostics.AddError("Reading the database's volumes", err.Error())
		return
	}
	pwPath := render.DatabaseVaultPath(spec.Project, spec.Name)
	if !state.DeleteData.ValueBool() {
		names := make([]string, len(claims))
		for i, c := range claims {
			names[i] = c.GetName()
		}
		kept := "the password in Vault (" + pwPath + ")"
		if len(names) > 0 {
			kept = fmt.Sprintf("PersistentVolumeClaim(s) %s and %s", strings.Join(names, ", "), kept)
		}
		resp.Diagnostics.AddWarning("Database data kept",
			fmt.Sprintf("Deleted %s but kept %s (delete_data is false). A database created again with the same name reattaches them.",
				state.ID.ValueString(), kept))
		return
	}
	claimRefs := make([]engine.Ref, len(claims))
	for i, c := range claims {
		claimRefs[i] = engine.RefOf(&c)
	}
	if err := eng.Delete(ctx, claimRefs...); err != nil {
		resp.Diagnostics.AddError("Deleting the database's volumes", err.Error())
		return
	}
	kv, err := eng.KV()
	if err == nil {
		err = kv.Destroy(ctx, pwPath)
	}
	if err != nil {
		resp.Diagnostics.AddError("Deleting the database's password", err.Error())
	}
}

// ImportState adopts an existing database in place (also one made by the
// old chart), reading type, version, port and size from the live
// StatefulSet. Nothing is written: the next apply takes the objects over.
func (r *databaseResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := childImportID(ctx, req, &resp.Diagnostics)
	p, d, ok := strings.Cut(id, "/")
	if !ok || !dnsLabel.MatchString(p) || !dnsLabel.MatchString(d) {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("%q is not <project>/<database>", id))
		return
	}
	m, err := r.importModel(ctx, p, d)
	if err != nil {
		resp.Diagnostics.AddError("Importing database "+id, err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
	resp.Diagnostics.Append(setChildIdentity(ctx, resp.Identity, m.Project, m.Name)...)
}

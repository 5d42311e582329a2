package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The idp_database resource: the framework's calls (plan, create, read, update, delete, import). Its schema is in
// database_schema.go, its model in database_model.go, its apply (applyLifecycle's steps) in database_apply.go,
// its volumes and password in volumes.go and passwords.go.

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

func (r *databaseResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database"
}

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
	// Its kinds listed at once (engine.Prefetch), beside its Vault read.
	inventory := render.InventoryOfDatabase(spec.Project, spec.Name)
	eng.Prefetch(ctx, toRefs(inventory)...)
	ctx = kv.ReadAhead(ctx, spec.Password.Path)
	for _, id := range inventory {
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

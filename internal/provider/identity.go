package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Resource identity (Terraform and OpenTofu 1.12+): what an import block's
// `identity = {...}` and a list resource's results name. In every identity
// `name` is the resource's own name attribute, so a project is `{name}` (its
// name is the namespace; `{project}` would name it after its children's
// attribute), and applications and databases add the `project` they live in.
// Identities never change: the names that make them replace the resource.

var (
	_ resource.ResourceWithIdentity = &projectResource{}
	_ resource.ResourceWithIdentity = &applicationResource{}
	_ resource.ResourceWithIdentity = &databaseResource{}
)

type projectIdentityModel struct {
	Name types.String `tfsdk:"name"`
}

type childIdentityModel struct {
	Project types.String `tfsdk:"project"`
	Name    types.String `tfsdk:"name"`
}

func projectIdentitySchema() identityschema.Schema {
	return identityschema.Schema{Attributes: map[string]identityschema.Attribute{
		"name": identityschema.StringAttribute{RequiredForImport: true, Description: "The project name (its namespace)."},
	}}
}

func childIdentitySchema(kind string) identityschema.Schema {
	return identityschema.Schema{Attributes: map[string]identityschema.Attribute{
		"project": identityschema.StringAttribute{RequiredForImport: true, Description: "The project the " + kind + " belongs to."},
		"name":    identityschema.StringAttribute{RequiredForImport: true, Description: "The " + kind + " name."},
	}}
}

func (r *projectResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = projectIdentitySchema()
}

func (r *applicationResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = childIdentitySchema("application")
}

func (r *databaseResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = childIdentitySchema("database")
}

// setProjectIdentity records project name's identity (id is nil when the
// framework has no identity to carry, e.g. in unit tests of a bare call).
func setProjectIdentity(ctx context.Context, id *tfsdk.ResourceIdentity, name types.String) diag.Diagnostics {
	if id == nil {
		return nil
	}
	return id.Set(ctx, projectIdentityModel{Name: name})
}

// setChildIdentity records the identity of an application or database.
func setChildIdentity(ctx context.Context, id *tfsdk.ResourceIdentity, project, name types.String) diag.Diagnostics {
	if id == nil {
		return nil
	}
	return id.Set(ctx, childIdentityModel{Project: project, Name: name})
}

// projectImportID is the project an import names: by `id`, or by
// `identity = { name = ... }`.
func projectImportID(ctx context.Context, req resource.ImportStateRequest, diags *diag.Diagnostics) string {
	if req.ID != "" || req.Identity == nil || req.Identity.Raw.IsNull() {
		return req.ID
	}
	var id projectIdentityModel
	diags.Append(req.Identity.Get(ctx, &id)...)
	return id.Name.ValueString()
}

// childImportID is the `<project>/<name>` an import names: the `id`, or
// made from `identity = { project = ..., name = ... }`, so both go through
// the same checks and import.
func childImportID(ctx context.Context, req resource.ImportStateRequest, diags *diag.Diagnostics) string {
	if req.ID != "" || req.Identity == nil || req.Identity.Raw.IsNull() {
		return req.ID
	}
	var id childIdentityModel
	diags.Append(req.Identity.Get(ctx, &id)...)
	return fmt.Sprintf("%s/%s", id.Project.ValueString(), id.Name.ValueString())
}

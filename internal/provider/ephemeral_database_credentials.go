package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

var (
	_ ephemeral.EphemeralResource              = &databaseCredentials{}
	_ ephemeral.EphemeralResourceWithConfigure = &databaseCredentials{}
)

// NewDatabaseCredentials is the idp_database_credentials ephemeral resource.
func NewDatabaseCredentials() ephemeral.EphemeralResource { return &databaseCredentials{} }

type databaseCredentials struct {
	data *ProviderData
}

type databaseCredentialsModel struct {
	Project   types.String `tfsdk:"project"`
	Name      types.String `tfsdk:"name"`
	Version   types.Int64  `tfsdk:"version"`
	Type      types.String `tfsdk:"type"`
	Host      types.String `tfsdk:"host"`
	Port      types.Int64  `tfsdk:"port"`
	Username  types.String `tfsdk:"username"`
	Database  types.String `tfsdk:"database"`
	Password  types.String `tfsdk:"password"`
	VaultPath types.String `tfsdk:"password_vault_path"`
}

func (e *databaseCredentials) Metadata(_ context.Context, req ephemeral.MetadataRequest, resp *ephemeral.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_database_credentials"
}

func (e *databaseCredentials) Schema(_ context.Context, _ ephemeral.SchemaRequest, resp *ephemeral.SchemaResponse) {
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Connection details of an `idp_database`, with its password read from Vault at each run and " +
			"never stored in state or plan: for providers that configure the database itself (users, grants) or write " +
			"the credentials elsewhere through write-only attributes. Needs Terraform 1.10+ or OpenTofu 1.11+.",
		Attributes: map[string]schema.Attribute{
			"project": schema.StringAttribute{
				Required: true, MarkdownDescription: "The database's project.",
				Validators: projectNameValidators(),
			},
			"name": schema.StringAttribute{
				Required: true, MarkdownDescription: "The database's name.",
				Validators: databaseNameValidators(),
			},
			"version": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Vault version of the password to read; the latest when unset. Pass " +
					"`idp_database.<x>.password_version`: that is the password the database's Secret holds, and it is " +
					"unknown while apply is to write that Secret (a new database, a rotation to sync), so the read waits " +
					"for the apply in Terraform and OpenTofu alike.",
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"type":     computed("The database type, read from its StatefulSet."),
			"host":     computed("In-cluster host name: `<name>.<project>.svc.cluster.local`."),
			"port":     schema.Int64Attribute{Computed: true, MarkdownDescription: "The database's port, read from its StatefulSet."},
			"username": computed("User to connect as (see `idp_database`)."),
			"database": computed("Database to use (see `idp_database`)."),
			"password": schema.StringAttribute{
				Computed: true, Sensitive: true,
				MarkdownDescription: "The password, from Vault.",
			},
			"password_vault_path": computed("Vault KV v2 path of the password, relative to the provider's `vault.kv_mount`."),
		},
	}
}

func (e *databaseCredentials) Configure(_ context.Context, req ephemeral.ConfigureRequest, resp *ephemeral.ConfigureResponse) {
	e.data = providerData(req.ProviderData, &resp.Diagnostics)
}

func (e *databaseCredentials) Open(ctx context.Context, req ephemeral.OpenRequest, resp *ephemeral.OpenResponse) {
	var m databaseCredentialsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if e.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "the idp provider configuration is not known yet")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, defaultReadTimeout)
	defer cancel()
	p, d := m.Project.ValueString(), m.Name.ValueString()
	eng := e.data.Engine
	sts, err := eng.Get(ctx, toRef(render.DatabaseStatefulSetID(p, d)))
	if err != nil {
		resp.Diagnostics.AddError("Reading database", err.Error())
		return
	}
	if sts == nil {
		if e.data.creating.has(p, d) {
			// Terraform opens ephemeral resources during plan even when a
			// resource they reference is still to be created (OpenTofu waits).
			// Unknown values are Terraform's "known after apply": it opens
			// this again during apply, after the database.
			m.unknown()
			resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
			return
		}
		resp.Diagnostics.AddError("Database not found",
			fmt.Sprintf("there is no database %s/%s (StatefulSet %s). When the configuration creates it, take project "+
				"and name from it (project = idp_database.<x>.project, name = idp_database.<x>.name) and set version = "+
				"idp_database.<x>.password_version, so that this is read after the database exists.",
				p, d, render.DatabaseStatefulSet(p, d)))
		return
	}
	typ, _, port, err := render.ParseDatabase(sts, d)
	if err != nil {
		resp.Diagnostics.AddError("Reading database", err.Error())
		return
	}
	t := render.DatabaseTypes[typ]

	vaultPath := render.DatabaseVaultPath(p, d)
	s, found := e.data.readVault(ctx, vaultRead{Path: vaultPath, Version: int(m.Version.ValueInt64()), Key: render.DatabasePasswordKey,
		Absent: func(src render.VaultSecret) diag.Diagnostic {
			what := "the latest version"
			if !m.Version.IsNull() {
				what = fmt.Sprintf("version %d", m.Version.ValueInt64())
			}
			return diag.NewAttributeErrorDiagnostic(path.Root("version"), "Password not found",
				fmt.Sprintf("Vault has no password at %s (%s, key %q).", src.FullPath(), what, render.DatabasePasswordKey))
		}}, &resp.Diagnostics)
	if !found {
		return
	}
	m.Type = types.StringValue(typ)
	m.Host = types.StringValue(render.DatabaseHost(p, d))
	m.Port = types.Int64Value(port)
	m.Username = types.StringValue(t.Username(d))
	m.Database = types.StringValue(t.DBName(d))
	m.Password = types.StringValue(s.Values[render.DatabasePasswordKey])
	m.VaultPath = types.StringValue(vaultPath)
	m.Version = types.Int64Value(int64(s.Version))
	resp.Diagnostics.Append(resp.Result.Set(ctx, &m)...)
}

// unknown sets what is read from the cluster and Vault to unknown, keeping
// what the configuration set.
func (m *databaseCredentialsModel) unknown() {
	if m.Version.IsNull() {
		m.Version = types.Int64Unknown()
	}
	m.Type, m.Host, m.Username = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
	m.Database, m.Password, m.VaultPath = types.StringUnknown(), types.StringUnknown(), types.StringUnknown()
	m.Port = types.Int64Unknown()
}

// plannedDatabases is the databases this provider instance planned to
// create and has not created yet: what lets idp_database_credentials tell a
// database this run creates from one that does not exist.
type plannedDatabases struct{ m sync.Map }

func (p *plannedDatabases) add(project, name string)  { p.m.Store(project+"/"+name, true) }
func (p *plannedDatabases) done(project, name string) { p.m.Delete(project + "/" + name) }
func (p *plannedDatabases) has(project, name string) bool {
	_, ok := p.m.Load(project + "/" + name)
	return ok
}

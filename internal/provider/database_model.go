package provider

import (
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// A database's model: its attributes in state, their conversion to render's input (spec), and the outputs
// derived from the configuration.

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

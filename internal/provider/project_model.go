package provider

import (
	"context"
	"slices"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// A project's model: its attributes in state, and their conversion to render's input (spec) with what the
// provider's isolation settings add.

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

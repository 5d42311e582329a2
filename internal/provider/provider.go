// Package provider implements the idp provider: its configuration and the
// resources and data sources, each a thin layer over render and engine.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/ephemeral"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
)

var (
	_ provider.Provider                       = &idpProvider{}
	_ provider.ProviderWithEphemeralResources = &idpProvider{}
)

type idpProvider struct {
	version string
}

// New returns the provider factory for version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &idpProvider{version: version} }
}

func (p *idpProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "idp"
	resp.Version = p.version
}

func (p *idpProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = providerSchema()
}

// Configure only resolves settings; it contacts nothing, so it succeeds
// while the cluster or Vault is still to be created in the same apply.
func (p *idpProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	cfg, diags := readConfig(ctx, req.Config)
	resp.Diagnostics.Append(diags...)
	if err := engine.ArmFault(faultSpec()); err != nil {
		resp.Diagnostics.AddError("Invalid IDP_FAULT", err.Error())
	}
	if resp.Diagnostics.HasError() {
		return
	}
	data := newProviderData(cfg)
	resp.ResourceData = data
	resp.DataSourceData = data
	resp.EphemeralResourceData = data
	resp.ListResourceData = data
}

func (p *idpProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewProjectResource, NewApplicationResource, NewDatabaseResource}
}

func (p *idpProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewApplicationDataSource, NewEstateDataSource}
}

func (p *idpProvider) EphemeralResources(context.Context) []func() ephemeral.EphemeralResource {
	return []func() ephemeral.EphemeralResource{NewDatabaseCredentials}
}

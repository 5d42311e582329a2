package provider

import (
	"context"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ datasource.DataSource              = &estateDataSource{}
	_ datasource.DataSourceWithConfigure = &estateDataSource{}
)

// NewEstateDataSource is the idp_estate data source: OpenTofu's way to
// adopt a whole estate at once (it has no `terraform query`).
func NewEstateDataSource() datasource.DataSource { return &estateDataSource{} }

type estateDataSource struct {
	data *ProviderData
}

type estateDataModel struct {
	Projects       types.List   `tfsdk:"projects"`
	ProjectIDs     types.List   `tfsdk:"project_ids"`
	ApplicationIDs types.List   `tfsdk:"application_ids"`
	DatabaseIDs    types.List   `tfsdk:"database_ids"`
	Skipped        types.Map    `tfsdk:"skipped"`
	Configuration  types.String `tfsdk:"configuration"`
}

func (d *estateDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_estate"
}

func (d *estateDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Everything running in the cluster that `idp_project`, `idp_application` and `idp_database` can adopt " +
			"(made by the old Helm chart, by another state of this provider, or by hand following the contract's names), and " +
			"`configuration`: import blocks and resources for all of it, as import reads it back. This is OpenTofu's path to " +
			"adopting a whole estate in one review (Terraform 1.14+ can also use the list resources with `terraform query`); " +
			"see the importing guide.",
		Attributes: map[string]schema.Attribute{
			"projects": schema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Only these projects. Default: every project (a namespace holding its `<name>-ci-eventbus` EventBus).",
				Validators:          []validator.List{listvalidator.ValueStringsAre(projectNameValidators()...)},
			},
			"project_ids": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Import IDs of the projects found, in name order."},
			"application_ids": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Import IDs (`<project>/<name>`) of the applications found."},
			"database_ids": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "Import IDs (`<project>/<name>`) of the databases found."},
			"skipped": schema.MapAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "What looks like a project's application or database but cannot be adopted as it is, by import ID: why."},
			"configuration": schema.StringAttribute{Computed: true,
				MarkdownDescription: "HCL for the whole estate: an `import` block (by identity) and a resource for each project, " +
					"application and database found, leaving defaults out and referring to the project and databases by " +
					"reference. Write it to a file of the configuration that adopts them (`tofu output -raw`)."},
		},
	}
}

func (d *estateDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerData(req.ProviderData, &resp.Diagnostics)
}

func (d *estateDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m estateDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if d.data == nil {
		resp.Diagnostics.AddError("Provider not configured", "The idp provider must be configured to find what runs in the cluster.")
	}
	if resp.Diagnostics.HasError() {
		return
	}
	var only []string
	if !m.Projects.IsNull() {
		only = []string{}
		resp.Diagnostics.Append(m.Projects.ElementsAs(ctx, &only, false)...)
	}
	e, err := d.data.findEstate(ctx, estateKinds{projects: true, applications: true, databases: true, only: only})
	if err != nil {
		resp.Diagnostics.AddError("Finding what runs in the cluster", err.Error())
		return
	}
	ids := func(n int, id func(int) string) types.List {
		out := make([]string, n)
		for i := range out {
			out[i] = id(i)
		}
		sort.Strings(out)
		v, _ := types.ListValueFrom(ctx, types.StringType, out)
		return v
	}
	m.ProjectIDs = ids(len(e.projects), func(i int) string { return e.projects[i].Name.ValueString() })
	m.ApplicationIDs = ids(len(e.applications), func(i int) string { return e.applications[i].ID.ValueString() })
	m.DatabaseIDs = ids(len(e.databases), func(i int) string { return e.databases[i].ID.ValueString() })
	m.Skipped = mapValue(e.skipped)
	if len(e.skipped) == 0 {
		m.Skipped = types.MapValueMust(types.StringType, nil)
	}
	mount, _ := d.data.set.KVMount.get()
	m.Configuration = types.StringValue(e.configuration(ctx, mount))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

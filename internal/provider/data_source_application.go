package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

var (
	_ datasource.DataSource              = &applicationDataSource{}
	_ datasource.DataSourceWithConfigure = &applicationDataSource{}
)

// NewApplicationDataSource is the idp_application data source.
func NewApplicationDataSource() datasource.DataSource { return &applicationDataSource{} }

type applicationDataSource struct {
	data *ProviderData
}

type applicationDataModel struct {
	ID              types.String `tfsdk:"id"`
	Project         types.String `tfsdk:"project"`
	Name            types.String `tfsdk:"name"`
	DeployedHash    types.String `tfsdk:"deployed_hash"`
	Image           types.String `tfsdk:"image"`
	ReadyReplicas   types.Int64  `tfsdk:"ready_replicas"`
	DesiredReplicas types.Int64  `tfsdk:"desired_replicas"`
	Branch          types.String `tfsdk:"branch"`
	BranchHead      types.String `tfsdk:"branch_head"`
	UpToDate        types.Bool   `tfsdk:"up_to_date"`
}

func (d *applicationDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_application"
}

func (d *applicationDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "What an application runs now: the commit CI (or tofu) deployed, its image and readiness, " +
			"and, with a GitHub token configured, whether that is the head of its branch.",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, MarkdownDescription: "`<project>/<name>`."},
			"project": schema.StringAttribute{Required: true, MarkdownDescription: "Project name."},
			"name":    schema.StringAttribute{Required: true, MarkdownDescription: "Application name."},
			"deployed_hash": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Commit the Deployment runs; null before the first build."},
			"image":            schema.StringAttribute{Computed: true, MarkdownDescription: "Image the Deployment runs."},
			"ready_replicas":   schema.Int64Attribute{Computed: true, MarkdownDescription: "Ready pods."},
			"desired_replicas": schema.Int64Attribute{Computed: true, MarkdownDescription: "Pods the Deployment wants."},
			"branch":           schema.StringAttribute{Computed: true, MarkdownDescription: "Branch CI builds."},
			"branch_head": schema.StringAttribute{Computed: true,
				MarkdownDescription: "Head commit of the branch on GitHub (needs a GitHub token; null otherwise)."},
			"up_to_date": schema.BoolAttribute{Computed: true,
				MarkdownDescription: "Whether the deployed commit is the branch head (null without a GitHub token)."},
		},
	}
}

func (d *applicationDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = providerData(req.ProviderData, &resp.Diagnostics)
}

func (d *applicationDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m applicationDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	p, a := m.Project.ValueString(), m.Name.ValueString()
	ns := render.Namespace(p)
	eng := d.data.Engine
	get := func(apiVersion, kind, name string) *unstructured.Unstructured {
		obj, err := eng.Get(ctx, engine.Ref{APIVersion: apiVersion, Kind: kind, Namespace: ns, Name: name})
		if err != nil {
			resp.Diagnostics.AddError("Reading application", err.Error())
		}
		return obj
	}
	sensor := get("argoproj.io/v1alpha1", "Sensor", render.Sensor(p, a))
	dep := get("apps/v1", "Deployment", render.Deployment(a))
	if resp.Diagnostics.HasError() {
		return
	}
	if sensor == nil {
		resp.Diagnostics.AddError("Application not found", fmt.Sprintf("project %s has no application %s (no Sensor %s)", p, a, render.Sensor(p, a)))
		return
	}
	m.ID = types.StringValue(p + "/" + a)
	m.Branch = types.StringValue(sensorBranch(sensor))
	m.DeployedHash, m.Image = types.StringNull(), types.StringNull()
	m.ReadyReplicas, m.DesiredReplicas = types.Int64Value(0), types.Int64Value(0)
	if dep != nil {
		img := containerImage(dep, render.Deployment(a))
		m.Image = types.StringValue(img)
		if tag := render.ImageTag(img); tag != "" {
			m.DeployedHash = types.StringValue(tag)
		}
		ready, _, _ := unstructured.NestedInt64(dep.Object, "status", "readyReplicas")
		desired, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
		m.ReadyReplicas, m.DesiredReplicas = types.Int64Value(ready), types.Int64Value(desired)
	}

	m.BranchHead, m.UpToDate = types.StringNull(), types.BoolNull()
	owner, repo := eventSourceRepo(get("argoproj.io/v1alpha1", "EventSource", render.EventSource(p, a)), p, a)
	head, err := d.data.branchHead(ctx, owner, repo, m.Branch.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Reading the branch head from GitHub", err.Error())
		return
	}
	if head != "" {
		m.BranchHead = types.StringValue(head)
		m.UpToDate = types.BoolValue(head == m.DeployedHash.ValueString())
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

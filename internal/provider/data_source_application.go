package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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
	LastBuild       types.Object `tfsdk:"last_build"`
}

// lastBuildTypes are the attributes of last_build.
var lastBuildTypes = map[string]attr.Type{
	"workflow": types.StringType, "phase": types.StringType, "commit": types.StringType,
	"started_at": types.StringType, "finished_at": types.StringType, "message": types.StringType,
}

func lastBuildValue(b *render.Build) types.Object {
	if b == nil {
		return types.ObjectNull(lastBuildTypes)
	}
	str := func(s string) attr.Value {
		if s == "" {
			return types.StringNull()
		}
		return types.StringValue(s)
	}
	return types.ObjectValueMust(lastBuildTypes, map[string]attr.Value{
		"workflow": str(b.Workflow), "phase": str(b.Phase), "commit": str(b.Commit),
		"started_at": str(b.StartedAt), "finished_at": str(b.FinishedAt), "message": str(b.Message),
	})
}

func (d *applicationDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_application"
}

func (d *applicationDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "What an application runs now: the commit CI (or tofu) deployed, its image and readiness, " +
			"its last CI run, and, with a GitHub token configured, whether that is the head of its branch.",
		Attributes: map[string]schema.Attribute{
			"id":      schema.StringAttribute{Computed: true, MarkdownDescription: "`<project>/<name>`."},
			"project": schema.StringAttribute{Required: true, MarkdownDescription: "Project name.", Validators: projectNameValidators()},
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Application name.",
				Validators: applicationNameValidators()},
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
			"last_build": schema.SingleNestedAttribute{Computed: true,
				MarkdownDescription: "The newest CI run (an Argo Workflow) of the application; null when none is kept " +
					"(successful runs are deleted after 10 minutes, failed ones after a day).",
				Attributes: map[string]schema.Attribute{
					"workflow": schema.StringAttribute{Computed: true, MarkdownDescription: "Workflow name (`argo get`, `kubectl get wf`)."},
					"phase": schema.StringAttribute{Computed: true,
						MarkdownDescription: "`Pending` (queued: one run per application at a time), `Running`, `Succeeded`, `Failed` or `Error`."},
					"commit":      schema.StringAttribute{Computed: true, MarkdownDescription: "Commit it builds."},
					"started_at":  schema.StringAttribute{Computed: true, MarkdownDescription: "RFC 3339 start time; null while queued."},
					"finished_at": schema.StringAttribute{Computed: true, MarkdownDescription: "RFC 3339 end time; null while it runs."},
					"message": schema.StringAttribute{Computed: true,
						MarkdownDescription: "Why it failed (for example a rollout that exceeded `rollout_timeout`), or what it waits for."},
				},
			},
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
	get := func(id render.ID) *unstructured.Unstructured {
		obj, err := eng.Get(ctx, toRef(id))
		if err != nil {
			resp.Diagnostics.AddError("Reading application", err.Error())
		}
		return obj
	}
	sensor := get(render.SensorID(p, a))
	dep := get(render.DeploymentID(p, a))
	if resp.Diagnostics.HasError() {
		return
	}
	if sensor == nil {
		resp.Diagnostics.AddError("Application not found", fmt.Sprintf("project %s has no application %s (no Sensor %s)", p, a, render.Sensor(p, a)))
		return
	}
	m.ID = types.StringValue(p + "/" + a)
	m.Branch = types.StringValue(render.ParseSensorBranch(sensor))
	m.DeployedHash, m.Image = types.StringNull(), types.StringNull()
	m.ReadyReplicas, m.DesiredReplicas = types.Int64Value(0), types.Int64Value(0)
	if dep != nil {
		img := render.ContainerImage(dep, render.Deployment(a))
		m.Image = types.StringValue(img)
		if tag := render.ImageTag(img); tag != "" {
			m.DeployedHash = types.StringValue(tag)
		}
		desired, ready, _ := render.ParseReplicas(dep)
		m.ReadyReplicas, m.DesiredReplicas = types.Int64Value(ready), types.Int64Value(desired)
	}

	runs, err := eng.List(ctx, "argoproj.io/v1alpha1", "Workflow", ns, render.LabelApplication+"="+a)
	if err != nil {
		resp.Diagnostics.AddError("Reading application builds", err.Error())
		return
	}
	m.LastBuild = lastBuildValue(render.LastBuild(runs))

	m.BranchHead, m.UpToDate = types.StringNull(), types.BoolNull()
	owner, repo := render.ParseEventSourceRepo(get(render.EventSourceID(p, a)), p, a)
	head, err := d.data.branchHead(ctx, owner, repo, m.Branch.ValueString())
	var gone branchNotFound
	switch {
	case errors.As(err, &gone):
		// A deleted branch: nothing builds until it is pushed again, and
		// what runs stays; the rest of the application still reads.
		resp.Diagnostics.AddWarning("Branch not found on GitHub", err.Error()+
			"; branch_head and up_to_date are null, and CI builds again once the branch is pushed.")
	case err != nil:
		resp.Diagnostics.AddError("Reading the branch head from GitHub", err.Error())
		return
	}
	if head != "" {
		m.BranchHead = types.StringValue(head)
		m.UpToDate = types.BoolValue(head == m.DeployedHash.ValueString())
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

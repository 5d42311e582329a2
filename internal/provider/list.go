package provider

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	listschema "github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// List resources (Terraform 1.14+ `terraform query`): `list "idp_project"`,
// `list "idp_application"` and `list "idp_database"` find what runs in the
// cluster (findEstate) and return each with its identity and, with
// include_resource, the resource as import rebuilds it, so
// `terraform query -generate-config-out` writes import blocks and
// configuration that plan no replacement.

var _ provider.ProviderWithListResources = &idpProvider{}

func (p *idpProvider) ListResources(context.Context) []func() list.ListResource {
	return []func() list.ListResource{
		func() list.ListResource { return &listResource{kind: "project"} },
		func() list.ListResource { return &listResource{kind: "application"} },
		func() list.ListResource { return &listResource{kind: "database"} },
	}
}

var (
	_ list.ListResource              = &listResource{}
	_ list.ListResourceWithConfigure = &listResource{}
)

type listResource struct {
	kind string // project, application or database
	data *ProviderData
}

type listConfigModel struct {
	Projects types.List `tfsdk:"projects"`
}

func (l *listResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_" + l.kind
}

func (l *listResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	l.data = providerData(req.ProviderData, &resp.Diagnostics)
}

func (l *listResource) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	resp.Schema = listschema.Schema{
		MarkdownDescription: fmt.Sprintf("Every %[1]s running in the cluster that `idp_%[1]s` can adopt: made by the old Helm "+
			"chart, by another state of this provider, or by hand following the contract's names. Each result carries the "+
			"identity an `import` block takes and, with `include_resource`, the configuration import reads back.", l.kind),
		Attributes: map[string]listschema.Attribute{
			"projects": listschema.ListAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Only these projects. Default: every project (a namespace holding its `<name>-ci-eventbus` EventBus).",
				Validators:          []validator.List{listvalidator.ValueStringsAre(projectNameValidators()...)},
			},
		},
	}
}

func (l *listResource) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var diags diag.Diagnostics
	var cfg listConfigModel
	diags.Append(req.Config.Get(ctx, &cfg)...)
	if l.data == nil {
		diags.AddError("Provider not configured", "The idp provider must be configured to list what runs in the cluster.")
	}
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	var only []string
	if !cfg.Projects.IsNull() {
		only = []string{}
		diags.Append(cfg.Projects.ElementsAs(ctx, &only, false)...)
	}
	e, err := l.data.findEstate(ctx, estateKinds{projects: l.kind == "project", applications: l.kind == "application",
		databases: l.kind == "database", only: only})
	if err != nil {
		diags.AddError("Listing "+l.kind+"s", err.Error())
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	stream.Results = func(push func(list.ListResult) bool) {
		var sent int64
		emit := func(display string, identity, model any) bool {
			if req.Limit > 0 && sent >= req.Limit {
				return false
			}
			sent++
			r := req.NewListResult(ctx)
			r.DisplayName = display
			r.Diagnostics.Append(r.Identity.Set(ctx, identity)...)
			if req.IncludeResource {
				r.Diagnostics.Append(r.Resource.Set(ctx, model)...)
			}
			return push(r)
		}
		switch l.kind {
		case "project":
			for _, m := range e.projects {
				if !emit(m.Name.ValueString(), projectIdentityModel{Name: m.Name}, m) {
					return
				}
			}
		case "application":
			for _, m := range e.applications {
				if !emit(m.ID.ValueString(), childIdentityModel{Project: m.Project, Name: m.Name}, m) {
					return
				}
			}
		case "database":
			for _, m := range e.databases {
				if !emit(m.ID.ValueString(), childIdentityModel{Project: m.Project, Name: m.Name}, m) {
					return
				}
			}
		}
		// What looks like ours but cannot be adopted as it is: a warning
		// each, so the estate's review sees it.
		ids := make([]string, 0, len(e.skipped))
		for id := range e.skipped {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			var d diag.Diagnostics
			d.AddWarning(fmt.Sprintf("idp_%s %s cannot be adopted", l.kind, id), e.skipped[id])
			if !push(list.ListResult{Diagnostics: d}) {
				return
			}
		}
	}
}

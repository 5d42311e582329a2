package provider

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// An application's model: its attributes in state, and their conversion to render's input (spec) and back
// (database links, durations, the image).

type applicationModel struct {
	ID                    types.String   `tfsdk:"id"`
	Project               types.String   `tfsdk:"project"`
	Name                  types.String   `tfsdk:"name"`
	Git                   *gitModel      `tfsdk:"git"`
	Port                  types.Int64    `tfsdk:"port"`
	Replicas              types.Int64    `tfsdk:"replicas"`
	Domains               types.Set      `tfsdk:"domains"`
	AppSecretVaultPath    types.String   `tfsdk:"app_secret_vault_path"`
	WebhookSecretRotation types.String   `tfsdk:"webhook_secret_rotation"`
	BuildOnCreate         types.Bool     `tfsdk:"build_on_create"`
	RolloutTimeout        types.String   `tfsdk:"rollout_timeout"`
	BuildTimeout          types.String   `tfsdk:"build_timeout"`
	Databases             types.Set      `tfsdk:"databases"`
	Dispatch              *dispatchModel `tfsdk:"dispatch"`
	Image                 types.String   `tfsdk:"image"`
	WebhookURL            types.String   `tfsdk:"webhook_url"`
	Objects               types.Map      `tfsdk:"objects"`
	Timeouts              timeouts.Value `tfsdk:"timeouts"`
}

// databaseLinkModel is an element of databases: the idp_database's own
// attributes of that name (tofu drops the others when a whole
// idp_database is given).
type databaseLinkModel struct {
	Project types.String `tfsdk:"project"`
	Name    types.String `tfsdk:"name"`
	Type    types.String `tfsdk:"type"`
	Port    types.Int64  `tfsdk:"port"`
	// PasswordVersion restarts the pods when the database's password is
	// rotated.
	PasswordVersion types.Int64 `tfsdk:"password_version"`
}

var databaseLinkTypes = map[string]attr.Type{
	"project": types.StringType, "name": types.StringType, "type": types.StringType, "port": types.Int64Type,
	"password_version": types.Int64Type,
}

type dispatchModel struct {
	Repository types.String `tfsdk:"repository"`
	EventType  types.String `tfsdk:"event_type"`
}

type gitModel struct {
	Type   types.String `tfsdk:"type"`
	Owner  types.String `tfsdk:"owner"`
	Repo   types.String `tfsdk:"repo"`
	Branch types.String `tfsdk:"branch"`
	Hash   types.String `tfsdk:"hash"`
}

// spec converts the model to render's input, reporting whether every
// value is known.
func (m *applicationModel) spec(ctx context.Context, diags *diag.Diagnostics) (render.Application, bool) {
	g := m.Git
	if g == nil {
		g = &gitModel{}
	}
	known := !m.Project.IsUnknown() && !m.Name.IsUnknown() && !g.Owner.IsUnknown() && !g.Repo.IsUnknown() &&
		!g.Branch.IsUnknown() && !g.Hash.IsUnknown() && !m.Port.IsUnknown() && !m.Replicas.IsUnknown() &&
		!m.Domains.IsUnknown() && !m.AppSecretVaultPath.IsUnknown() && !m.RolloutTimeout.IsUnknown() && !m.BuildTimeout.IsUnknown() &&
		!m.Databases.IsUnknown()
	p, a := m.Project.ValueString(), m.Name.ValueString()
	var links []render.DatabaseLink
	for _, db := range databaseLinks(ctx, m.Databases, diags) {
		known = known && !db.Name.IsUnknown() && !db.Type.IsUnknown() && !db.Port.IsUnknown() && !db.PasswordVersion.IsUnknown()
		links = append(links, render.DatabaseLink{Name: db.Name.ValueString(), Type: db.Type.ValueString(), Port: db.Port.ValueInt64(),
			PasswordVersion: db.PasswordVersion.ValueInt64()})
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Name < links[j].Name })
	var dispatch *render.Dispatch
	if d := m.Dispatch; d != nil {
		known = known && !d.Repository.IsUnknown() && !d.EventType.IsUnknown()
		dispatch = &render.Dispatch{Repository: d.Repository.ValueString(), EventType: d.EventType.ValueString()}
	}
	return render.Application{
		Dispatch: dispatch,
		Project:  p, Name: a,
		Owner: g.Owner.ValueString(), Repo: g.Repo.ValueString(), Branch: g.Branch.ValueString(), Hash: g.Hash.ValueString(),
		Port: m.Port.ValueInt64(), Replicas: m.Replicas.ValueInt64(),
		RolloutTimeout: durationSeconds(m.RolloutTimeout),
		BuildTimeout:   durationSeconds(m.BuildTimeout),
		Databases:      links,
		Domains:        stringSet(ctx, m.Domains, diags),
		AppSecret:      render.VaultSecret{Path: orDefault(m.AppSecretVaultPath, render.AppSecretVaultPath(p, a))},
		WebhookSecret:  render.VaultSecret{Path: render.WebhookSecretVaultPath(p, a)},
	}, known
}

// databaseLinks reads the databases attribute (nil when null or unknown).
func databaseLinks(ctx context.Context, v types.Set, diags *diag.Diagnostics) []databaseLinkModel {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	var out []databaseLinkModel
	diags.Append(v.ElementsAs(ctx, &out, false)...)
	return out
}

// databaseLinksValue is the databases attribute for links of project p
// (null for none).
func databaseLinksValue(p string, links []render.DatabaseLink) types.Set {
	elemType := types.ObjectType{AttrTypes: databaseLinkTypes}
	if len(links) == 0 {
		return types.SetNull(elemType)
	}
	elems := make([]attr.Value, len(links))
	for i, l := range links {
		version := types.Int64Null()
		if l.PasswordVersion > 0 {
			version = types.Int64Value(l.PasswordVersion)
		}
		elems[i] = types.ObjectValueMust(databaseLinkTypes, map[string]attr.Value{
			"project": types.StringValue(p), "name": types.StringValue(l.Name),
			"type": types.StringValue(l.Type), "port": types.Int64Value(l.Port), "password_version": version,
		})
	}
	return types.SetValueMust(elemType, elems)
}

// durationSeconds is a validated duration attribute in seconds (0 when
// null: render's default).
func durationSeconds(v types.String) int64 {
	d, _ := time.ParseDuration(v.ValueString())
	return int64(d / time.Second)
}

// durationValue is seconds as a duration attribute reads when written by
// hand: "30m", "90s", "2h" (durationSeconds's inverse).
func durationValue(seconds int64) types.String {
	switch {
	case seconds%3600 == 0:
		return types.StringValue(strconv.FormatInt(seconds/3600, 10) + "h")
	case seconds%60 == 0:
		return types.StringValue(strconv.FormatInt(seconds/60, 10) + "m")
	}
	return types.StringValue(strconv.FormatInt(seconds, 10) + "s")
}

func imageOf(spec render.Application) types.String {
	if spec.Hash == "" {
		return types.StringNull()
	}
	return types.StringValue(render.Image(spec.RegistryHost, spec.RegistryProject, spec.Project, spec.Name, spec.Hash))
}

package provider

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The idp_application schema: attributes, their descriptions, validators and plan modifiers.

func (r *applicationResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "An application of a project: push-to-deploy CI (Argo Events EventSource and Sensor, a Traefik " +
			"IngressRoute that brings GitHub's webhooks to the EventSource, an Argo Workflows template that builds with " +
			"kaniko and rolls the image out in the cluster), a Service, a Deployment and one Traefik IngressRoute per " +
			"domain once a commit is built, and its secrets from Vault.\n\n" +
			"Without `git.hash`, CI owns the deployed commit: after it deploys commit X, the plan is empty and " +
			"`git.hash` reads X. With `git.hash`, tofu pins that commit (rollback or freeze): pushes still build, " +
			"but CI never deploys, so what runs and the plan stay put. Removing `git.hash` again builds and deploys " +
			"the branch head.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "`<project>/<name>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"project": schema.StringAttribute{
				Required: true, MarkdownDescription: "The project (`idp_project.name`). Changing it replaces the application.",
				Validators:    projectNameValidators(),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: fmt.Sprintf("Application name: a DNS-1035 label (it names the Service). Project and "+
					"application names together may have at most %d characters, so every derived name stays valid. "+
					"Not `github-access` nor ending in `-webhook` (their Secrets would be the project's or another "+
					"application's). Apply refuses names whose objects belong to another application or database of the "+
					"project (label `%s`). Changing it replaces the application.", render.MaxProjectAndApplication, render.LabelOwner),
				Validators: append(nameValidators(render.MaxProjectAndApplication-1),
					stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z]`), "must start with a letter (it names a Service)")),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"git": schema.SingleNestedAttribute{
				Required: true, MarkdownDescription: "The repository CI builds.",
				Attributes: map[string]schema.Attribute{
					"type": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("github"),
						MarkdownDescription: "Git host. Only `github` is supported.",
						Validators:          []validator.String{stringvalidator.OneOf("github")},
					},
					"owner": schema.StringAttribute{
						Required: true, MarkdownDescription: "GitHub user or organisation.",
						Validators: []validator.String{stringvalidator.RegexMatches(githubOwner, "must be a GitHub user or organisation name")},
					},
					"repo": schema.StringAttribute{
						Required: true, MarkdownDescription: "Repository name.",
						Validators: []validator.String{githubRepoValidator{}},
					},
					"branch": schema.StringAttribute{
						Required: true, MarkdownDescription: "Branch whose pushes are built and deployed. Besides git's rules, it may not " +
							"contain `#`, `{{` or `$(`, which the build's git context and templates would interpret.",
						Validators: []validator.String{branchValidator{}},
					},
					"hash": schema.StringAttribute{
						Optional: true, Computed: true,
						MarkdownDescription: "Commit to deploy, as its full 40-character sha (the tag CI gives images). " +
							"Unset: CI decides and this reads the deployed commit. Set: tofu deploys it and waits for the rollout.",
						Validators: []validator.String{stringvalidator.RegexMatches(fullCommitHash, fullCommitHashMessage)},
					},
				},
			},
			"port": schema.Int64Attribute{
				Required: true, MarkdownDescription: "Port the application listens on.",
				Validators: []validator.Int64{int64validator.Between(1, 65535)},
			},
			"replicas": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(1),
				MarkdownDescription: "Pods to run. Default 1.",
				Validators:          []validator.Int64{int64validator.Between(0, 100)},
			},
			"domains": schema.SetAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Domains routed to the application (a Traefik IngressRoute each, entry points `web` and `websecure`). " +
					"No wildcards (Traefik's `Host()` matches a host exactly). Two domains whose route names meet (`a-b.com` and " +
					"`a.b.com`: dots become dashes) cannot both be given.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(
					stringvalidator.LengthAtMost(253),
					stringvalidator.RegexMatches(domainName, "must be a lowercase DNS name (RFC 1123)"),
					wildcardDomainValidator{},
				)},
			},
			"app_secret_vault_path": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Vault KV v2 path of the application's environment (every key becomes an environment " +
					"variable). Defaults to `<project>-<name>-secret`. May be absent in Vault; it is synced once written.",
				Validators: []validator.String{vaultPathValidator{}},
			},
			"webhook_secret_rotation": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Any value; changing it generates a new GitHub webhook secret. The secret itself is " +
					"generated on create, kept in Vault and never in state.",
			},
			"build_on_create": schema.BoolAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "On create, build and deploy the branch head right away instead of waiting for a push. " +
					"Needs a GitHub token to resolve the head; defaults to `true` when one is configured.",
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"rollout_timeout": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("10m"),
				MarkdownDescription: "How long CI's rollout step waits for every pod to run the new commit and be Ready. " +
					"When it runs out, the workflow fails (the previous pods keep serving: `maxUnavailable` is 0) and " +
					"`data.idp_application.last_build` says so. Default `10m`, Kubernetes' own progress deadline.",
				Validators: []validator.String{durationValidator{min: 30 * time.Second, max: 24 * time.Hour}},
			},
			"build_timeout": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString("30m"),
				MarkdownDescription: "How long CI's build step (kaniko: clone, build, push) may run. When it runs out, the " +
					"workflow fails and the next push builds. A run as a whole fails after `build_timeout` + " +
					"`rollout_timeout` + 2m, also when a pod of it never starts (for example an unschedulable build " +
					"pod), so a stuck run never holds up later pushes for long; runs waiting their turn are not " +
					"counted. Default `30m`.",
				Validators: []validator.String{durationValidator{min: 30 * time.Second, max: 24 * time.Hour}},
			},
			"databases": schema.SetNestedAttribute{
				Optional: true,
				MarkdownDescription: "Databases of the project whose connection the pods get in their environment, for " +
					"example `databases = [idp_database.orders]`. For a database `orders-db`: `ORDERS_DB_HOST`, `_PORT`, " +
					"`_USER`, `_DATABASE` (the values `idp_database` reports), `ORDERS_DB_PASSWORD` (a `secretKeyRef` to the " +
					"database's Secret, so the password never passes through tofu) and `ORDERS_DB_URL` (`mysql://`, " +
					"`postgresql://`, `redis://` or `mongodb://user:password@host:port/database`, composed in the pod; a " +
					"password with URL-reserved characters needs escaping, generated ones have none). These override keys " +
					"of the same name in `app_secret_vault_path`.",
				// Optional, checked in ValidateConfig: "required" would be
				// enforced on a whole idp_database that is still unknown.
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"project": schema.StringAttribute{Optional: true, MarkdownDescription: "The database's project: the application's. Required.",
						Validators: projectNameValidators()},
					"name": schema.StringAttribute{Optional: true, MarkdownDescription: "The database's name. Required.",
						Validators: databaseNameValidators()},
					"type": schema.StringAttribute{Optional: true, MarkdownDescription: "The database's type. Required.",
						Validators: []validator.String{stringvalidator.OneOf(render.DatabaseTypeNames()...)}},
					"port": schema.Int64Attribute{Optional: true, MarkdownDescription: "The database's port. Required.",
						Validators: []validator.Int64{int64validator.Between(1, 65535)}},
					"password_version": schema.Int64Attribute{Optional: true,
						MarkdownDescription: "The database's `password_version`: when it changes (a rotation), the pods " +
							"restart onto the new password. Given with the resource itself."},
				}},
			},
			"dispatch": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "Deploy the old chart's way instead of in the cluster: after a successful build, the " +
					"workflow's `update-config` step sends a GitHub `repository_dispatch` (payload: project, application, " +
					"hash) to a GitOps repository, whose pipeline sets `git.hash`.",
				Attributes: map[string]schema.Attribute{
					"repository": schema.StringAttribute{
						Required: true, MarkdownDescription: "`owner/repo` that receives the dispatch.",
						Validators: []validator.String{stringvalidator.RegexMatches(regexp.MustCompile(`^[A-Za-z0-9-]+/[A-Za-z0-9._-]+$`), "must be owner/repo")},
					},
					"event_type": schema.StringAttribute{
						Optional: true, Computed: true, Default: stringdefault.StaticString("update-config"),
						MarkdownDescription: "The dispatch's `event_type`. Default `update-config`.",
						Validators:          []validator.String{stringvalidator.LengthBetween(1, 100)},
					},
				},
			},
			"image": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The image the Deployment runs, once a commit is deployed.",
			},
			"webhook_url": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The URL GitHub posts pushes to.",
			},
			"objects": objectsAttribute(),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
}

package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The idp_project schema: attributes, their descriptions, validators and defaults.

func (r *projectResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A project: its namespace, CI plumbing (Argo Events EventBus, workflow service account " +
			"with least-privilege RBAC), GitHub and registry credentials synced from Vault, and network isolation. " +
			"Applications and databases are created in it with `idp_application` and `idp_database`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "The project name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: fmt.Sprintf("Project name, also its namespace. A DNS-1123 label of at most %d characters "+
					"starting with a letter, so that every derived name stays valid (the EventBus StatefulSet's pods carry a "+
					"label `eventbus-<name>-ci-eventbus-stan-<revision hash>` of at most 63; applications' webhook Services "+
					"start with the name). Not `default`, `kube-*` or one of the provider's `isolation.allowed_namespaces`: the "+
					"project owns its namespace, and destroy deletes it. A create refuses a namespace (or other object) that "+
					"exists without this provider's label or field manager; `tofu import` adopts a project that the idp chart "+
					"or another state made. Changing it replaces the project.", render.MaxProjectName),
				Validators:    projectNameValidators(),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"eventbus_type": schema.StringAttribute{
				Optional: true, Computed: true,
				MarkdownDescription: "The project's Argo Events EventBus: `jetstream` (NATS JetStream: a volume per replica, " +
					"user/password auth and TLS that the Argo Events controller generates) or `nats` (native NATS Streaming, " +
					"what the idp chart made: no auth, events in an emptyDir; end of life since June 2023, deprecated in Argo " +
					"Events). Unset: `jetstream` for a new project, and an existing or imported project keeps the type it has. " +
					"Changing it replaces the EventBus under the same name (the project and its applications stay) and " +
					"restarts the project's EventSources and Sensors on the new bus: a push that arrives meanwhile, about a " +
					"minute, may not be built. See the importing guide, \"Moving the EventBus to JetStream\".",
				Validators:    []validator.String{stringvalidator.OneOf(render.EventBusJetStream, render.EventBusNATS)},
				PlanModifiers: []planmodifier.String{eventBusTypeDefault{}},
			},
			"eventbus_replicas": schema.Int64Attribute{
				Optional: true, Computed: true, Default: int64default.StaticInt64(3),
				MarkdownDescription: "NATS replicas of the project's EventBus. Argo Events runs at least 3.",
				Validators:          []validator.Int64{int64validator.Between(3, 9)},
			},
			"eventbus_volume_size": schema.StringAttribute{
				Optional: true, Computed: true, Default: stringdefault.StaticString(defaultEventBusVolume),
				MarkdownDescription: "Volume of each JetStream EventBus replica (the cluster's default StorageClass), a " +
					"Kubernetes quantity. It holds events until their Sensor takes them: small. It cannot change on an existing " +
					"JetStream bus (the claim template is immutable). Ignored by `nats`. Default `" + defaultEventBusVolume + "`.",
				Validators: []validator.String{quantityValidator{}},
			},
			"labels": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Labels for the project's namespace, in addition to `app.kubernetes.io/managed-by`.",
				Validators:          []validator.Map{labelsValidator{}},
			},
			"annotations": schema.MapAttribute{
				Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Annotations for the project's namespace.",
				Validators:          []validator.Map{labelsValidator{annotations: true}},
			},
			"isolation": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(true),
				MarkdownDescription: "Admit traffic to the project's pods only from the project itself, from the " +
					"platform's ingress and event controllers (the provider's `isolation` block) and from " +
					"`allowed_namespaces` (a NetworkPolicy). Default `true`.",
			},
			"allowed_namespaces": schema.SetAttribute{
				Optional: true, Computed: true, ElementType: types.StringType,
				Default: setdefault.StaticValue(setValue(nil)),
				MarkdownDescription: "More namespaces whose pods may reach the project's pods when `isolation` is on " +
					"(for example monitoring), in addition to the provider's `isolation.allowed_namespaces`, where the " +
					"ingress and event controllers run. Default none.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(nameValidators(63)...)},
			},
			"github_access_vault_path": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Vault KV v2 path (under the provider's `vault.kv_mount`) holding `username` and " +
					"`token` for GitHub. Defaults to `<name>-github-access`.",
				Validators: []validator.String{vaultPathValidator{}},
			},
			"registry_vault_path": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Vault KV v2 path holding the registry credentials: either `.dockerconfigjson`, or " +
					"`username` and `password` for the provider's `registry.host`. Defaults to `<name>-registry`.",
				Validators: []validator.String{vaultPathValidator{}},
			},
			"delete_data": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Allow destroy to delete the namespace while it holds PersistentVolumeClaims " +
					"(their volumes are deleted with it). Set it and apply before destroying. Default `false`.",
			},
			"objects": objectsAttribute(),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
}

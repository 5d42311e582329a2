package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/idpkit/terraform-provider-idp/internal/planmodifiers"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The idp_database schema: attributes, their descriptions, validators and plan modifiers, and what the plan
// says when a change would lose data.

func (r *databaseResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	typeList := "`" + strings.Join(render.DatabaseTypeNames(), "`, `") + "`"
	ports := make([]string, 0, len(render.DatabaseTypes))
	for _, t := range render.DatabaseTypeNames() {
		ports = append(ports, fmt.Sprintf("%s %d", t, render.DatabaseTypes[t].Port))
	}
	computed := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Computed: true, MarkdownDescription: desc}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A database in a project: a StatefulSet `<project>-<name>-db` with one volume per replica, " +
			"a Service `<name>` and a Secret `<project>-<name>-secret` holding the password from Vault.\n\n" +
			"**Password.** On create, the provider uses the password at Vault `<kv_mount>/<project>-<name>-secret` " +
			"(key `password`) or, when there is none, generates one (32 random letters and digits) and writes it there. " +
			"It never generates another: not on apply, retry or import. The value never enters state or plan; " +
			"`password_version` records the Vault version the database's Secret holds. A rotation written to Vault shows " +
			"in the next plan (an `objects` entry reads `Vault ... not synced`). Servers read the password only when they " +
			"initialise an empty volume, so apply first changes it inside the running server, with the password it has " +
			"now (`ALTER USER` for mysql and postgres, `CONFIG SET requirepass` for redis, `changeUserPassword` for " +
			"mongodb, run in the database's container with the passwords on stdin), then re-syncs the Secret and restarts " +
			"the pods. If the change fails, nothing else changes: the database and its Secret keep the old password.\n\n" +
			"**Data.** Destroy deletes the StatefulSet, Service and Secret but keeps the volumes (PersistentVolumeClaims) " +
			"and the Vault password unless `delete_data` is `true`: a database created again with the same name gets both back. " +
			"`size` only grows: apply expands the existing claims (the StatefulSet's claim template is immutable and kept). " +
			"`storage_class` is fixed when the volumes are created.\n\n" +
			"Use `idp_database_credentials` (an ephemeral resource) to hand the password to other providers without storing it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, MarkdownDescription: "`<project>/<name>`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"project": schema.StringAttribute{
				Required: true, MarkdownDescription: "The project (namespace), usually `idp_project.<x>.name`. Changing it replaces the database.",
				Validators:    projectNameValidators(),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"name": schema.StringAttribute{
				Required: true,
				MarkdownDescription: fmt.Sprintf("Database name: the Service's name, so a DNS-1035 label (starting with a letter) of at most "+
					"%d characters (MySQL's limit for the user `<name>_user`); `<project>-<name>-db` may have at most %d. "+
					"Not `github-access` nor ending in `-webhook` (its Secret would be the project's or an application's). "+
					"Apply refuses a name whose objects belong to an application of the project (label `%s`). "+
					"Changing it replaces the database.", render.MaxDatabaseName, render.MaxDatabaseStatefulSet, render.LabelOwner),
				Validators: append(nameValidators(render.MaxDatabaseName),
					stringvalidator.RegexMatches(startsWithLetter, "must start with a letter (it names the database's Service)")),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"type": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "One of " + typeList + ". Changing it replaces the database, which needs `delete_data = true` " +
					"applied first: a new server of another type cannot use the old data.",
				Validators: []validator.String{stringvalidator.OneOf(render.DatabaseTypeNames()...)},
				PlanModifiers: []planmodifier.String{
					stringplanmodifier.RequiresReplace(),
					planmodifiers.ReplaceNeedsFlag(path.Root("delete_data"), typeChangeKeepsData, typeChangeDeletesData),
				},
			},
			"version": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Image tag, e.g. `8.0`: the image is `<type>:<version>` (`mongo:<version>` for mongodb). " +
					"Changing it rolls the StatefulSet in place.",
				Validators: []validator.String{stringvalidator.RegexMatches(databaseVersion, "must be an image tag: letters, digits, '_', '.' and '-', at most 128, not starting with '.' or '-'")},
			},
			"size": schema.StringAttribute{
				Required: true,
				MarkdownDescription: "Volume size, a Kubernetes quantity such as `5Gi`. It can grow (apply expands the existing " +
					"claims, which needs a StorageClass with `allowVolumeExpansion`) but never shrink.",
				Validators:    []validator.String{quantityValidator{}},
				PlanModifiers: []planmodifier.String{planmodifiers.QuantityOnlyGrows(sizeShrinks)},
			},
			"storage_class": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "StorageClass of the volumes (`storageClassName` of the StatefulSet's claim template). Unset: the " +
					"cluster's default class; `\"\"` asks for no class (only volumes provisioned by hand bind). It cannot change on an " +
					"existing database (the claim template is immutable and a volume keeps its class): plan rejects a change unless the " +
					"database is replaced anyway (a new `project` or `name`, or a `type` change with `delete_data`). When set, it must " +
					"also be the class of volumes kept from an earlier database of the same name. Import reads it from the StatefulSet.",
				Validators: []validator.String{storageClassValidator{}},
				// Replaced anyway (new names, or a type change that needs
				// delete_data): the new database gets new claims of any class.
				PlanModifiers: []planmodifier.String{
					planmodifiers.FixedUnlessReplaced(storageClassChanges, path.Root("project"), path.Root("name"), path.Root("type")),
				},
			},
			"port": schema.Int64Attribute{
				Optional: true, Computed: true,
				MarkdownDescription: "Port of the container and the Service. Defaults by type: " + strings.Join(ports, ", ") + ". " +
					"Another port is passed to the server as its image documents: `--port` for mysql, redis and mongodb, " +
					"`PGPORT` for postgres.",
				Validators: []validator.Int64{int64validator.Between(1, 65535)},
			},
			"delete_data": schema.BoolAttribute{
				Optional: true, Computed: true, Default: booldefault.StaticBool(false),
				MarkdownDescription: "Let destroy (and replacement) delete the volumes and the Vault password too. Set it and apply " +
					"before destroying. Default `false`.",
			},
			"host":     computed("In-cluster host name of the database: `<name>.<project>.svc.cluster.local`."),
			"username": computed("User applications connect as: `<name>_user` (the root user for mongodb, `default` for redis)."),
			"database": computed("Database applications use: `<name>_db` (mongodb users authenticate against `admin`; `0` for redis)."),
			"password_vault_path": computed("Vault KV v2 path of the password (key `password`), relative to the provider's " +
				"`vault.kv_mount`: `<project>-<name>-secret`."),
			"password_version": schema.Int64Attribute{
				Computed:            true,
				MarkdownDescription: "Version of the Vault secret that the database's Secret holds.",
			},
			"objects": objectsAttribute(),
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Read: true, Update: true, Delete: true}),
		},
	}
}

// What the plan says when a change would lose data (internal/planmodifiers).
var (
	sizeShrinks = planmodifiers.Message{
		Summary: "Database volumes cannot shrink",
		Detail: func(c planmodifiers.Change) string {
			return fmt.Sprintf("size would go from %s down to %s. Kubernetes volumes only grow, so %s keeps its %s volume: "+
				"set size back to at least %s, or move the data to a new database.",
				c.From.ValueString(), c.To.ValueString(), c.ID, c.From.ValueString(), c.From.ValueString())
		},
	}
	storageClassChanges = planmodifiers.Message{
		Summary: "Database volumes cannot change storage class",
		Detail: func(c planmodifiers.Change) string {
			from, to := describeClass(c.From.ValueStringPointer()), describeClass(c.To.ValueStringPointer())
			back := "set storage_class back to " + from
			if c.From.IsNull() {
				back = "remove storage_class again"
			}
			return fmt.Sprintf("storage_class would change from %s to %s. The StatefulSet's claim template is immutable and a volume keeps "+
				"the class it was provisioned with, so %s stays on %s: %s, or move the data to a new database (another name) "+
				"that uses the new class.", from, to, c.ID, from, back)
		},
	}
	typeChangeKeepsData = planmodifiers.Message{
		Summary: "Changing the type replaces the database",
		Detail: func(c planmodifiers.Change) string {
			return fmt.Sprintf("type %s -> %s replaces %s. Its volume would be reattached to the new %s server, which cannot use %s data. "+
				"To start over with an empty database, first set delete_data = true and apply (the replacement then deletes "+
				"the volume and the Vault password); or give the new database another name.",
				c.From.ValueString(), c.To.ValueString(), c.ID, c.To.ValueString(), c.From.ValueString())
		},
	}
	typeChangeDeletesData = planmodifiers.Message{
		Summary: "Replacing the database deletes its data",
		Detail: func(c planmodifiers.Change) string {
			return fmt.Sprintf("type %s -> %s replaces %s, and delete_data is true: its volumes and its Vault password are deleted.",
				c.From.ValueString(), c.To.ValueString(), c.ID)
		},
	}
)

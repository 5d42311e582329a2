package provider

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Default timeouts. Create is the longest: it may wait for CRDs that an
// app-of-apps installs during the same apply.
const (
	defaultCreateTimeout = 10 * time.Minute
	defaultUpdateTimeout = 10 * time.Minute
	defaultDeleteTimeout = 10 * time.Minute
	defaultReadTimeout   = 2 * time.Minute
)

// withTimeout bounds ctx by one operation's configured timeout (from the
// resource's timeouts block, else def).
func withTimeout(ctx context.Context, configured func(context.Context, time.Duration) (time.Duration, diag.Diagnostics),
	def time.Duration, diags *diag.Diagnostics) (context.Context, context.CancelFunc) {
	d, ds := configured(ctx, def)
	diags.Append(ds...)
	return context.WithTimeout(ctx, d)
}

// providerData turns Configure's provider data into *ProviderData. It is
// nil (and no error) while the provider itself is not configured yet.
func providerData(data any, diags *diag.Diagnostics) *ProviderData {
	if data == nil {
		return nil
	}
	pd, ok := data.(*ProviderData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *ProviderData, got %T; please report this issue", data))
	}
	return pd
}

// readVaultSecret reads the latest version of a secret the user keeps in
// Vault, with an error at attr when it is missing. On refresh a missing
// secret is only a warning and comes back without Values: refresh (and so
// import) must not fail before the configuration can say where the secret
// is; the apply still fails with the error.
func (d *ProviderData) readVaultSecret(ctx context.Context, vaultPath string, attr path.Path, keys string, refresh bool, diags *diag.Diagnostics) render.VaultSecret {
	src, _ := d.readVault(ctx, vaultRead{Path: vaultPath, Attr: attr, Absent: func(src render.VaultSecret) diag.Diagnostic {
		if refresh {
			return diag.NewWarningDiagnostic("Vault secret not found",
				fmt.Sprintf("Vault has no secret at %s, so the next apply fails: write it (with keys %s), or set %s to where it is.",
					src.FullPath(), keys, attr))
		}
		return diag.NewErrorDiagnostic("Vault secret not found",
			fmt.Sprintf("Vault has no secret at %s. Write it first, with keys %s, for example: vault kv put -mount=%s %s ...",
				src.FullPath(), keys, src.Mount, vaultPath))
	}}, diags)
	return src
}

// importedVaultPath recovers the Vault path a live Secret was synced from;
// null (the default path) when it is the default or unrecorded.
func (d *ProviderData) importedVaultPath(secret *unstructured.Unstructured, def string) types.String {
	if secret == nil {
		return types.StringNull()
	}
	full := secret.GetAnnotations()[render.AnnotationVaultPath]
	mount, _ := d.set.KVMount.get()
	p, ok := strings.CutPrefix(full, mount+"/")
	if !ok || p == def {
		return types.StringNull()
	}
	return types.StringValue(p)
}

// nullTimeouts is the value of an absent timeouts block.
func nullTimeouts() timeouts.Value {
	return timeouts.Value{Object: types.ObjectNull(map[string]attr.Type{
		"create": types.StringType, "read": types.StringType, "update": types.StringType, "delete": types.StringType,
	})}
}

// guardServices refuses to take over a Service that selects other pods.
// An application and a database of one project share the Service name
// space, and a forced apply would silently send one's traffic to the other.
// Services made by the old chart select the same pods and are adopted.
func guardServices(ctx context.Context, eng *engine.Engine, objs []*unstructured.Unstructured, diags *diag.Diagnostics) {
	for _, o := range objs {
		if o.GetKind() != "Service" {
			continue
		}
		ref := engine.RefOf(o)
		live, err := eng.Get(ctx, ref)
		if err != nil {
			diags.AddError("Reading "+ref.String(), err.Error())
			return
		}
		if live == nil {
			continue
		}
		want, have := render.ParseServiceSelector(o), render.ParseServiceSelector(live)
		if !maps.Equal(want, have) {
			diags.AddAttributeError(path.Root("name"), "Name already taken",
				fmt.Sprintf("Service %s already exists and selects %v, not %v: another application or database of project %s "+
					"(or something else) uses this name. Nothing was applied to the cluster; choose another name.", ref, have, want, ref.Namespace))
			return
		}
	}
}

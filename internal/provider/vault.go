package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// vaultSecret is the one path by which the provider reads Vault: resources,
// the ephemeral resource and the plan-time GitHub check all come through
// here. It returns version (0: the latest) of the secret at p, relative to
// vault.kv_mount, with Mount and Path filled in; Version stays 0 when there
// is no such secret. Writes (Ensure, Write, Destroy) stay with their callers.
func (d *ProviderData) vaultSecret(ctx context.Context, p string, version int) (render.VaultSecret, error) {
	kv, err := d.Engine.KV()
	if err != nil {
		return render.VaultSecret{Path: p}, vaultNotConfigured{err}
	}
	src := render.VaultSecret{Mount: kv.Mount(), Path: p}
	s, err := kv.ReadVersion(ctx, p, version)
	if err != nil || s == nil {
		return src, err
	}
	src.Version, src.Values = s.Version, render.SecretValues(s.Values)
	return src, nil
}

// readVaultAhead starts a refresh's reads of the latest versions of paths
// (relative to vault.kv_mount), to run beside its Kubernetes reads
// (engine.KV.ReadAhead); vaultSecret takes them through the returned ctx.
func (d *ProviderData) readVaultAhead(ctx context.Context, paths ...string) context.Context {
	kv, err := d.Engine.KV()
	if err != nil {
		return ctx // vaultSecret reports it
	}
	return kv.ReadAhead(ctx, paths...)
}

// vaultNotConfigured is a provider setting missing for Vault: its message
// already names the setting and its environment variable.
type vaultNotConfigured struct{ error }

func (e vaultNotConfigured) Unwrap() error { return e.error }

// vaultRead is one read of a secret and what its absence means to the caller.
type vaultRead struct {
	Path    string    // relative to vault.kv_mount
	Version int       // 0: the latest
	Attr    path.Path // where diagnostics point; empty: the resource
	Key     string    // a key the secret must hold ("" for any)
	// Absent words the diagnostic for a missing secret, or for a secret
	// (src.Version > 0) without Key. nil, or a nil result, means the caller
	// expected that and goes on (it generates the secret, or does without).
	Absent func(src render.VaultSecret) diag.Diagnostic
}

// readVault reads r through vaultSecret and reports whether the secret (and
// its Key) is there. Vault's own failures (unreachable, sealed, denied) are
// errors at r.Attr.
func (d *ProviderData) readVault(ctx context.Context, r vaultRead, diags *diag.Diagnostics) (render.VaultSecret, bool) {
	src, err := d.vaultSecret(ctx, r.Path, r.Version)
	if err != nil {
		summary := "Reading Vault failed"
		if errors.As(err, new(vaultNotConfigured)) {
			summary = "Vault is not configured"
		}
		addAt(diags, r.Attr, diag.NewErrorDiagnostic(summary, err.Error()))
		return src, false
	}
	if src.Version > 0 && (r.Key == "" || src.Values[r.Key] != "") {
		return src, true
	}
	if r.Absent != nil {
		if d := r.Absent(src); d != nil {
			addAt(diags, r.Attr, d)
		}
	}
	return src, false
}

// addAt adds d at attribute p, or to the resource when p is empty.
func addAt(diags *diag.Diagnostics, p path.Path, d diag.Diagnostic) {
	if p.Equal(path.Empty()) {
		diags.Append(d)
		return
	}
	diags.Append(diag.WithPath(p, d))
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

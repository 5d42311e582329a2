package provider

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// changePasswordInServer carries a password rotated in Vault into the
// running server, with the password the server has now (the one its live
// Secret holds), before the Secret is synced and the pods restart onto it.
// Servers read the password from their environment only when they
// initialise an empty volume: without this, a rotation would lock every
// client out. Nothing to do on create, when the Secret already holds the
// new password, or when no server runs yet (it will start with the new
// Secret). On failure the apply stops before the Secret changes, so the
// database and its clients keep working with the old password.
func (r *databaseResource) changePasswordInServer(ctx context.Context, spec render.Database, diags *diag.Diagnostics) {
	eng, ns := r.data.Engine, render.Namespace(spec.Project)
	newPassword := spec.Password.Values[render.DatabasePasswordKey]
	sec, err := eng.Get(ctx, toRef(render.DatabaseSecretID(spec.Project, spec.Name)))
	if err != nil || sec == nil || newPassword == "" {
		if err != nil {
			diags.AddError("Reading the database's Secret", err.Error())
		}
		return
	}
	if sec.GetAnnotations()[render.AnnotationVaultVersion] == strconv.Itoa(spec.Password.Version) {
		return
	}
	old := render.ParseDatabasePassword(sec)
	if old == "" || old == newPassword {
		return
	}
	pod := render.DatabasePod(spec.Project, spec.Name, 0)
	live, err := eng.Get(ctx, toRef(render.DatabasePodID(spec.Project, spec.Name, 0)))
	if err != nil {
		diags.AddError("Reading the database's pod", err.Error())
		return
	}
	if live == nil {
		diags.AddAttributeError(path.Root("password_version"), "Database server not running",
			fmt.Sprintf("Vault %s has a new password (version %d), but pod %s/%s is not running, so its server cannot be "+
				"switched to it; the server keeps the old password on its volume. Start it (the StatefulSet brings the pod "+
				"back) and apply again. Nothing was changed.", spec.Password.FullPath(), spec.Password.Version, ns, pod))
		return
	}
	change, err := render.DatabasePasswordChange(spec, old, newPassword)
	if err == nil {
		_, err = eng.Exec(ctx, ns, pod, spec.Name, change.Command, change.Stdin, old, newPassword)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("password_version"), "Changing the password inside the database failed",
			fmt.Sprintf("Vault %s has a new password (version %d); changing it inside %s failed: %s. The database and its "+
				"Secret keep the old password, so clients keep working. Fix the cause and apply again.",
				spec.Password.FullPath(), spec.Password.Version, spec.Type, err))
	}
}

// ensurePassword returns the password in Vault, generating and storing one
// (check-and-set) only when there is none and no volume holds data that an
// earlier password protects.
func (r *databaseResource) ensurePassword(ctx context.Context, kv *engine.KV, spec render.Database, claims []unstructured.Unstructured, diags *diag.Diagnostics) render.VaultSecret {
	src, found := r.data.readVault(ctx, vaultRead{Path: spec.Password.Path, Key: render.DatabasePasswordKey, Absent: func(src render.VaultSecret) diag.Diagnostic {
		switch {
		case src.Version > 0:
			return noPasswordKey(src)
		case len(claims) > 0:
			return diag.NewErrorDiagnostic("Password missing for existing data",
				fmt.Sprintf("PersistentVolumeClaim %s holds the data of an earlier database %s/%s, but Vault has no password at %s. "+
					"A new password would lock the database out of that data, so none was generated. Restore it "+
					"(vault kv undelete / vault kv put -mount=%s %s password=...), or delete the claim to start empty.",
					claims[0].GetName(), spec.Project, spec.Name, src.FullPath(), src.Mount, src.Path))
		}
		return nil // none yet: generated below
	}}, diags)
	if found || diags.HasError() {
		return src
	}
	s, err := kv.Ensure(ctx, src.Path, newDatabasePassword)
	if err != nil {
		diags.AddError("Vault password", fmt.Sprintf("%s. If the latest version was deleted in Vault, undelete it (vault kv undelete) "+
			"or remove the secret for good (vault kv metadata delete)", err))
		return src
	}
	src.Version, src.Values = s.Version, render.SecretValues(s.Values)
	if src.Values[render.DatabasePasswordKey] == "" { // another writer's secret
		diags.Append(noPasswordKey(src))
	}
	return src
}

// readPassword returns the password of an existing database; it is never
// generated again.
func (r *databaseResource) readPassword(ctx context.Context, spec render.Database, diags *diag.Diagnostics) render.VaultSecret {
	src, _ := r.data.readVault(ctx, vaultRead{Path: spec.Password.Path, Key: render.DatabasePasswordKey, Absent: func(src render.VaultSecret) diag.Diagnostic {
		if src.Version > 0 {
			return noPasswordKey(src)
		}
		return diag.NewErrorDiagnostic("Password missing in Vault",
			fmt.Sprintf("Vault has no password at %s for the existing database %s/%s. Its data was initialised with that password, "+
				"so no new one is generated: restore it (vault kv undelete, or vault kv put -mount=%s %s password=...).",
				src.FullPath(), spec.Project, spec.Name, src.Mount, src.Path))
	}}, diags)
	return src
}

func noPasswordKey(src render.VaultSecret) diag.Diagnostic {
	return diag.NewErrorDiagnostic("Vault secret has no password",
		fmt.Sprintf("Vault secret %s (version %d) has no key %q; add it (the provider does not overwrite a secret it did not create).",
			src.FullPath(), src.Version, render.DatabasePasswordKey))
}

const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newDatabasePassword draws 32 letters and digits (190 bits) from
// crypto/rand: no character needs quoting in a shell, a URL or a DSN.
func newDatabasePassword() (engine.Values, error) {
	b := make([]byte, 32)
	max := big.NewInt(int64(len(passwordAlphabet)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return nil, fmt.Errorf("generating a password: %w", err)
		}
		b[i] = passwordAlphabet[n.Int64()]
	}
	return engine.Values{render.DatabasePasswordKey: string(b)}, nil
}

package provider

import (
	"context"
	"encoding/base64"
	"fmt"
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
	sec, err := eng.Get(ctx, engine.Ref{APIVersion: "v1", Kind: "Secret", Namespace: ns, Name: render.DatabaseSecret(spec.Project, spec.Name)})
	if err != nil || sec == nil || newPassword == "" {
		if err != nil {
			diags.AddError("Reading the database's Secret", err.Error())
		}
		return
	}
	if sec.GetAnnotations()[render.AnnotationVaultVersion] == strconv.Itoa(spec.Password.Version) {
		return
	}
	enc, _, _ := unstructured.NestedString(sec.Object, "data", render.DatabasePasswordKey)
	old, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(old) == 0 || string(old) == newPassword {
		return
	}
	pod := render.DatabasePod(spec.Project, spec.Name, 0)
	live, err := eng.Get(ctx, engine.Ref{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: pod})
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
	change, err := render.DatabasePasswordChange(spec, string(old), newPassword)
	if err == nil {
		_, err = eng.Exec(ctx, ns, pod, spec.Name, change.Command, change.Stdin, string(old), newPassword)
	}
	if err != nil {
		diags.AddAttributeError(path.Root("password_version"), "Changing the password inside the database failed",
			fmt.Sprintf("Vault %s has a new password (version %d); changing it inside %s failed: %s. The database and its "+
				"Secret keep the old password, so clients keep working. Fix the cause and apply again.",
				spec.Password.FullPath(), spec.Password.Version, spec.Type, err))
	}
}

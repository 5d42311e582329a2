package provider

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// A database's volumes: the claims kept from earlier databases, their class and size, and their growth.

// withLiveClaimTemplates is what is compared with a live database object:
// a StatefulSet keeps its live claim templates (they are immutable).
func withLiveClaimTemplates(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	if desired.GetKind() == "StatefulSet" {
		return render.WithLiveClaimTemplates(desired, live)
	}
	return desired
}

// checkStorageClass refuses a storage class that the database's volumes
// would not get: a live StatefulSet (left by a failed create, or made by
// the old chart) keeps its immutable claim template, and claims kept from
// an earlier database keep their class. With storage_class unset, kept
// claims are not compared: the cluster's default class gave them theirs.
func checkStorageClass(spec render.Database, liveSts *unstructured.Unstructured, claims []unstructured.Unstructured, diags *diag.Diagnostics) {
	if liveSts != nil {
		if class, found := render.ClaimTemplateStorageClass(liveSts, render.DatabaseVolume(spec.Project, spec.Name)); found && !sameClass(class, spec.StorageClass) {
			diags.AddAttributeError(path.Root("storage_class"), "Existing StatefulSet has another storage class",
				fmt.Sprintf("StatefulSet %s already exists with storage class %s in its claim template, which cannot change; storage_class is %s. "+
					"Set storage_class to match (%s), or delete the StatefulSet and its claims to start over.",
					liveSts.GetName(), describeClass(class), describeClass(spec.StorageClass), classSetting(class)))
			return
		}
	}
	if spec.StorageClass == nil {
		return
	}
	for i := range claims {
		class := render.ParseClaimStorageClass(&claims[i])
		if class != *spec.StorageClass {
			diags.AddAttributeError(path.Root("storage_class"), "Existing volume has another storage class",
				fmt.Sprintf("PersistentVolumeClaim %s (kept from an earlier database %s/%s) has storage class %q, not %q; a volume keeps its class. "+
					"Set storage_class = %q to reattach it, or delete the claim to start empty.",
					claims[i].GetName(), spec.Project, spec.Name, class, *spec.StorageClass, class))
			return
		}
	}
}

func sameClass(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// describeClass names a storage_class value in messages.
func describeClass(c *string) string {
	if c == nil {
		return "the cluster's default (unset)"
	}
	return strconv.Quote(*c)
}

// classSetting is the configuration that matches class.
func classSetting(c *string) string {
	if c == nil {
		return "leave storage_class unset"
	}
	return "storage_class = " + strconv.Quote(*c)
}

// claims returns the database's existing PersistentVolumeClaims.
func (r *databaseResource) claims(ctx context.Context, spec render.Database) ([]unstructured.Unstructured, error) {
	all, err := r.data.Engine.List(ctx, "v1", "PersistentVolumeClaim", render.Namespace(spec.Project), "")
	if err != nil {
		return nil, err
	}
	var out []unstructured.Unstructured
	for _, c := range all {
		if render.IsDatabaseClaim(spec.Project, spec.Name, c.GetName()) {
			out = append(out, c)
		}
	}
	return out, nil
}

// dataLeft reports whether the database's volumes or its Vault password
// still exist.
func (r *databaseResource) dataLeft(ctx context.Context, spec render.Database) (bool, error) {
	claims, err := r.claims(ctx, spec)
	if err != nil || len(claims) > 0 {
		return len(claims) > 0, err
	}
	s, err := r.data.vaultSecret(ctx, spec.Password.Path, 0)
	return s.Version > 0, err
}

// checkClaimsFit refuses to create a database smaller than the volumes a
// previous one with the same name left behind.
func (r *databaseResource) checkClaimsFit(spec render.Database, claims []unstructured.Unstructured, diags *diag.Diagnostics) {
	size, err := k8sresource.ParseQuantity(spec.Size)
	if err != nil {
		diags.AddAttributeError(path.Root("size"), "Invalid size", err.Error())
		return
	}
	for i := range claims {
		if q, ok := render.ParseClaimSize(&claims[i]); ok && q.Cmp(size) > 0 {
			diags.AddAttributeError(path.Root("size"), "Existing volume is larger",
				fmt.Sprintf("PersistentVolumeClaim %s (kept from an earlier database %s/%s) holds %s, more than size %s; volumes cannot shrink. "+
					"Set size to at least %s to reattach it.", claims[i].GetName(), spec.Project, spec.Name, q.String(), spec.Size, q.String()))
		}
	}
}

// expandClaims raises the storage request of every existing claim smaller
// than size. Only the claims change: the StatefulSet keeps its template.
func (r *databaseResource) expandClaims(ctx context.Context, spec render.Database, claims []unstructured.Unstructured, diags *diag.Diagnostics) {
	size, err := k8sresource.ParseQuantity(spec.Size)
	if err != nil {
		diags.AddAttributeError(path.Root("size"), "Invalid size", err.Error())
		return
	}
	for i := range claims {
		q, ok := render.ParseClaimSize(&claims[i])
		if ok && q.Cmp(size) >= 0 {
			continue
		}
		patch := render.DatabaseClaimSize(claims[i].GetNamespace(), claims[i].GetName(), spec.Size)
		if _, err := r.data.Engine.Apply(ctx, patch); err != nil {
			diags.AddAttributeError(path.Root("size"), "Expanding the volume failed",
				fmt.Sprintf("%s. Nothing else was changed. Expansion needs a StorageClass with allowVolumeExpansion: true.", err))
			return
		}
	}
}

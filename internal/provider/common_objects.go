package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Every resource exposes its child objects as `objects`: a map from
// "Kind/namespace/name" to a fingerprint of what apply writes. Plans compute
// it offline from the configuration; refresh replaces a fingerprint with a
// short description when the live object drifted, is missing, or lags a
// Vault rotation. So `tofu plan` shows which objects change and why,
// without ever showing a secret.

func objectsAttribute() schema.MapAttribute {
	return schema.MapAttribute{
		Computed:    true,
		ElementType: types.StringType,
		MarkdownDescription: "The Kubernetes objects this resource manages, as `Kind/namespace/name` = fingerprint of " +
			"the managed fields (never of secret values). After a refresh an entry says why the live object " +
			"differs: `missing`, `drifted: <fields>`, `Vault <path> version N not synced` (a rotation), " +
			"`Vault <path> has no secret`, or `ownership shared with <manager>` (an adopted object whose fields " +
			"another tool also manages); the next apply heals it.",
	}
}

// plannedObjects fingerprints desired objects.
func plannedObjects(objs []*unstructured.Unstructured) types.Map {
	m := make(map[string]string, len(objs))
	for _, o := range objs {
		m[engine.RefOf(o).String()] = render.Fingerprint(o)
	}
	return types.MapValueMust(types.StringType, toValues(m))
}

// observedObjects compares desired objects (rendered with current Vault
// values) with the cluster and describes each one.
func observedObjects(ctx context.Context, eng *engine.Engine, desired []*unstructured.Unstructured) (types.Map, error) {
	statuses, err := eng.Diff(ctx, desired...)
	if err != nil {
		return types.MapNull(types.StringType), err
	}
	m := make(map[string]string, len(desired))
	for i, st := range statuses {
		m[st.Ref.String()] = describe(desired[i], st)
	}
	return types.MapValueMust(types.StringType, toValues(m)), nil
}

func describe(desired *unstructured.Unstructured, st engine.Status) string {
	if st.State == engine.InSync {
		return render.Fingerprint(desired)
	}
	if st.State == engine.Drifted {
		for _, f := range st.Fields {
			if strings.HasSuffix(f, "annotations."+render.AnnotationVaultVersion) {
				ann := desired.GetAnnotations()
				return fmt.Sprintf("Vault %s version %s not synced", ann[render.AnnotationVaultPath], ann[render.AnnotationVaultVersion])
			}
		}
	}
	return st.String()
}

// refs lists the objects' references.
func refs(objs []*unstructured.Unstructured) []engine.Ref {
	out := make([]engine.Ref, len(objs))
	for i, o := range objs {
		out[i] = engine.RefOf(o)
	}
	return out
}

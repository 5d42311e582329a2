package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
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
// values) with the cluster and describes each one. The dry run is skipped
// for objects that the checks in the resource's private state, or this
// process's, show unchanged since they were last found in sync
// (engine/verified.go); the new checks replace them.
func observedObjects(ctx context.Context, eng *engine.Engine, priv privateData, known engine.Known, desired []*unstructured.Unstructured) (types.Map, error) {
	statuses, err := diffObjects(ctx, eng, priv, known, desired)
	if err != nil {
		return types.MapNull(types.StringType), err
	}
	m := make(map[string]string, len(desired))
	for i, st := range statuses {
		m[st.Ref.String()] = describe(desired[i], st)
	}
	return types.MapValueMust(types.StringType, toValues(m)), nil
}

// privateVerified is the private-state key of the resource's checks: for
// each object last found in sync, digests of its live content and of what
// we apply (never of secret values).
const privateVerified = "verified"

// privateData is a resource's private state, as requests and responses
// hold it.
type privateData interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// diffObjects is engine.DiffKnown with the checks kept in priv (nil: none).
func diffObjects(ctx context.Context, eng *engine.Engine, priv privateData, known engine.Known, desired []*unstructured.Unstructured) ([]engine.Status, error) {
	if priv != nil {
		if b, _ := priv.GetKey(ctx, privateVerified); len(b) > 0 {
			_ = json.Unmarshal(b, &known.Verified) // unreadable: every object gets a dry run
		}
	}
	statuses, verified, err := eng.DiffKnown(ctx, known, desired...)
	if err != nil || priv == nil {
		return statuses, err
	}
	if b, err := json.Marshal(verified); err == nil {
		priv.SetKey(ctx, privateVerified, b)
	}
	return statuses, nil
}

// recordApplied runs at the end of an apply: it checks the objects just
// applied (our own applies count as checks, so usually with reads only)
// and keeps the checks, so that the next refresh need not dry-run them.
// A failure only costs that refresh its dry runs.
func recordApplied(ctx context.Context, eng *engine.Engine, priv privateData, known engine.Known, desired []*unstructured.Unstructured) {
	if _, err := diffObjects(ctx, eng, priv, known, desired); err != nil {
		tflog.Debug(ctx, "checking applied objects", map[string]any{"error": err.Error()})
		priv.SetKey(ctx, privateVerified, []byte("{}"))
	}
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

// toRef is the engine's reference to an identity render derived: the one
// place render.IDs become engine.Refs.
func toRef(id render.ID) engine.Ref {
	return engine.Ref{APIVersion: id.APIVersion, Kind: id.Kind, Namespace: id.Namespace, Name: id.Name}
}

// toRefs is toRef of each.
func toRefs(ids []render.ID) []engine.Ref {
	out := make([]engine.Ref, len(ids))
	for i, id := range ids {
		out[i] = toRef(id)
	}
	return out
}

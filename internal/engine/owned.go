package engine

import (
	"encoding/json"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// OwnedEntries returns the entries of the string map at fields (e.g.
// metadata.labels) that our field manager applied, with their live values.
// Imports use it to tell the labels we manage from those others set.
// It returns nil when we own none.
func OwnedEntries(obj *unstructured.Unstructured, fields ...string) map[string]string {
	live, _, _ := unstructured.NestedStringMap(obj.Object, fields...)
	var out map[string]string
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager != FieldManager || mf.Operation != metav1.ManagedFieldsOperationApply || mf.FieldsV1 == nil {
			continue
		}
		var set map[string]any
		if json.Unmarshal(mf.FieldsV1.Raw, &set) != nil {
			continue
		}
		for _, f := range fields {
			set, _ = set["f:"+f].(map[string]any)
		}
		for k := range set {
			key, ok := strings.CutPrefix(k, "f:")
			if v, present := live[key]; ok && present {
				if out == nil {
					out = map[string]string{}
				}
				out[key] = v
			}
		}
	}
	return out
}

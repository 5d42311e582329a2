package render

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Parsers of a project's live objects: the inverse of ProjectObjects.

func ParseAllowedNamespaces(np *unstructured.Unstructured) []string {
	var out []string
	rules, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
	for _, rule := range rules {
		from, _, _ := unstructured.NestedSlice(rule.(map[string]any), "from")
		for _, peer := range from {
			exprs, _, _ := unstructured.NestedSlice(peer.(map[string]any), "namespaceSelector", "matchExpressions")
			for _, e := range exprs {
				vals, _, _ := unstructured.NestedStringSlice(e.(map[string]any), "values")
				out = append(out, vals...)
			}
		}
	}
	sort.Strings(out)
	return out
}

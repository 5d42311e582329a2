package render

import (
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Parsers of a project's live objects: the inverse of ProjectObjects.

// ParseEventBus reads the EventBus's type, replicas and (JetStream) volume
// size; zero values where the live object has none (replicas: Argo
// Events' default is 3, volume size: none, an emptyDir store).
func ParseEventBus(bus *unstructured.Unstructured) (typ string, replicas int64, volumeSize string) {
	if js, ok, _ := unstructured.NestedMap(bus.Object, "spec", "jetstream"); ok {
		replicas, _, _ = unstructured.NestedInt64(js, "replicas")
		volumeSize, _, _ = unstructured.NestedString(js, "persistence", "volumeSize")
		return EventBusJetStream, replicas, volumeSize
	}
	// The old chart's (and any other) bus: native NATS.
	replicas, _, _ = unstructured.NestedInt64(bus.Object, "spec", "nats", "native", "replicas")
	return EventBusNATS, replicas, ""
}

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

// ParseEventBusPending reads a live EventBus's status: the conditions not
// yet true, as "type: message". deployed is false until the Argo Events
// controller has reported conditions and all are true.
func ParseEventBusPending(bus *unstructured.Unstructured) (deployed bool, pending []string) {
	conds, _, _ := unstructured.NestedSlice(bus.Object, "status", "conditions")
	for _, c := range conds {
		c, _ := c.(map[string]any)
		if c["status"] != "True" {
			pending = append(pending, fmt.Sprintf("%v: %v", c["type"], c["message"]))
		}
	}
	return len(conds) > 0 && len(pending) == 0, pending
}

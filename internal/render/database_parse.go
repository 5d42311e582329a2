package render

import (
	"fmt"

	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Parsers of a database's live objects: the inverse of DatabaseObjects.

// ParseDatabase reads type, version and port from a database's live
// StatefulSet: from the container named after the database, or its only one.
func ParseDatabase(sts *unstructured.Unstructured, d string) (typ, version string, port int64, err error) {
	image := ContainerImage(sts, d)
	if image == "" {
		cs, _, _ := unstructured.NestedSlice(sts.Object, "spec", "template", "spec", "containers")
		if len(cs) != 1 {
			return "", "", 0, fmt.Errorf("StatefulSet %s has no container %q", sts.GetName(), d)
		}
		image, _ = cs[0].(map[string]any)["image"].(string)
	}
	if typ, version, err = ParseDatabaseImage(image); err != nil {
		return "", "", 0, fmt.Errorf("StatefulSet %s: %w", sts.GetName(), err)
	}
	port = DatabaseTypes[typ].Port
	if n := ContainerPort(sts, d); n > 0 {
		port = n
	}
	return typ, version, port, nil
}

// ContainerPort is the first port of the named container (0 if none).
func ContainerPort(sts *unstructured.Unstructured, container string) int64 {
	cs, _, _ := unstructured.NestedSlice(sts.Object, "spec", "template", "spec", "containers")
	for _, c := range cs {
		cm, _ := c.(map[string]any)
		if cm["name"] != container && len(cs) > 1 {
			continue
		}
		ports, _, _ := unstructured.NestedSlice(cm, "ports")
		if len(ports) > 0 {
			n, _, _ := unstructured.NestedInt64(ports[0].(map[string]any), "containerPort")
			return n
		}
	}
	return 0
}

// ParseClaimTemplateSize is the storage request of the StatefulSet's claim template.
func ParseClaimTemplateSize(sts *unstructured.Unstructured, volume string) (k8sresource.Quantity, error) {
	tpls, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
	for _, t := range tpls {
		tm, _ := t.(map[string]any)
		if n, _, _ := unstructured.NestedString(tm, "metadata", "name"); n != volume && len(tpls) > 1 {
			continue
		}
		s, _, _ := unstructured.NestedString(tm, "spec", "resources", "requests", "storage")
		q, err := k8sresource.ParseQuantity(s)
		if err != nil {
			return q, fmt.Errorf("claim template %s has no valid storage request (%q)", volume, s)
		}
		return q, nil
	}
	return k8sresource.Quantity{}, fmt.Errorf("no volumeClaimTemplate %s", volume)
}

func ParseClaimSize(c *unstructured.Unstructured) (k8sresource.Quantity, bool) {
	s, _, _ := unstructured.NestedString(c.Object, "spec", "resources", "requests", "storage")
	q, err := k8sresource.ParseQuantity(s)
	return q, err == nil
}

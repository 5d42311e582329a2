package render

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
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

// ParseDatabaseImage recovers type and version from an image this provider
// or the old chart set: "<type>:<version>" or "<image>:<version>" (so
// "mongodb:7.0" and "mongo:7.0"), also as "docker.io/library/mysql:8.0".
func ParseDatabaseImage(image string) (dbType, version string, err error) {
	ref := image
	for _, prefix := range []string{"docker.io/library/", "index.docker.io/library/", "library/"} {
		ref = strings.TrimPrefix(ref, prefix)
	}
	name, tag, ok := strings.Cut(ref, ":")
	if ok && ValidDatabaseVersion(tag) {
		for _, t := range DatabaseTypeNames() {
			if name == t || name == DatabaseTypes[t].Image {
				return t, tag, nil
			}
		}
	}
	return "", "", fmt.Errorf("image %q is not <type>:<version> with type one of %s", image, strings.Join(DatabaseTypeNames(), ", "))
}

// ParseDatabaseEnv finds the databases whose DatabaseEnv a container's
// environment holds, with the password versions its pod template's
// annotations record (for import).
func ParseDatabaseEnv(p string, env []corev1.EnvVar, annotations map[string]string) []DatabaseLink {
	versions := map[string]int64{}
	for _, part := range strings.Split(annotations[AnnotationDatabaseVersions], ",") {
		if name, v, ok := strings.Cut(part, "="); ok {
			versions[name], _ = strconv.ParseInt(v, 10, 64)
		}
	}
	vals := map[string]string{}
	for _, e := range env {
		vals[e.Name] = e.Value
	}
	var out []DatabaseLink
	for _, e := range env {
		x, ok := strings.CutSuffix(e.Name, "_HOST")
		d, isDB := strings.CutSuffix(e.Value, "."+Namespace(p)+".svc.cluster.local")
		if !ok || !isDB || DatabaseEnvPrefix(d) != x {
			continue
		}
		for typ, url := range databaseURLs {
			if vals[x+"_URL"] == fmt.Sprintf(url, x) {
				port, _ := strconv.ParseInt(vals[x+"_PORT"], 10, 64)
				out = append(out, DatabaseLink{Name: d, Type: typ, Port: port, PasswordVersion: versions[d]})
			}
		}
	}
	return out
}

// ParseDatabasePassword reads the password a live database Secret holds
// ("" when it has none or it is not base64).
func ParseDatabasePassword(sec *unstructured.Unstructured) string {
	enc, _, _ := unstructured.NestedString(sec.Object, "data", DatabasePasswordKey)
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return ""
	}
	return string(b)
}

// ParseClaimStorageClass reads a live claim's storage class ("" for none).
func ParseClaimStorageClass(c *unstructured.Unstructured) string {
	class, _, _ := unstructured.NestedString(c.Object, "spec", "storageClassName")
	return class
}

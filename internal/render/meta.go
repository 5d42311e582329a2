// Package render turns resource models into the Kubernetes objects they
// stand for. Everything here is a pure function: no clients, no I/O, so the
// exact objects are golden-file tested and plans can be computed offline.
package render

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Labels and annotations the provider puts on objects.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "terraform-provider-idp"

	// AnnotationVaultPath and AnnotationVaultVersion record which Vault
	// secret version a Kubernetes Secret was synced from, so a rotation in
	// Vault is visible without comparing (or storing) values.
	AnnotationVaultPath    = "idpkit.io/vault-path"
	AnnotationVaultVersion = "idpkit.io/vault-version"

	// LabelApplication marks an application's Workflows (and their pods),
	// so destroy finds runs still in flight and the data source the last
	// build.
	LabelApplication = "idpkit.io/application"
)

// VaultSecret is a secret read from Vault KV v2. Values is nil when only
// the shape of the objects is wanted (plans), never the data.
type VaultSecret struct {
	Mount   string
	Path    string
	Version int
	Values  SecretValues
}

// SecretValues are secret values (from Vault, or derived from them) on their
// way to the Kubernetes Secret that carries them (secret): the only place
// they become plain data. Until then they print and marshal redacted, like
// engine.Values, so an error, a log line or a dump of a model shows none.
type SecretValues map[string]string

func (v SecretValues) String() string   { return fmt.Sprintf("<%d redacted values>", len(v)) }
func (v SecretValues) GoString() string { return v.String() }

// Format redacts every verb: String alone would leave %d printing the map.
func (v SecretValues) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// MarshalJSON redacts too (JSON log fields, debug dumps).
func (v SecretValues) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// FullPath is the secret's path including the mount, as users write it.
func (v VaultSecret) FullPath() string { return v.Mount + "/" + v.Path }

// object builds an unstructured object from a typed or map body.
func object(apiVersion, kind, namespace, name string, labels map[string]string, body map[string]any) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{}}
	for k, v := range body {
		obj.Object[k] = v
	}
	obj.SetAPIVersion(apiVersion)
	obj.SetKind(kind)
	obj.SetNamespace(namespace)
	obj.SetName(name)
	l := map[string]string{LabelManagedBy: ManagedBy}
	for k, v := range labels {
		l[k] = v
	}
	obj.SetLabels(l)
	return obj
}

// fromTyped converts a typed API value (a PodSpec, a Role, ...) into the
// map form of object bodies, keeping only the named top-level fields when
// given: typed objects carry an empty metadata we must not apply.
func fromTyped(v any, fields ...string) map[string]any {
	ptr := reflect.New(reflect.TypeOf(v)) // the converter wants a pointer
	ptr.Elem().Set(reflect.ValueOf(v))
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ptr.Interface())
	if err != nil {
		panic(fmt.Sprintf("render: converting %T: %v", v, err)) // programming error
	}
	dropTypedArtifacts(m)
	if len(fields) == 0 {
		return m
	}
	picked := make(map[string]any, len(fields))
	for _, f := range fields {
		picked[f] = m[f]
	}
	return picked
}

// dropTypedArtifacts removes what typed structs always carry but nobody
// sets: `creationTimestamp: null` and `resources: {}`. Applied, they would
// make our field manager co-own fields we do not manage.
func dropTypedArtifacts(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if sub, ok := val.(map[string]any); ok && len(sub) == 0 && k == "resources" || k == "creationTimestamp" && val == nil {
				delete(t, k)
				continue
			}
			dropTypedArtifacts(val)
		}
	case []any:
		for _, e := range t {
			dropTypedArtifacts(e)
		}
	}
}

// secret renders an Opaque-or-typed Secret synced from Vault. With no
// values, data is left out: only the shape is known at plan time.
func secret(namespace, name, secretType string, src VaultSecret, data SecretValues) *unstructured.Unstructured {
	obj := object("v1", "Secret", namespace, name, nil, map[string]any{"type": secretType})
	ann := map[string]string{AnnotationVaultPath: src.FullPath()}
	if data != nil {
		ann[AnnotationVaultVersion] = strconv.Itoa(src.Version)
		enc := make(map[string]any, len(data))
		for k, v := range data {
			enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
		}
		obj.Object["data"] = enc
	}
	obj.SetAnnotations(ann)
	return obj
}

// Fingerprint identifies what applying obj would write, without its secret
// data or the Vault version it was synced from: it is computed at plan time
// when neither is known, and it must never encode a secret. The Vault
// version is left out wherever it is recorded: on the object and on a pod
// template (workloads carry it there so that a rotation restarts their pods).
// A Deployment's images are left out too: an application's image is its
// commit, which CI changes between plans while unpinned, and which
// git.hash and image show.
func Fingerprint(obj *unstructured.Unstructured) string {
	c := obj.DeepCopy()
	switch c.GetKind() {
	case "Secret":
		delete(c.Object, "data")
		delete(c.Object, "stringData")
	case "Deployment":
		containers, _, _ := unstructured.NestedSlice(c.Object, "spec", "template", "spec", "containers")
		for _, ct := range containers {
			if m, ok := ct.(map[string]any); ok {
				delete(m, "image")
			}
		}
		if containers != nil {
			_ = unstructured.SetNestedSlice(c.Object, containers, "spec", "template", "spec", "containers")
		}
	}
	for _, fields := range [][]string{{"metadata", "annotations"}, {"spec", "template", "metadata", "annotations"}} {
		unstructured.RemoveNestedField(c.Object, append(fields, AnnotationVaultVersion)...)
		// Drop what the removal left empty (annotations, then a metadata
		// that only held them), so a plan without versions matches.
		for f := fields; len(f) > len(fields)-2; f = f[:len(f)-1] {
			if m, found, _ := unstructured.NestedMap(c.Object, f...); found && len(m) == 0 {
				unstructured.RemoveNestedField(c.Object, f...)
			}
		}
	}
	b, err := json.Marshal(c.Object) // encoding/json sorts map keys
	if err != nil {
		panic(fmt.Sprintf("render: fingerprint of %s/%s: %v", obj.GetKind(), obj.GetName(), err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

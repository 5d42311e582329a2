package render

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// crdsDir is where the upstream CRDs and schemas live (../shared/crds from
// the repository root), overridable like the stack's.
func crdsDir() string {
	if d := os.Getenv("IDP_CRDS_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "crds")
}

// The EventSource and Sensor we render validate against Argo Events' own
// JSON schema, made strict: an unknown field anywhere is an error, so a
// misspelt key cannot slip through as it would through the CRD (which
// preserves unknown fields).
func TestArgoEventsSchema(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(crdsDir(), "argo-events", "schema.json"))
	if err != nil {
		t.Fatalf("Argo Events schema: %v (set IDP_CRDS_DIR to shared/crds)", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, def := range doc["definitions"].(map[string]any) {
		d := def.(map[string]any)
		if _, has := d["properties"]; has {
			if _, set := d["additionalProperties"]; !set {
				d["additionalProperties"] = false
			}
		}
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("events.json", doc); err != nil {
		t.Fatal(err)
	}
	a := testApplication()
	a.Hash = "0123abc"
	objs, err := ApplicationObjects(a)
	if err != nil {
		t.Fatal(err)
	}
	ghe := a
	ghe.GitHubBaseURL = "https://ghe.example.com/"
	enterprise, err := ApplicationObjects(ghe)
	if err != nil {
		t.Fatal(err)
	}
	objs = append(objs, enterprise...)
	checked := map[string]bool{}
	var es *unstructured.Unstructured
	for _, o := range objs {
		kind := o.GetKind()
		if kind != "EventSource" && kind != "Sensor" {
			continue
		}
		sch, err := c.Compile("events.json#/definitions/io.argoproj.events.v1alpha1." + kind)
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(jsonValue(t, o)); err != nil {
			t.Errorf("%s %s does not validate against Argo Events' schema: %v", kind, o.GetName(), err)
		}
		checked[kind] = true
		if kind == "EventSource" && es == nil {
			es = o
		}
	}
	if !checked["EventSource"] || !checked["Sensor"] {
		t.Fatalf("validated %v, want both EventSource and Sensor", checked)
	}

	// The strict schema does catch mistakes.
	bad := es.DeepCopy()
	if err := unstructured.SetNestedField(bad.Object, "x", "spec", "github", GitHubEvent(a.Project, a.Name), "webhoook"); err != nil {
		t.Fatal(err)
	}
	sch, _ := c.Compile("events.json#/definitions/io.argoproj.events.v1alpha1.EventSource")
	if sch.Validate(jsonValue(t, bad)) == nil {
		t.Fatal("a misspelt field validated")
	}
}

// jsonValue round-trips obj through JSON, as the validator expects.
func jsonValue(t *testing.T, obj *unstructured.Unstructured) any {
	b, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

package render

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// controllerDeployment is the Deployment the Argo Events controller (v1.9)
// makes for obj: the object it read, spec included, JSON in its container's
// env, as its Go types write it (edit changes that JSON first).
func controllerDeployment(t *testing.T, obj *unstructured.Unstructured, edit func(spec map[string]any)) *unstructured.Unstructured {
	t.Helper()
	b, err := json.Marshal(obj.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(spec)
	}
	enc, err := json.Marshal(map[string]any{"metadata": map[string]any{"namespace": obj.GetNamespace(), "name": obj.GetName()}, "spec": spec})
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": obj.GetName() + "-x1", "namespace": obj.GetNamespace()},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"name": "main", "image": "quay.io/argoproj/argo-events:v1.9.11",
			"env": []any{
				map[string]any{"name": eventsObjectEnv(obj.GetKind()), "value": base64.StdEncoding.EncodeToString(enc)},
				map[string]any{"name": "EVENTBUS_SUBJECT", "value": "eventbus-shop"},
			},
		}}}}},
	}}
}

func eventsObjects(t *testing.T, webhookVersion int) (es, sensor *unstructured.Unstructured) {
	t.Helper()
	a := testApplication()
	a.WebhookSecret.Version, a.WebhookSecret.Values = webhookVersion, map[string]string{"secret": "s"}
	objs, err := ApplicationObjects(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o.GetKind() {
		case "EventSource":
			es = o
		case "Sensor":
			sensor = o
		}
	}
	return es, sensor
}

// A Deployment runs what we applied when every field we set is in the
// object it was made from; what the controller's types drop (false, empty)
// and what others set do not count. One the controller has not updated yet
// (a rotation's new secret version) does not.
func TestEventsDeploymentStale(t *testing.T) {
	es, sensor := eventsObjects(t, 2)
	github := func(spec map[string]any) map[string]any {
		return spec["github"].(map[string]any)[GitHubEvent("shop", "api")].(map[string]any)
	}
	for _, tc := range []struct {
		name    string
		desired *unstructured.Unstructured
		edit    func(spec map[string]any)
		stale   string // "" when it runs desired
	}{
		{name: "EventSource as applied", desired: es},
		{name: "Sensor as applied", desired: sensor},
		{name: "fields others set", desired: es, edit: func(s map[string]any) {
			s["replicas"] = 1.0
			github(s)["filter"] = map[string]any{"expression": "true"}
		}},
		{name: "false and empty values dropped", desired: withSpec(es, func(s map[string]any) {
			github(s)["insecure"] = false
			github(s)["deleteHookOnFinish"] = false
			s["nodeSelector"] = map[string]any{}
		})},
		{name: "an older webhook secret", desired: es, edit: func(s map[string]any) {
			s["template"].(map[string]any)["metadata"] = map[string]any{"annotations": map[string]any{AnnotationVaultVersion: "1"}}
		}, stale: "spec.template.metadata.annotations." + AnnotationVaultVersion},
		{name: "another repository", desired: es, edit: func(s map[string]any) {
			github(s)["repositories"] = []any{map[string]any{"owner": "myorg", "names": []any{"old"}}}
		}, stale: "spec.github." + GitHubEvent("shop", "api") + ".repositories[0].names[0]"},
		{name: "a trigger fewer", desired: sensor, edit: func(s map[string]any) { s["triggers"] = []any{} }, stale: "spec.triggers"},
		{name: "a number", desired: es, edit: func(s map[string]any) {
			s["service"].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"] = 8080.0
		}, stale: "spec.service.ports[0].port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dep := controllerDeployment(t, es, tc.edit)
			if tc.desired.GetKind() == "Sensor" {
				dep = controllerDeployment(t, sensor, tc.edit)
			}
			got := EventsDeploymentStale(dep, tc.desired)
			if tc.stale == "" && got != "" {
				t.Fatalf("stale: %s", got)
			}
			if tc.stale != "" && !strings.Contains(got, "("+tc.stale+" differs)") {
				t.Fatalf("got %q, want it to name %s", got, tc.stale)
			}
		})
	}
	// The other kind's env, or none: not ours.
	if got := EventsDeploymentStale(controllerDeployment(t, es, nil), sensor); !strings.Contains(got, "no readable SENSOR_OBJECT") {
		t.Errorf("an EventSource's Deployment read as the Sensor's: %q", got)
	}
}

// withSpec is a copy of obj with its spec edited.
func withSpec(obj *unstructured.Unstructured, edit func(spec map[string]any)) *unstructured.Unstructured {
	c := obj.DeepCopy()
	edit(c.Object["spec"].(map[string]any))
	return c
}

func TestEventsDeployFailure(t *testing.T) {
	es, _ := eventsObjects(t, 1)
	if got := EventsDeployFailure(es); got != "" {
		t.Errorf("no status: %q", got)
	}
	es.Object["status"] = map[string]any{"conditions": []any{
		map[string]any{"type": "SourcesProvided", "status": "True"},
		map[string]any{"type": "Deployed", "status": "False", "reason": "EventBusNotReady", "message": "EventBus not ready."},
	}}
	if got := EventsDeployFailure(es); got != "EventBusNotReady: EventBus not ready." {
		t.Errorf("got %q", got)
	}
	if got := EventsDeployFailure(nil); got != "" {
		t.Errorf("nil: %q", got)
	}
}

func TestEventsDeploymentSelector(t *testing.T) {
	if got := EventsDeploymentSelector("Sensor", Sensor("shop", "api")); got != "sensor-name=shop-api-github-workflow-sensor" {
		t.Error(got)
	}
	if got := EventsDeploymentSelector("EventSource", EventSource("shop", "api")); got != "eventsource-name=shop-api-github-eventsource" {
		t.Error(got)
	}
}

package render

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The name-only identities and inventories name exactly what the
// renderers make: callers that address objects by name reach these.
func TestObjectSet_identitiesMatchRenders(t *testing.T) {
	a := testApplication()
	a.Hash = "0123456789abcdef0123456789abcdef01234567"
	app, err := RenderApplication(a)
	if err != nil {
		t.Fatal(err)
	}
	p, n := a.Project, a.Name
	for id, got := range map[ID]bool{
		EventSourceID(p, n): app.EventSource() != nil, SensorID(p, n): app.Sensor() != nil,
		DeploymentID(p, n): app.Deployment() != nil,
	} {
		if !got {
			t.Errorf("%v: no such object rendered", id)
		}
	}
	if app.Anchor() != EventSourceID(p, n) || IDOf(app.EventSource()) != app.Anchor() {
		t.Errorf("anchor %v", app.Anchor())
	}
	// Every object an application can have (the release record is
	// rendered apart from the set), in apply order and in delete order.
	inv := InventoryOfApplication(p, n, a.Domains)
	if got, want := inv.ApplyOrder(), append(app.IDs(), IDOf(ReleaseRecord(a, ""))); !slices.Equal(got, want) {
		t.Errorf("InventoryOfApplication:\n got %v\nwant %v", got, want)
	}
	if got, want := inv.All(), app.Inventory(); !slices.Equal(slices.DeleteFunc(got, func(id ID) bool { return id.Kind == "ConfigMap" }), want) {
		t.Errorf("delete order:\n got %v\nwant %v", got, want)
	}
	if inv.Anchor != app.Anchor() || len(inv.Starters) != 3 || !slices.Contains(inv.Starters, IDOf(app.Sensor())) {
		t.Errorf("inventory starters %v, anchor %v", inv.Starters, inv.Anchor)
	}
	if len(app.WithoutEventSource()) != len(app.All())-1 {
		t.Error("WithoutEventSource keeps the EventSource")
	}
	a.Hash = ""
	if first, _ := RenderApplication(a); first.Deployment() != nil {
		t.Error("a Deployment before the first build")
	}

	db, err := RenderDatabase(testDatabase("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if db.StatefulSet() == nil || db.Secret() == nil || db.Anchor() != IDOf(db.StatefulSet()) {
		t.Errorf("database set: anchor %v", db.Anchor())
	}
	if got, want := db.Inventory(), InventoryOfDatabase("shop", "orders"); !slices.Equal(got, want) ||
		!slices.Equal(want, []ID{IDOf(db.All()[2]), IDOf(db.All()[1]), IDOf(db.All()[0])}) {
		t.Errorf("database inventory %v, want the reverse of %v", got, db.IDs())
	}
	for _, o := range db.SharedNames() {
		if o == nil || o.GetKind() == "StatefulSet" {
			t.Errorf("shared names: %v", o)
		}
	}

	proj, err := RenderProject(testProject())
	if err != nil {
		t.Fatal(err)
	}
	inv2 := proj.Inventory()
	if proj.Namespace() == nil || proj.EventBus() == nil || inv2[len(inv2)-1] != NamespaceID("shop") ||
		IDOf(proj.EventBus()) != EventBusID("shop") {
		t.Errorf("project set: inventory %v", inv2)
	}
}

// The parsers the provider reads live objects with (instead of walking
// their maps) read what the renderers write.
func TestParsers_readWhatRenderWrites(t *testing.T) {
	a := testApplication()
	a.Hash = "0123456789abcdef0123456789abcdef01234567"
	app, err := RenderApplication(a)
	if err != nil {
		t.Fatal(err)
	}
	if desired, _, set := ParseReplicas(app.Deployment()); !set || desired != a.Replicas {
		t.Errorf("ParseReplicas: %d, %v", desired, set)
	}
	svc := app.get(ServiceID(a.Project, a.Name))
	if port, found := ParseServicePort(svc); !found || port != a.Port {
		t.Errorf("ParseServicePort: %d, %v", port, found)
	}
	if sel := ParseServiceSelector(svc); sel["app"] != Deployment(a.Name) {
		t.Errorf("ParseServiceSelector: %v", sel)
	}

	db := testDatabase("postgres")
	db.Password.Values, db.Password.Version = map[string]string{DatabasePasswordKey: "s3cret"}, 4
	set, err := RenderDatabase(db)
	if err != nil {
		t.Fatal(err)
	}
	if got := ParseDatabasePassword(set.Secret()); got != "s3cret" {
		t.Errorf("ParseDatabasePassword: %q", got)
	}
	if ann := ParsePodAnnotations(set.StatefulSet()); ann[AnnotationVaultVersion] != "4" {
		t.Errorf("ParsePodAnnotations: %v", ann)
	}

	bus := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"conditions": []any{
		map[string]any{"type": "Deployed", "status": "True"},
		map[string]any{"type": "Configured", "status": "False", "message": "waiting"},
	}}}}
	if deployed, pending := ParseEventBusPending(bus); deployed || len(pending) != 1 || pending[0] != "Configured: waiting" {
		t.Errorf("ParseEventBusPending: %v %v", deployed, pending)
	}
	if deployed, _ := ParseEventBusPending(&unstructured.Unstructured{Object: map[string]any{}}); deployed {
		t.Error("an EventBus without conditions is deployed")
	}
}

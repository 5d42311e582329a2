package render

import (
	"slices"
	"testing"
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

package render

import (
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
)

func testDatabase(t string) Database {
	return Database{
		Project: "shop", Name: "orders", Type: t, Version: "8.0", Port: DatabaseTypes[t].Port, Size: "5Gi",
		Password: VaultSecret{Mount: "idp", Path: DatabaseVaultPath("shop", "orders")},
	}
}

func TestDatabaseObjects_plan(t *testing.T) {
	var all []*unstructured.Unstructured
	for _, typ := range DatabaseTypeNames() {
		objs, err := DatabaseObjects(testDatabase(typ))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, objs...)
	}
	golden(t, "database_plan", all)
}

func TestDatabaseObjects_withVaultValues(t *testing.T) {
	db := testDatabase("mysql")
	db.StorageClass = ptr.To("fast-ssd")
	db.Password.Version, db.Password.Values = 3, map[string]string{"password": "s3cret", "other": "ignored"}
	objs, err := DatabaseObjects(db)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "database_apply", objs)

	// Neither the password nor its Vault version (on the Secret and on the
	// pod template) may change a fingerprint: plans know neither.
	plan := testDatabase("mysql")
	plan.StorageClass = ptr.To("fast-ssd")
	planned, _ := DatabaseObjects(plan)
	for i, o := range objs {
		if got, want := Fingerprint(o), Fingerprint(planned[i]); got != want {
			t.Errorf("%s %s: fingerprint with values %s != without %s", o.GetKind(), o.GetName(), got, want)
		}
	}
	// ... but a rotation restarts the pods.
	db.Password.Version = 4
	rotated, _ := DatabaseObjects(db)
	v, _, _ := unstructured.NestedString(rotated[2].Object, "spec", "template", "metadata", "annotations", AnnotationVaultVersion)
	if v != "4" {
		t.Errorf("pod template vault version = %q, want 4", v)
	}
}

func TestDatabaseObjects_missingPassword(t *testing.T) {
	db := testDatabase("redis")
	db.Password.Version, db.Password.Values = 1, map[string]string{"pass": "x"}
	_, err := DatabaseObjects(db)
	if err == nil || !strings.Contains(err.Error(), "idp/shop-orders-secret") || !strings.Contains(err.Error(), "password") {
		t.Fatalf("want an error naming the Vault path and the key, got %v", err)
	}
}

func TestDatabaseObjects_unknownType(t *testing.T) {
	if _, err := DatabaseObjects(testDatabase("oracle")); err == nil {
		t.Fatal("want an error for an unknown type")
	}
}

func TestParseDatabaseImage(t *testing.T) {
	for image, want := range map[string][2]string{
		"mysql:8.0":                      {"mysql", "8.0"},
		"postgres:16.2-alpine":           {"postgres", "16.2-alpine"},
		"docker.io/library/redis:7":      {"redis", "7"},
		"mongodb:7.0.12":                 {"mongodb", "7.0.12"},
		"mongo:7.0":                      {"mongodb", "7.0"},
		"bitnami/mysql:8.0":              {},
		"mysql":                          {},
		"mysql@sha256:abcd":              {},
		"harbor.example.com/x/mysql:8.0": {},
		"mariadb:11":                     {},
	} {
		typ, version, err := ParseDatabaseImage(image)
		if want == ([2]string{}) {
			if err == nil || !strings.Contains(err.Error(), "mongodb, mysql, postgres, redis") {
				t.Errorf("%s: want an error listing the types, got %s/%s, %v", image, typ, version, err)
			}
			continue
		}
		if err != nil || typ != want[0] || version != want[1] {
			t.Errorf("%s: got %q %q %v, want %v", image, typ, version, err, want)
		}
	}
}

func TestWithLiveClaimTemplates(t *testing.T) {
	objs, _ := DatabaseObjects(testDatabase("mysql"))
	desired := objs[2]
	live := desired.DeepCopy()
	liveTemplates := []any{map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "shop-orders-data"},
		"spec":     map[string]any{"storageClassName": "fast", "resources": map[string]any{"requests": map[string]any{"storage": "1Gi"}}},
		"status":   map[string]any{"phase": "Pending"},
	}}
	_ = unstructured.SetNestedSlice(live.Object, liveTemplates, "spec", "volumeClaimTemplates")

	got := WithLiveClaimTemplates(desired, live)
	tpl, _, _ := unstructured.NestedSlice(got.Object, "spec", "volumeClaimTemplates")
	if !reflect.DeepEqual(tpl, liveTemplates) {
		t.Fatalf("claim templates = %v, want the live ones", tpl)
	}
	orig, _, _ := unstructured.NestedSlice(desired.Object, "spec", "volumeClaimTemplates")
	if reflect.DeepEqual(orig, liveTemplates) {
		t.Fatal("desired was modified in place")
	}
	if WithLiveClaimTemplates(desired, nil) != desired {
		t.Fatal("without a live object desired must be returned as is")
	}
}

func TestClaimTemplateStorageClass(t *testing.T) {
	for _, class := range []*string{nil, ptr.To(""), ptr.To("fast-ssd")} {
		db := testDatabase("postgres")
		db.StorageClass = class
		objs, _ := DatabaseObjects(db)
		got, found := ClaimTemplateStorageClass(objs[2], DatabaseVolume("shop", "orders"))
		if !found || (got == nil) != (class == nil) || (got != nil && *got != *class) {
			t.Errorf("class %v: got %v (found %v)", class, got, found)
		}
	}
	// The old chart's single template, whatever its name.
	sts := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"volumeClaimTemplates": []any{
		map[string]any{"metadata": map[string]any{"name": "data"}, "spec": map[string]any{"storageClassName": "gp3"}},
	}}}}
	if got, found := ClaimTemplateStorageClass(sts, "shop-orders-data"); !found || got == nil || *got != "gp3" {
		t.Errorf("single template: got %v (found %v)", got, found)
	}
	if _, found := ClaimTemplateStorageClass(&unstructured.Unstructured{Object: map[string]any{}}, "x"); found {
		t.Error("found a template in a StatefulSet without one")
	}
}

func TestDatabaseNames(t *testing.T) {
	if got := DatabaseClaim("shop", "orders", 0); got != "shop-orders-data-shop-orders-db-0" {
		t.Errorf("claim = %s", got)
	}
	if got := DatabaseHost("shop", "orders"); got != "orders.shop.svc.cluster.local" {
		t.Errorf("host = %s", got)
	}
	got := DatabaseClaims("shop", "orders", []string{
		"shop-orders-data-shop-orders-db-1", "shop-orders-data-shop-orders-db-0",
		"shop-orders-data-shop-orders-db-x", "shop-orders-data-shop-orders-db-",
		"shop-orders-db-data-shop-orders-db-db-0", "data-0",
	})
	if want := []string{"shop-orders-data-shop-orders-db-0", "shop-orders-data-shop-orders-db-1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("claims = %v, want %v", got, want)
	}
	if n := len(DatabaseUser(strings.Repeat("d", MaxDatabaseName))); n != 32 {
		t.Errorf("longest user name is %d characters, want MySQL's 32", n)
	}
	// The longest StatefulSet name leaves room for the revision hash label.
	if n := MaxDatabaseStatefulSet + len("-") + 10; n != 63 {
		t.Errorf("revision hash label of the longest StatefulSet is %d characters", n)
	}
}

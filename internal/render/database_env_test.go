package render

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// An application gets what idp_database reports, the password only as a
// reference to the database's Secret, and a URL Kubernetes composes from
// variables defined before it.
func TestDatabaseEnv(t *testing.T) {
	env, err := DatabaseEnv("shop", DatabaseLink{Name: "orders-db", Type: "postgres"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, e := range env {
		order = append(order, e.Name)
		if e.ValueFrom != nil {
			ref := e.ValueFrom.SecretKeyRef
			got[e.Name] = "secret:" + ref.Name + "/" + ref.Key
			continue
		}
		got[e.Name] = e.Value
	}
	want := map[string]string{
		"ORDERS_DB_HOST":     "orders-db.shop.svc.cluster.local",
		"ORDERS_DB_PORT":     "5432",
		"ORDERS_DB_USER":     "orders-db_user",
		"ORDERS_DB_DATABASE": "orders-db_db",
		"ORDERS_DB_PASSWORD": "secret:shop-orders-db-secret/password",
		"ORDERS_DB_URL":      "postgresql://$(ORDERS_DB_USER):$(ORDERS_DB_PASSWORD)@$(ORDERS_DB_HOST):$(ORDERS_DB_PORT)/$(ORDERS_DB_DATABASE)",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if strings.Join(order, " ") != "ORDERS_DB_HOST ORDERS_DB_PORT ORDERS_DB_USER ORDERS_DB_DATABASE ORDERS_DB_PASSWORD ORDERS_DB_URL" {
		t.Errorf("order %v: _URL must come after what it refers to", order)
	}
	if _, err := DatabaseEnv("shop", DatabaseLink{Name: "x", Type: "oracle"}); err == nil {
		t.Error("an unknown type was accepted")
	}
}

func TestParseDatabaseEnv(t *testing.T) {
	links := []DatabaseLink{{Name: "cache", Type: "redis", Port: 6379, PasswordVersion: 2}, {Name: "orders-db", Type: "mysql", Port: 3307}}
	var env []corev1.EnvVar
	for _, l := range links {
		e, _ := DatabaseEnv("shop", l)
		env = append(env, e...)
	}
	env = append(env, corev1.EnvVar{Name: "OTHER_HOST", Value: "other.elsewhere.svc.cluster.local"})
	ann := map[string]string{AnnotationDatabaseVersions: databasePasswordsAnnotation(links)}
	if got := ParseDatabaseEnv("shop", env, ann); !reflect.DeepEqual(got, links) {
		t.Fatalf("ParseDatabaseEnv = %+v, want %+v", got, links)
	}
}

package render

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DatabaseLink is a database of the project that an application uses:
// its pods get the connection in their environment (DatabaseEnv).
type DatabaseLink struct {
	Name string
	Type string // a key of DatabaseTypes
	Port int64
	// PasswordVersion is the Vault version of the database's password
	// (idp_database.password_version; 0 when not given). It is recorded on
	// the pod template, so a rotation restarts the application onto it.
	PasswordVersion int64
}

// AnnotationDatabaseVersions, on an application's pod template, lists the
// password versions of its databases ("cache=2,orders=1"): a rotation
// changes it, and the pods restart, as the database's own do, onto the new
// password (env from a Secret is read only at pod start).
const AnnotationDatabaseVersions = "idpkit.io/database-password-versions"

// databasePasswordsAnnotation is AnnotationDatabaseVersions' value for
// links sorted by name ("" when no version is known).
func databasePasswordsAnnotation(links []DatabaseLink) string {
	var parts []string
	for _, l := range links {
		if l.PasswordVersion > 0 {
			parts = append(parts, l.Name+"="+strconv.FormatInt(l.PasswordVersion, 10))
		}
	}
	return strings.Join(parts, ",")
}

// DatabaseEnvPrefix names a database's variables: "orders-db" gives
// ORDERS_DB_HOST, ORDERS_DB_PORT, ...
func DatabaseEnvPrefix(d string) string { return strings.ToUpper(strings.ReplaceAll(d, "-", "_")) }

// databaseURLs are each type's connection URL, composed in the pod by
// Kubernetes' $(VAR) expansion, so the password never leaves its Secret.
// (A password with URL-reserved characters would need escaping; generated
// ones are letters and digits.)
var databaseURLs = map[string]string{
	"mysql":    "mysql://$(%[1]s_USER):$(%[1]s_PASSWORD)@$(%[1]s_HOST):$(%[1]s_PORT)/$(%[1]s_DATABASE)",
	"postgres": "postgresql://$(%[1]s_USER):$(%[1]s_PASSWORD)@$(%[1]s_HOST):$(%[1]s_PORT)/$(%[1]s_DATABASE)",
	"redis":    "redis://:$(%[1]s_PASSWORD)@$(%[1]s_HOST):$(%[1]s_PORT)/$(%[1]s_DATABASE)",
	"mongodb":  "mongodb://$(%[1]s_USER):$(%[1]s_PASSWORD)@$(%[1]s_HOST):$(%[1]s_PORT)/$(%[1]s_DATABASE)?authSource=admin",
}

// DatabaseEnv is the environment that connects an application of project
// p to database db: <PREFIX>_HOST, _PORT, _USER, _DATABASE (what the
// idp_database resource reports), _PASSWORD (a secretKeyRef to the
// database's Secret: the value never passes through tofu) and _URL. Order
// matters: $(VAR) refers only to variables defined before it.
func DatabaseEnv(p string, db DatabaseLink) ([]corev1.EnvVar, error) {
	t, ok := DatabaseTypes[db.Type]
	if !ok {
		return nil, fmt.Errorf("unknown database type %q", db.Type)
	}
	port := db.Port
	if port == 0 {
		port = t.Port
	}
	x := DatabaseEnvPrefix(db.Name)
	return []corev1.EnvVar{
		{Name: x + "_HOST", Value: DatabaseHost(p, db.Name)},
		{Name: x + "_PORT", Value: strconv.FormatInt(port, 10)},
		{Name: x + "_USER", Value: t.Username(db.Name)},
		{Name: x + "_DATABASE", Value: t.DBName(db.Name)},
		secretEnv(x+"_PASSWORD", DatabaseSecret(p, db.Name), DatabasePasswordKey),
		{Name: x + "_URL", Value: fmt.Sprintf(databaseURLs[db.Type], x)},
	}, nil
}

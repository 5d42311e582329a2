package render

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Database is everything an idp_database renders from.
type Database struct {
	Project string
	Name    string
	Type    string // a key of DatabaseTypes
	Version string // the image tag
	Port    int64
	Size    string // a Kubernetes quantity
	// StorageClass is the claim template's storageClassName: nil leaves it
	// out (the cluster's default class), "" asks for no class.
	StorageClass *string

	// Password is the Vault secret with key "password". Without Values
	// (plans) the Secret's data and the synced version are left out.
	Password VaultSecret
}

// DatabasePasswordKey is the key of the password in Vault and in the Secret.
const DatabasePasswordKey = "password"

// DatabaseType is what differs between the supported database images.
type DatabaseType struct {
	// Image is the official image's name: the type's, except mongodb's
	// ("mongo"; an image "mongodb" does not exist on Docker Hub).
	Image     string
	Port      int64
	MountPath string
	// Username and DBName are what applications connect with.
	Username func(d string) string
	DBName   func(d string) string
	// env and args start the image secured with the password from secret.
	env  func(d, secret string) []corev1.EnvVar
	args []string
	// portArgs or portEnv make the server listen on a port other than Port,
	// as each official image documents: flags after the entrypoint (which
	// hands arguments starting with "-" to the server), or for postgres
	// PGPORT, which the server, the entrypoint's init server and psql read.
	portArgs func(port string) []string
	portEnv  string
}

// DatabaseTypes are the supported types; the image is "<Image>:<version>".
var DatabaseTypes = map[string]DatabaseType{
	"mysql": {
		Image: "mysql", Port: 3306, MountPath: "/var/lib/mysql", Username: DatabaseUser, DBName: DatabaseDBName,
		env: func(d, secret string) []corev1.EnvVar {
			return []corev1.EnvVar{
				{Name: "MYSQL_DATABASE", Value: DatabaseDBName(d)},
				{Name: "MYSQL_USER", Value: DatabaseUser(d)},
				passwordEnv("MYSQL_PASSWORD", secret),
				passwordEnv("MYSQL_ROOT_PASSWORD", secret),
			}
		},
		portArgs: func(port string) []string { return []string{"--port=" + port} },
	},
	"postgres": {
		Image: "postgres", Port: 5432, MountPath: "/var/lib/postgresql/data", Username: DatabaseUser, DBName: DatabaseDBName,
		env: func(d, secret string) []corev1.EnvVar {
			return []corev1.EnvVar{
				{Name: "POSTGRES_DB", Value: DatabaseDBName(d)},
				{Name: "POSTGRES_USER", Value: DatabaseUser(d)},
				passwordEnv("POSTGRES_PASSWORD", secret),
				// A subdirectory of the volume: initdb refuses a non-empty
				// directory (lost+found on most volumes), and postgres 18+
				// images default to a directory outside the mount.
				{Name: "PGDATA", Value: "/var/lib/postgresql/data/pgdata"},
			}
		},
		portEnv: "PGPORT",
	},
	"redis": {
		Image: "redis", Port: 6379, MountPath: "/data",
		Username: func(string) string { return "default" },
		DBName:   func(string) string { return "0" },
		env: func(_, secret string) []corev1.EnvVar {
			return []corev1.EnvVar{passwordEnv("REDIS_PASSWORD", secret)}
		},
		args:     []string{"--requirepass", "$(REDIS_PASSWORD)"},
		portArgs: func(port string) []string { return []string{"--port", port} },
	},
	"mongodb": {
		Image: "mongo", Port: 27017, MountPath: "/data/db", Username: DatabaseUser, DBName: DatabaseDBName,
		env: func(d, secret string) []corev1.EnvVar {
			return []corev1.EnvVar{
				{Name: "MONGO_INITDB_ROOT_USERNAME", Value: DatabaseUser(d)},
				passwordEnv("MONGO_INITDB_ROOT_PASSWORD", secret),
			}
		},
		portArgs: func(port string) []string { return []string{"--port", port} },
	},
}

// DatabaseTypeNames lists the supported types in order.
func DatabaseTypeNames() []string { return sortedKeys(DatabaseTypes) }

func passwordEnv(name, secret string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: DatabasePasswordKey,
	}}}
}

// DatabaseImage is the image of a database of type t at version.
func DatabaseImage(t, version string) string { return DatabaseTypes[t].Image + ":" + version }

// imageTag is the Docker reference grammar for a tag.
var imageTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ValidDatabaseVersion reports whether version can be an image tag.
func ValidDatabaseVersion(version string) bool { return imageTag.MatchString(version) }

// DatabaseObjects is RenderDatabase's objects in apply order.
func DatabaseObjects(db Database) ([]*unstructured.Unstructured, error) {
	s, err := RenderDatabase(db)
	if err != nil {
		return nil, err
	}
	return s.All(), nil
}

// RenderDatabase renders a database (in apply order: the Secret its pods
// read, the Service, the StatefulSet). It fails only when Vault values are
// given without a password.
func RenderDatabase(db Database) (*DatabaseSet, error) {
	t, ok := DatabaseTypes[db.Type]
	if !ok {
		return nil, fmt.Errorf("unknown database type %q (want one of %s)", db.Type, strings.Join(DatabaseTypeNames(), ", "))
	}
	ns := Namespace(db.Project)
	var data SecretValues
	if db.Password.Values != nil {
		if err := requireKeys(db.Password, DatabasePasswordKey); err != nil {
			return nil, err
		}
		data = map[string]string{DatabasePasswordKey: db.Password.Values[DatabasePasswordKey]}
	}
	app := DatabaseStatefulSet(db.Project, db.Name)
	return newDatabaseSet(db, []*unstructured.Unstructured{
		secret(ns, DatabaseSecret(db.Project, db.Name), string(corev1.SecretTypeOpaque), db.Password, data),
		databaseService(db, t, app),
		databaseStatefulSet(db, t, app),
	}), nil
}

func databaseService(db Database, t DatabaseType, app string) *unstructured.Unstructured {
	spec := corev1.ServiceSpec{
		Selector: map[string]string{"app": app},
		Ports: []corev1.ServicePort{{
			Name: db.Type, Protocol: corev1.ProtocolTCP, Port: int32(db.Port), TargetPort: intstr.FromInt32(int32(db.Port)),
		}},
	}
	return object("v1", "Service", Namespace(db.Project), DatabaseService(db.Name), nil, map[string]any{"spec": fromTyped(spec)})
}

func databaseStatefulSet(db Database, t DatabaseType, app string) *unstructured.Unstructured {
	volume := DatabaseVolume(db.Project, db.Name)
	args := append([]string(nil), t.args...)
	env := t.env(db.Name, DatabaseSecret(db.Project, db.Name))
	if db.Port != t.Port { // only then: the default port leaves the pod as the old chart made it
		port := strconv.FormatInt(db.Port, 10)
		if t.portArgs != nil {
			args = append(args, t.portArgs(port)...)
		}
		if t.portEnv != "" {
			env = append(env, corev1.EnvVar{Name: t.portEnv, Value: port})
		}
	}
	pod := corev1.PodSpec{Containers: []corev1.Container{{
		Name:  db.Name,
		Image: DatabaseImage(db.Type, db.Version),
		Args:  args,
		Ports: []corev1.ContainerPort{{Name: db.Type, ContainerPort: int32(db.Port), Protocol: corev1.ProtocolTCP}},
		Env:   env,
		VolumeMounts: []corev1.VolumeMount{{
			Name: volume, MountPath: t.MountPath,
		}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(db.Port))}},
			InitialDelaySeconds: 5, PeriodSeconds: 10,
		},
	}}}
	template := map[string]any{
		"metadata": map[string]any{"labels": map[string]any{"app": app}},
		"spec":     fromTyped(pod),
	}
	ann := map[string]string{AnnotationVaultPath: db.Password.FullPath()}
	if db.Password.Values != nil {
		// A rotation in Vault changes the pod template, so the pods restart
		// with the new password; the Fingerprint ignores it.
		v := strconv.Itoa(db.Password.Version)
		ann[AnnotationVaultVersion] = v
		template["metadata"].(map[string]any)["annotations"] = map[string]any{AnnotationVaultVersion: v}
	}
	claimSpec := map[string]any{
		"accessModes": []any{string(corev1.ReadWriteOnce)},
		"resources":   map[string]any{"requests": map[string]any{"storage": db.Size}},
	}
	if db.StorageClass != nil {
		claimSpec["storageClassName"] = *db.StorageClass
	}
	sts := object("apps/v1", "StatefulSet", Namespace(db.Project), app, map[string]string{"app": app}, map[string]any{
		"spec": map[string]any{
			"replicas":    int64(1),
			"serviceName": DatabaseService(db.Name),
			"selector":    map[string]any{"matchLabels": map[string]any{"app": app}},
			"template":    template,
			"volumeClaimTemplates": []any{map[string]any{
				"metadata": map[string]any{"name": volume},
				"spec":     claimSpec,
			}},
		},
	})
	sts.SetAnnotations(ann)
	return sts
}

// WithLiveClaimTemplates returns desired with the volumeClaimTemplates of
// the live StatefulSet. They are immutable: a StatefulSet keeps the claim
// templates it was created with (by us at another size, or by the old
// chart), and sizes change on the claims themselves. Without a live object
// desired is returned as is.
func WithLiveClaimTemplates(desired, live *unstructured.Unstructured) *unstructured.Unstructured {
	if live == nil {
		return desired
	}
	templates, found, err := unstructured.NestedSlice(live.Object, "spec", "volumeClaimTemplates")
	if err != nil || !found {
		return desired
	}
	out := desired.DeepCopy()
	if err := unstructured.SetNestedSlice(out.Object, templates, "spec", "volumeClaimTemplates"); err != nil {
		panic(fmt.Sprintf("render: setting claim templates: %v", err)) // programming error
	}
	return out
}

// ClaimTemplateStorageClass reads the storageClassName of the claim
// template volume of a StatefulSet (its only one, whatever its name): nil
// when the template has none (the cluster's default class). found is false
// without such a template.
func ClaimTemplateStorageClass(sts *unstructured.Unstructured, volume string) (class *string, found bool) {
	tpls, _, _ := unstructured.NestedSlice(sts.Object, "spec", "volumeClaimTemplates")
	for _, t := range tpls {
		tm, _ := t.(map[string]any)
		if n, _, _ := unstructured.NestedString(tm, "metadata", "name"); n != volume && len(tpls) > 1 {
			continue
		}
		if c, ok, _ := unstructured.NestedString(tm, "spec", "storageClassName"); ok {
			return &c, true
		}
		return nil, true
	}
	return nil, false
}

// DatabaseClaimSize renders the patch that sets the storage request of an
// existing claim: only that field, so the claim is otherwise untouched.
func DatabaseClaimSize(namespace, claim, size string) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"spec": map[string]any{"resources": map[string]any{"requests": map[string]any{"storage": size}}},
	}}
	obj.SetAPIVersion("v1")
	obj.SetKind("PersistentVolumeClaim")
	obj.SetNamespace(namespace)
	obj.SetName(claim)
	return obj
}

// DatabaseClaims picks the database's claims out of names, sorted.
func DatabaseClaims(p, d string, names []string) []string {
	var out []string
	for _, n := range names {
		if IsDatabaseClaim(p, d, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

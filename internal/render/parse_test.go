package render

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// readGolden loads testdata/<name>.golden.yaml, keyed by "Kind/name".
func readGolden(t *testing.T, name string) map[string]*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".golden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		o := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &o.Object); err != nil {
			t.Fatal(err)
		}
		out[o.GetKind()+"/"+o.GetName()] = o
	}
	return out
}

func goldenObject(t *testing.T, objs map[string]*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := objs[kind+"/"+name]
	if o == nil {
		t.Fatalf("golden file has no %s %s", kind, name)
	}
	return o
}

// The parsers import and refresh use read back, from the golden objects,
// the model the golden objects were rendered from.
func TestParse_applicationRoundTrip(t *testing.T) {
	a := testApplication()
	a.Hash = "0123456789abcdef0123456789abcdef01234567"
	a.Databases = []DatabaseLink{{Name: "cache", Type: "redis", Port: 6379, PasswordVersion: 2}, {Name: "orders-db", Type: "mysql", Port: 3307, PasswordVersion: 1}}
	objs := readGolden(t, "application_deployed")
	p, n := a.Project, a.Name

	dep := goldenObject(t, objs, "Deployment", Deployment(n))
	if got, want := ContainerImage(dep, Deployment(n)), Image(a.RegistryHost, a.RegistryProject, p, n, a.Hash); got != want {
		t.Errorf("image = %q, want %q", got, want)
	}
	if got := ImageTag(ContainerImage(dep, Deployment(n))); got != a.Hash {
		t.Errorf("commit = %q, want %q", got, a.Hash)
	}
	if err := ImmutableMismatch(dep, Deployment(n), ""); err != nil {
		t.Errorf("rendered Deployment not adoptable: %v", err)
	}
	links := ParseDatabaseEnv(p, ContainerEnv(dep, Deployment(n)), podAnnotations(dep))
	var got, want []string
	for _, l := range links {
		got = append(got, fmt.Sprintf("%s:%d", l.Name, l.PasswordVersion))
	}
	for _, l := range a.Databases {
		want = append(want, fmt.Sprintf("%s:%d", l.Name, l.PasswordVersion))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("databases = %v, want %v", got, want)
	}

	var domains []string
	for _, d := range a.Domains {
		if got := ParseRouteDomain(goldenObject(t, objs, "IngressRoute", IngressRoute(p, n, d)), n); got != d {
			t.Errorf("route %s: domain = %q, want %q", IngressRoute(p, n, d), got, d)
		}
		domains = append(domains, d)
	}
	if got := ParseTemplateDomains(goldenObject(t, objs, "WorkflowTemplate", WorkflowTemplate(p, n)), p, n); !reflect.DeepEqual(got, domains) {
		t.Errorf("template domains = %v, want %v", got, domains)
	}
	// Before the first build the template's Deployment is the record of
	// replicas and database links.
	tdep := ParseTemplateDeployment(goldenObject(t, objs, "WorkflowTemplate", WorkflowTemplate(p, n)), n)
	if tdep == nil {
		t.Fatal("the template deploys no Deployment")
	}
	if r, _, _ := unstructured.NestedInt64(tdep.Object, "spec", "replicas"); r != a.Replicas {
		t.Errorf("template replicas = %d, want %d", r, a.Replicas)
	}
	tlinks := ParseDatabaseEnv(p, ContainerEnv(tdep, Deployment(n)), podAnnotations(tdep))
	if len(tlinks) != len(a.Databases) {
		t.Errorf("template databases = %v, want %v", tlinks, a.Databases)
	}
	owner, repo := ParseEventSourceRepo(goldenObject(t, objs, "EventSource", EventSource(p, n)), p, n)
	if owner != a.Owner || repo != a.Repo {
		t.Errorf("repository = %s/%s, want %s/%s", owner, repo, a.Owner, a.Repo)
	}
	if got := ParseSensorBranch(goldenObject(t, objs, "Sensor", Sensor(p, n))); got != a.Branch {
		t.Errorf("branch = %q, want %q", got, a.Branch)
	}
	if b, r := ParseTemplateTimeouts(goldenObject(t, objs, "WorkflowTemplate", WorkflowTemplate(p, n))); b != DefaultBuildTimeout || r != DefaultRolloutTimeout {
		t.Errorf("template timeouts = %d, %d, want the defaults %d, %d", b, r, DefaultBuildTimeout, DefaultRolloutTimeout)
	}
}

func podAnnotations(dep *unstructured.Unstructured) map[string]string {
	m, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "annotations")
	return m
}

func TestParse_databaseRoundTrip(t *testing.T) {
	d := testDatabase("mysql")
	objs := readGolden(t, "database_apply")
	sts := goldenObject(t, objs, "StatefulSet", DatabaseStatefulSet(d.Project, d.Name))
	typ, version, port, err := ParseDatabase(sts, d.Name)
	if err != nil || typ != d.Type || version != d.Version || port != d.Port {
		t.Errorf("ParseDatabase = %s %s %d %v, want %s %s %d", typ, version, port, err, d.Type, d.Version, d.Port)
	}
	size, err := ParseClaimTemplateSize(sts, DatabaseVolume(d.Project, d.Name))
	if err != nil || size.String() != d.Size {
		t.Errorf("size = %s %v, want %s", size.String(), err, d.Size)
	}
	if err := ImmutableMismatch(sts, DatabaseStatefulSet(d.Project, d.Name), DatabaseService(d.Name)); err != nil {
		t.Errorf("rendered StatefulSet not adoptable: %v", err)
	}
	if err := ImmutableMismatch(sts, "other", DatabaseService(d.Name)); err == nil {
		t.Error("a StatefulSet selecting other pods was taken as adoptable")
	}
}

func TestParse_projectRoundTrip(t *testing.T) {
	objs := readGolden(t, "project_isolation")
	got := ParseAllowedNamespaces(goldenObject(t, objs, "NetworkPolicy", IsolationPolicy("shop")))
	if want := []string{"argo-events", "kube-system", "monitoring"}; !reflect.DeepEqual(got, want) {
		t.Errorf("allowed namespaces = %v, want %v", got, want)
	}
}

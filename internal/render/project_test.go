package render

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func testProject() Project {
	return Project{
		Name:               "shop",
		EventBusType:       EventBusJetStream,
		EventBusReplicas:   3,
		EventBusVolumeSize: "1Gi",
		Labels:             map[string]string{"team": "web"},
		Annotations:        map[string]string{"owner": "web@example.com"},
		Isolation:          true,
		AllowedNamespaces:  []string{"argo-events", "traefik"},
		GitHubAccess:       VaultSecret{Mount: "idp", Path: GitHubAccessVaultPath("shop")},
		Registry:           VaultSecret{Mount: "idp", Path: RegistryVaultPath("shop")},
		RegistryHost:       "harbor.example.com",
	}
}

func TestProjectObjects_plan(t *testing.T) {
	objs, err := ProjectObjects(testProject())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "project_plan", objs)
}

func TestProjectObjects_withVaultValues(t *testing.T) {
	p := testProject()
	p.Isolation = false
	p.GitHubAccess.Version, p.GitHubAccess.Values = 2, map[string]string{"username": "bot", "token": "ghp_test"}
	p.Registry.Version, p.Registry.Values = 1, map[string]string{"username": "robot$shop", "password": "pw"}
	objs, err := ProjectObjects(p)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "project_apply", objs)

	// Fingerprints must not depend on secret values or Vault versions:
	// plans compute them without either.
	planned, _ := ProjectObjects(testProject())
	for i, o := range objs {
		if o.GetKind() != "Secret" {
			continue
		}
		if got, want := Fingerprint(o), Fingerprint(planned[i]); got != want {
			t.Errorf("%s: fingerprint with values %s != without %s", o.GetName(), got, want)
		}
	}
}

func TestProjectObjects_missingVaultKey(t *testing.T) {
	p := testProject()
	p.GitHubAccess.Version, p.GitHubAccess.Values = 1, map[string]string{"username": "bot"}
	_, err := ProjectObjects(p)
	if err == nil || !strings.Contains(err.Error(), `idp/shop-github-access`) || !strings.Contains(err.Error(), `token`) {
		t.Fatalf("want an error naming the Vault path and the missing key, got %v", err)
	}
}

func TestProjectObjects_readyDockerConfig(t *testing.T) {
	p := testProject()
	p.GitHubAccess.Values = map[string]string{"username": "bot", "token": "t"}
	p.Registry.Values = map[string]string{".dockerconfigjson": `{"auths":{}}`}
	objs, err := ProjectObjects(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetName() == RegistrySecret {
			if got := o.Object["data"].(map[string]any)[".dockerconfigjson"]; got != "eyJhdXRocyI6e319" {
				t.Fatalf("dockerconfigjson passed through as %v", got)
			}
			return
		}
	}
	t.Fatal("no registry secret rendered")
}

// The longest project name keeps the EventBus StatefulSet's pods creatable:
// their controller-revision-hash label "<StatefulSet>-<up to 10 digits>"
// stays within 63 characters. One more character and it does not.
func TestMaxProjectName(t *testing.T) {
	p := strings.Repeat("p", MaxProjectName)
	if n := len(EventBusStatefulSet(p, EventBusNATS) + "-" + "4294967295"); n != 63 {
		t.Fatalf("longest revision hash label is %d characters, want exactly 63", n)
	}
	if sts := EventBusStatefulSet("shop", EventBusNATS); sts != "eventbus-shop-ci-eventbus-stan" {
		t.Errorf("EventBus StatefulSet = %s", sts)
	}
	if sts := EventBusStatefulSet("shop", EventBusJetStream); sts != "eventbus-shop-ci-eventbus-js" {
		t.Errorf("JetStream EventBus StatefulSet = %s", sts)
	}
	if n := len(EventBusStatefulSet(p, EventBusJetStream)); n >= len(EventBusStatefulSet(p, EventBusNATS)) {
		t.Errorf("JetStream's StatefulSet name (%d characters) is not the shorter", n)
	}
	for _, name := range []string{"eventbus-" + EventBus(p) + "-stan-svc", EventSourceService(p, "a")} {
		if len(name) > 63 {
			t.Errorf("%s has %d characters", name, len(name))
		}
	}
}

// New projects get a JetStream bus (project_plan); projects that still run
// native NATS keep the old chart's spec, and both read back as rendered.
func TestProjectObjects_eventBus(t *testing.T) {
	for _, c := range []struct {
		typ, size, golden string
		replicas          int64
	}{
		{EventBusJetStream, "1Gi", "", 3},
		{EventBusNATS, "1Gi", "project_eventbus_nats", 5},
	} {
		p := testProject()
		p.EventBusType, p.EventBusReplicas, p.EventBusVolumeSize = c.typ, c.replicas, c.size
		objs, err := ProjectObjects(p)
		if err != nil {
			t.Fatal(err)
		}
		var bus *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "EventBus" {
				bus = o
			}
		}
		if c.golden != "" {
			golden(t, c.golden, []*unstructured.Unstructured{bus})
		}
		typ, replicas, size := ParseEventBus(bus)
		if c.typ == EventBusNATS {
			size = c.size // native NATS has no volume
		}
		if typ != c.typ || replicas != c.replicas || size != c.size {
			t.Errorf("%s bus parses as %s, %d replicas, volume %q", c.typ, typ, replicas, size)
		}
	}
	p := testProject()
	p.EventBusType = "stan"
	if _, err := ProjectObjects(p); err == nil || !strings.Contains(err.Error(), `"stan"`) {
		t.Errorf("an unknown EventBus type renders: %v", err)
	}
	sts := EventBusStatefulSet("shop", EventBusJetStream)
	for claim, want := range map[string]bool{
		"eventbus-shop-ci-eventbus-js-vol-" + sts + "-0": true,
		"eventbus-shop-ci-eventbus-js-vol-" + sts + "-2": true,
		"shop-orders-data-shop-orders-db-0":              false,
		"eventbus-shop-old-ci-eventbus-js-vol-x-0":       false,
	} {
		if got := IsEventBusVolumeClaim("shop", claim); got != want {
			t.Errorf("IsEventBusVolumeClaim(shop, %s) = %v", claim, got)
		}
	}
}

// The isolation policy admits the project, the platform's namespaces and,
// for an ingress that is not a pod (Traefik on the host), address ranges.
func TestProjectObjects_isolation(t *testing.T) {
	p := testProject()
	p.AllowedNamespaces = []string{"argo-events", "kube-system", "monitoring"}
	p.AllowedCIDRs = []string{"10.200.0.1/32", "192.168.0.0/24"}
	objs, err := ProjectObjects(p)
	if err != nil {
		t.Fatal(err)
	}
	var policies []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "NetworkPolicy" {
			policies = append(policies, o)
		}
	}
	golden(t, "project_isolation", policies)
}

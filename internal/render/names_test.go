package render

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// An application or database may not take a Secret name from its project
// or from a sibling application; every other name is free.
func TestChildNameClash(t *testing.T) {
	for n, want := range map[string]string{
		"github-access":   "shop-github-access-secret would be the project's GitHub credentials",
		"api-webhook":     `shop-api-webhook-secret would be the webhook Secret of an application "api"`,
		"github":          "",
		"api":             "",
		"webhook":         "",
		"api-webhooks":    "",
		"github-access-x": "",
	} {
		got := ChildNameClash("shop", n)
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("ChildNameClash(shop, %s) = %q, want %q", n, got, want)
		}
	}
	// And they really do meet.
	if AppSecret("shop", "api-webhook") != WebhookSecret("shop", "api") || DatabaseSecret("shop", "github-access") != GitHubAccessSecret("shop") {
		t.Error("the clashes ChildNameClash guards against are gone: update it")
	}
}

// A database on a port other than its type's default is told so, the way
// its image documents; on the default port the pod stays as the old chart
// made it.
func TestDatabaseObjects_port(t *testing.T) {
	want := map[string]struct {
		args []string
		env  string
	}{
		"mysql":    {args: []string{"--port=4000"}},
		"postgres": {env: "PGPORT=4000"},
		"redis":    {args: []string{"--requirepass", "$(REDIS_PASSWORD)", "--port", "4000"}},
		"mongodb":  {args: []string{"--port", "4000"}},
	}
	for _, typ := range DatabaseTypeNames() {
		for _, port := range []int64{DatabaseTypes[typ].Port, 4000} {
			db := testDatabase(typ)
			db.Port = port
			objs, err := DatabaseObjects(db)
			if err != nil {
				t.Fatal(err)
			}
			c := databaseContainer(t, objs[2])
			var env []string
			for _, e := range c.Env {
				if e.Value != "" && (e.Name == "PGPORT" || strings.Contains(e.Value, "4000")) {
					env = append(env, e.Name+"="+e.Value)
				}
			}
			if port == DatabaseTypes[typ].Port {
				if strings.Contains(strings.Join(c.Args, " "), "port") || len(env) > 0 {
					t.Errorf("%s on its default port: args %q env %q", typ, c.Args, env)
				}
				continue
			}
			if strings.Join(c.Args, " ") != strings.Join(want[typ].args, " ") {
				t.Errorf("%s on port 4000: args %q, want %q", typ, c.Args, want[typ].args)
			}
			if strings.Join(env, " ") != want[typ].env {
				t.Errorf("%s on port 4000: env %q, want %q", typ, env, want[typ].env)
			}
			if c.Ports[0].ContainerPort != 4000 || c.ReadinessProbe.TCPSocket.Port.IntValue() != 4000 {
				t.Errorf("%s on port 4000: container port %d, probe %v", typ, c.Ports[0].ContainerPort, c.ReadinessProbe.TCPSocket.Port)
			}
		}
	}
	// The type's args are not shared between renders.
	if got := DatabaseTypes["redis"].args; len(got) != 2 {
		t.Errorf("redis args changed to %q", got)
	}
}

func databaseContainer(t *testing.T, sts *unstructured.Unstructured) corev1.Container {
	t.Helper()
	spec, _, _ := unstructured.NestedMap(sts.Object, "spec", "template", "spec")
	var pod corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &pod); err != nil {
		t.Fatal(err)
	}
	return pod.Containers[0]
}

// What runs is found by its names: each parser undoes its rule, and names
// that only look alike (another project's prefix, the EventBus's
// StatefulSet, a suffix inside a name) are not taken for ours.
func TestNamesOfWhatRuns(t *testing.T) {
	for _, c := range []struct{ p, name, want string }{
		{"shop", EventSource("shop", "api"), "api"},
		{"shop", EventSource("shop", "my-api-github-eventsource"), "my-api-github-eventsource"},
		{"shop", EventSource("shop-old", "api"), "old-api"}, // the name is shop's application old-api
		{"shop", EventSource("other", "api"), ""},
		{"shop", "shop--github-eventsource", ""},
		{"shop", "shop-API-github-eventsource", ""},
		{"shop", "shop-api-github-eventsource-eventsource-svc", ""},
	} {
		if got := ApplicationOfEventSource(c.p, c.name); got != c.want {
			t.Errorf("ApplicationOfEventSource(%q, %q) = %q, want %q", c.p, c.name, got, c.want)
		}
	}
	for _, c := range []struct{ p, name, want string }{
		{"shop", DatabaseStatefulSet("shop", "orders"), "orders"},
		{"shop", DatabaseStatefulSet("shop", "a-db"), "a-db"},
		{"shop", EventBusStatefulSet("shop", EventBusNATS), ""},
		{"shop", EventBusStatefulSet("shop", EventBusJetStream), ""},
		{"shop", DatabaseStatefulSet("other", "orders"), ""},
		{"shop", "shop-db", ""},
		{"shop", "shop--db", ""},
	} {
		if got := DatabaseOfStatefulSet(c.p, c.name); got != c.want {
			t.Errorf("DatabaseOfStatefulSet(%q, %q) = %q, want %q", c.p, c.name, got, c.want)
		}
	}
}

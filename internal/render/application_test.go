package render

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func testApplication() Application {
	return Application{
		Project: "shop", Name: "api",
		Owner: "myorg", Repo: "my-api", Branch: "main",
		Port: 8080, Replicas: 2, Domains: []string{"api.example.com", "www.example.com"},
		RegistryHost: "harbor.example.com", RegistryProject: "injunweb",
		WebhookBaseURL: "https://webhook.example.com",
		AppSecret:      VaultSecret{Mount: "idp", Path: AppSecretVaultPath("shop", "api")},
		WebhookSecret:  VaultSecret{Mount: "idp", Path: WebhookSecretVaultPath("shop", "api")},
	}
}

func TestApplicationObjects_beforeFirstBuild(t *testing.T) {
	objs, err := ApplicationObjects(testApplication())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if k := o.GetKind(); k == "Deployment" || k == "IngressRoute" && o.GetName() != WebhookRoute("shop", "api") {
			t.Errorf("%s %s rendered without a commit", k, o.GetName())
		}
	}
	golden(t, "application_unbuilt", objs)
}

func TestApplicationObjects_deployed(t *testing.T) {
	a := testApplication()
	a.Hash = "0123456789abcdef0123456789abcdef01234567"
	a.WebhookSecret.Version, a.WebhookSecret.Values = 1, map[string]string{"secret": "whsec"}
	a.AppSecret.Version, a.AppSecret.Values = 3, map[string]string{"DATABASE_URL": "mysql://x"}
	a.Databases = []DatabaseLink{{Name: "cache", Type: "redis", Port: 6379, PasswordVersion: 2}, {Name: "orders-db", Type: "mysql", Port: 3307, PasswordVersion: 1}}
	objs, err := ApplicationObjects(a)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "application_deployed", objs)
}

// The deploy step in the WorkflowTemplate applies exactly the Deployment
// tofu renders for the same commit: that is what keeps CI and tofu from
// fighting over it.
func TestWorkflowTemplate_deploysWhatTofuRenders(t *testing.T) {
	a := testApplication()
	a.AppSecret.Version, a.AppSecret.Values = 4, map[string]string{"K": "v"}
	objs, _ := ApplicationObjects(a)
	var manifest string
	for _, o := range objs {
		if o.GetKind() != "WorkflowTemplate" {
			continue
		}
		for _, tmpl := range o.Object["spec"].(map[string]any)["templates"].([]any) {
			if tm := tmpl.(map[string]any); tm["name"] == "deploy" {
				manifest = tm["resource"].(map[string]any)["manifest"].(string)
			}
		}
	}
	sha := "fedcba9876543210fedcba9876543210fedcba98"
	a.Hash = sha
	deployed, _ := ApplicationObjects(a)
	var want string
	for _, o := range deployed {
		if o.GetKind() == "Deployment" {
			b, _ := yaml.Marshal(o.Object)
			want = string(b)
		}
	}
	// Compared as objects: the YAML quotes the placeholder ('{{…}}').
	got := strings.ReplaceAll(manifest, ShaPlaceholder, sha)
	var gotObj, wantObj map[string]any
	if err := yaml.Unmarshal([]byte(got), &gotObj); err != nil {
		t.Fatal(err)
	}
	_ = yaml.Unmarshal([]byte(want), &wantObj)
	if !reflect.DeepEqual(gotObj, wantObj) {
		t.Fatalf("deploy step manifest for %s:\n%s\nwant tofu's Deployment:\n%s", sha, got, want)
	}
}

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		Image("r.io", "rp", "shop", "api", "abc123"): "abc123",
		"registry.local:5000/shop-api":               "",
		"registry.local:5000/shop-api:v1":            "v1",
		"shop-api":                                   "",
	} {
		if got := ImageTag(image); got != want {
			t.Errorf("ImageTag(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestIngressRouteName(t *testing.T) {
	if got := IngressRoute("shop", "api", "api.example.com"); got != "shop-api-api-example-com-route" {
		t.Fatal(got)
	}
	if got := WebhookRoute("shop", "api"); got != "shop-api-webhook-route" {
		t.Fatal(got)
	}
}

// The longest project and application names still give the EventSource a
// valid Service name.
func TestMaxProjectAndApplication(t *testing.T) {
	p, a := strings.Repeat("p", MaxProjectAndApplication-1), "a"
	if n := len(EventSourceService(p, a)); n != dnsLabelMax {
		t.Fatalf("EventSourceService of the longest names has %d characters, want %d", n, dnsLabelMax)
	}
}

// The webhook route exists before the first build and sends GitHub's posts
// for the EventSource's endpoint, on the webhook host whatever the port,
// to the Service Argo Events makes for the EventSource.
func TestApplicationObjects_webhookRoute(t *testing.T) {
	for base, match := range map[string]string{
		"https://webhook.example.com":    "Host(`webhook.example.com`) && Path(`/shop-api`)",
		"http://127.0.0.1:18080/":        "Host(`127.0.0.1`) && Path(`/shop-api`)",
		"https://Hooks.Example.com:8443": "Host(`hooks.example.com`) && Path(`/shop-api`)",
	} {
		a := testApplication()
		a.WebhookBaseURL = base
		objs, err := ApplicationObjects(a)
		if err != nil {
			t.Fatal(err)
		}
		var route map[string]any
		for _, o := range objs {
			if o.GetKind() == "IngressRoute" && o.GetName() == WebhookRoute("shop", "api") {
				route = o.Object["spec"].(map[string]any)["routes"].([]any)[0].(map[string]any)
			}
		}
		if route == nil {
			t.Fatalf("%s: no webhook route before the first build", base)
		}
		svc := route["services"].([]any)[0].(map[string]any)
		if route["match"] != match || svc["name"] != "shop-api-github-eventsource-eventsource-svc" || svc["port"] != int64(EventSourcePort) {
			t.Errorf("%s: route %v", base, route)
		}
	}
}

func TestWebhookHost(t *testing.T) {
	for _, bad := range []string{
		"webhook.example.com", "https://webhook.example.com/github", "https://webhook.example.com/?a=b",
		"https://user@webhook.example.com", "https://bad_host.example.com", "ftp://webhook.example.com", "",
	} {
		if h, err := WebhookHost(bad); err == nil {
			t.Errorf("WebhookHost(%q) = %q, want an error", bad, h)
		}
	}
	_, err := WebhookHost("https://hooks.example.com/github/")
	if err == nil || !strings.Contains(err.Error(), "https://hooks.example.com/github/<project>-<application>") ||
		!strings.Contains(err.Error(), "such as https://hooks.example.com") {
		t.Errorf("a base path is refused without saying why: %v", err)
	}
	if got := WebhookURL("https://webhook.example.com/", "shop", "api"); got != "https://webhook.example.com/shop-api" {
		t.Errorf("WebhookURL joins to %q", got)
	}
}

// With dispatch, the pipeline ends like the old chart's: a
// repository_dispatch instead of an in-cluster rollout, and the token is
// referenced, never written into the template.
func TestApplicationObjects_dispatch(t *testing.T) {
	a := testApplication()
	a.Dispatch = &Dispatch{Repository: "myorg/gitops", EventType: "update-config"}
	objs, err := ApplicationObjects(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "WorkflowTemplate" {
			golden(t, "application_dispatch_workflowtemplate", []*unstructured.Unstructured{o})
			if s := fmt.Sprint(o.Object); strings.Contains(s, "deploy") {
				t.Error("dispatch mode still deploys in the cluster")
			}
		}
	}
}

// On GitHub Enterprise, Argo Events registers the webhook through the
// server's API and kaniko clones from the server (over http when the
// server is on http://), and a dispatch goes to the server's API.
func TestApplicationObjects_githubEnterprise(t *testing.T) {
	a := testApplication()
	a.GitHubBaseURL = "http://10.200.0.1:8443/"
	objs, err := ApplicationObjects(a)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "application_enterprise", objs)

	a.Dispatch = &Dispatch{Repository: "myorg/gitops", EventType: "update-config"}
	objs, err = ApplicationObjects(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "WorkflowTemplate" && !strings.Contains(fmt.Sprint(o.Object), "http://10.200.0.1:8443/api/v3/repos/myorg/gitops/dispatches") {
			t.Errorf("dispatch does not go to the Enterprise API: %v", o.Object)
		}
	}

	a.GitHubBaseURL = "github.example.com"
	if _, err := ApplicationObjects(a); err == nil || !strings.Contains(err.Error(), "github.base_url") {
		t.Errorf("a base URL without a scheme rendered (err=%v)", err)
	}
}

// github.com renders the same whichever of its URLs github.base_url holds.
func TestApplicationObjects_githubComBaseURL(t *testing.T) {
	want, _ := ApplicationObjects(testApplication())
	for _, base := range []string{"https://github.com/", "https://api.github.com", "https://api.github.com/"} {
		a := testApplication()
		a.GitHubBaseURL = base
		got, err := ApplicationObjects(a)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("github.base_url %q renders differently from the default", base)
		}
	}
}

func TestParseGitHubBaseURL(t *testing.T) {
	for base, want := range map[string]GitHubServer{
		"": publicGitHub,
		"https://ghe.example.com": {Enterprise: true, APIURL: "https://ghe.example.com/api/v3/",
			UploadURL: "https://ghe.example.com/api/uploads/", GitHost: "ghe.example.com"},
		"https://ghe.example.com/api/v3/": {Enterprise: true, APIURL: "https://ghe.example.com/api/v3/",
			UploadURL: "https://ghe.example.com/api/uploads/", GitHost: "ghe.example.com"},
		"http://10.200.0.1:30080/": {Enterprise: true, HTTP: true, APIURL: "http://10.200.0.1:30080/api/v3/",
			UploadURL: "http://10.200.0.1:30080/api/uploads/", GitHost: "10.200.0.1:30080"},
		"https://example.com/ghe/api/v3": {Enterprise: true, APIURL: "https://example.com/ghe/api/v3/",
			UploadURL: "https://example.com/ghe/api/uploads/", GitHost: "example.com/ghe"},
		"https://api.octo.ghe.com/": {Enterprise: true, APIURL: "https://api.octo.ghe.com/",
			UploadURL: "https://api.octo.ghe.com/", GitHost: "octo.ghe.com"},
	} {
		got, err := ParseGitHubBaseURL(base)
		if err != nil || got != want {
			t.Errorf("ParseGitHubBaseURL(%q) = %+v, %v; want %+v", base, got, err, want)
		}
	}
	for _, bad := range []string{"ghe.example.com", "ftp://ghe.example.com", "https://user:pw@ghe.example.com", "https://ghe.example.com/?x=1", "https://"} {
		if _, err := ParseGitHubBaseURL(bad); err == nil {
			t.Errorf("ParseGitHubBaseURL(%q) accepted", bad)
		}
	}
}

func TestBranchFilter(t *testing.T) {
	for _, tc := range []struct {
		branch      string
		match, miss []string
	}{
		{"main", []string{"refs/heads/main"}, []string{"refs/heads/main-old", "refs/heads/maintenance", "refs/heads/main2", "refs/heads/x/main", "refs/tags/main"}},
		{"release+1", []string{"refs/heads/release+1"}, []string{"refs/heads/release1", "refs/heads/releaseee1"}},
		{"feature/a.b", []string{"refs/heads/feature/a.b"}, []string{"refs/heads/feature/aXb"}},
	} {
		f := BranchFilter(tc.branch)
		re := regexp.MustCompile(f) // as Argo Events compiles it
		for _, m := range tc.match {
			if !re.MatchString(m) {
				t.Errorf("filter %q for %q does not match %q", f, tc.branch, m)
			}
		}
		for _, m := range tc.miss {
			if re.MatchString(m) {
				t.Errorf("filter %q for %q matches %q", f, tc.branch, m)
			}
		}
		if got := ParseBranchFilter(f); got != tc.branch {
			t.Errorf("ParseBranchFilter(%q) = %q, want %q", f, got, tc.branch)
		}
	}
	if got := ParseBranchFilter("refs/heads/main"); got != "main" {
		t.Errorf("old chart's filter parsed as %q, want main", got)
	}
	if got := ParseBranchFilter("^refs/heads/main"); got != "" {
		t.Errorf("half-anchored filter parsed as %q, want \"\"", got)
	}
}

// An application's Deployment fingerprints the same at any commit (CI
// changes the commit between plans while unpinned; git.hash and image show
// it), and differently when anything else changes.
func TestFingerprint_deploymentLeavesTheCommitOut(t *testing.T) {
	deploymentOf := func(a Application) *unstructured.Unstructured {
		t.Helper()
		objs, err := ApplicationObjects(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == "Deployment" {
				return o
			}
		}
		t.Fatal("no Deployment rendered")
		return nil
	}
	a := testApplication()
	a.Hash = strings.Repeat("a", 40)
	b := a
	b.Hash = strings.Repeat("b", 40)
	if Fingerprint(deploymentOf(a)) != Fingerprint(deploymentOf(b)) {
		t.Error("the Deployment's fingerprint depends on the commit")
	}
	c := a
	c.Replicas++
	if Fingerprint(deploymentOf(a)) == Fingerprint(deploymentOf(c)) {
		t.Error("the Deployment's fingerprint ignores a replicas change")
	}
	if img := ContainerImage(deploymentOf(a), Deployment(a.Name)); ImageTag(img) != a.Hash {
		t.Errorf("fingerprinting changed the Deployment: image %s", img)
	}
}

// The generation tofu records is the one the rendered template's deploy
// steps check; it changes with what a deploy applies, and a template
// without deploy steps has none.
func TestDeployGeneration(t *testing.T) {
	templateOf := func(a Application) *unstructured.Unstructured {
		t.Helper()
		objs, err := ApplicationObjects(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			if o.GetKind() == "WorkflowTemplate" {
				return o
			}
		}
		t.Fatal("no WorkflowTemplate rendered")
		return nil
	}
	gen := func(a Application) string {
		t.Helper()
		g, err := DeployGeneration(a)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a := testApplication()
	if g, parsed := gen(a), ParseDeployGeneration(templateOf(a)); g != parsed || g == "none" || len(g) != 16 {
		t.Errorf("recorded generation %q, the template's deploy steps check %q", g, parsed)
	}
	built := a
	built.Hash = strings.Repeat("a", 40) // the commit is the run's, not the template's
	if gen(built) != gen(a) {
		t.Error("the generation depends on the deployed commit")
	}
	for name, change := range map[string]func(*Application){
		"replicas": func(a *Application) { a.Replicas = 3 },
		"domains":  func(a *Application) { a.Domains = []string{"other.example.com"} },
		"port":     func(a *Application) { a.Port = 9999 },
	} {
		b := a
		change(&b)
		if gen(b) == gen(a) {
			t.Errorf("%s changed, the generation did not: a queued run would deploy the old one", name)
		}
	}
	pinned := a
	pinned.Pinned = true
	if g := gen(pinned); g != "none" || ParseDeployGeneration(templateOf(pinned)) != "none" {
		t.Errorf("a pinned template's generation is %q", g)
	}
}

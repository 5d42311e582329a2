package provider

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/render/objcheck"
)

// Fuzzing render with models the provider's validators accept (issue 12):
// every object rendered from them must be one the API server and the
// controllers accept (objcheck), and no name may be derived twice, within a
// resource or between a project and its applications and databases. What
// is valid is decided by the provider itself, through its protocol server
// as tofu asks it (validateAny), and the model reaches render through the
// resources' own spec(), so the fuzzer tests exactly what a user can plan.
//
// make test runs each target briefly (scripts/test.sh); go test runs the
// seeds and testdata/fuzz/<Fuzz...>/ as ordinary tests. Longer:
//
//	go test ./internal/provider -run '^$' -fuzz '^FuzzApplication$' -fuzztime 5m

var (
	fuzzOnce    sync.Once
	fuzzChecker *objcheck.Checker
	fuzzSrv     tfprotov6.ProviderServer
	fuzzErr     error
)

func fuzzSetup(t testing.TB) (*objcheck.Checker, tfprotov6.ProviderServer) {
	fuzzOnce.Do(func() {
		crds := os.Getenv("IDP_CRDS_DIR") // ../shared/crds, overridable like the stack's
		if crds == "" {
			crds = filepath.Join("..", "..", "..", "shared", "crds")
		}
		fuzzChecker, fuzzErr = objcheck.New(crds)
		if fuzzErr == nil {
			fuzzSrv, fuzzErr = providerserver.NewProtocol6WithError(New("test")())()
		}
	})
	if fuzzErr != nil {
		t.Fatal(fuzzErr)
	}
	return fuzzChecker, fuzzSrv
}

// nameish maps fuzz bytes onto the characters names are made of, so most
// inputs get past the validators and the fuzzer explores derivation, not
// the validators' first regexp. raw keeps the input as it is.
func nameish(s string, raw bool) string {
	if raw {
		return s
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-."
	b := []byte(s)
	for i, c := range b {
		if !strings.ContainsRune(alphabet, rune(c)) {
			b[i] = alphabet[int(c)%len(alphabet)]
		}
	}
	return string(b)
}

// accepted reports whether the provider accepts config for kind.
func accepted(t *testing.T, srv tfprotov6.ProviderServer, kind string, config map[string]any) bool {
	for _, d := range validateAny(t, srv, kind, config) {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			return false
		}
	}
	return true
}

// model reads config into a resource's model as the framework does.
func model(t *testing.T, r resource.Resource, config map[string]any, into any) {
	ctx := context.Background()
	var resp resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &resp)
	typ := resp.Schema.Type().TerraformType(ctx)
	cfg := tfsdk.Config{Schema: resp.Schema, Raw: badInputValue(t, typ, config)}
	if diags := cfg.Get(ctx, into); diags.HasError() {
		t.Fatalf("reading the model: %v", diags)
	}
}

// fuzzSettings are provider settings (validated by TestBadInput's valid
// provider block).
func fuzzSettings(a *render.Application) {
	a.RegistryHost, a.RegistryProject, a.WebhookBaseURL = "harbor.example.com:5000", "team/apps", "https://hooks.example.com"
	a.AppSecret.Mount, a.WebhookSecret.Mount = "idp", "idp"
}

// checkRendered checks every object and that no name is derived twice;
// it returns the objects' keys.
func checkRendered(t *testing.T, c *objcheck.Checker, what string, objs []*unstructured.Unstructured) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for _, o := range objs {
		for _, e := range c.Check(o) {
			t.Errorf("%s: %s: %v", what, objcheck.Key(o), e)
		}
		k := objcheck.Key(o)
		if keys[k] && o.GetGenerateName() == "" {
			t.Errorf("%s renders %s twice", what, k)
		}
		keys[k] = true
	}
	return keys
}

// noneShared fails when a child resource would write an object of its
// project: the project's objects carry no owner claim (engine.Claim), so
// the child would silently take it over.
func noneShared(t *testing.T, project map[string]bool, what string, child map[string]bool) {
	t.Helper()
	for k := range child {
		if project[k] {
			t.Errorf("%s derives %s, an object of its project", what, k)
		}
	}
}

func projectObjects(t *testing.T, p string) map[string]bool {
	c, srv := fuzzSetup(t)
	cfg := map[string]any{"name": p, "isolation": true, "eventbus_replicas": 3}
	if !accepted(t, srv, "idp_project", cfg) {
		return nil
	}
	var m projectModel
	model(t, NewProjectResource(), cfg, &m)
	var diags diag.Diagnostics
	spec, _ := m.spec(context.Background(), &diags)
	spec.GitHubAccess.Mount, spec.Registry.Mount = "idp", "idp"
	spec.AllowedNamespaces = append(spec.AllowedNamespaces, "argo-events", "kube-system", "traefik")
	objs, err := render.ProjectObjects(spec)
	if err != nil {
		t.Fatalf("project %q: %v", p, err)
	}
	return checkRendered(t, c, "project "+p, objs)
}

func FuzzApplication(f *testing.F) {
	f.Add("shop", "web", "api", "orders", "myorg", "web", "main", "web.example.com", "api.shop.example.com", int64(8080), int64(2), "redis", false, false)
	f.Add("a", "b", "c", "d", "o", "r", "feature/x-1", "a.b", "a-b.c", int64(1), int64(0), "mysql", true, false)
	f.Add("abcdefghijklmnopqrstuvwxyz", "a", "b", "c", "org", "repo.name", "release/2024.1", "x.example.com", "y.example.com", int64(65535), int64(100), "postgres", false, false)
	f.Add("p1", "webhook", "github-access", "x-webhook", "o", "r", "main", "webhook.example", "www.example.com", int64(80), int64(3), "mongodb", false, true)
	f.Fuzz(func(t *testing.T, p, a, sibling, db, owner, repo, branch, d1, d2 string, port, replicas int64, dbType string, pinned, raw bool) {
		c, srv := fuzzSetup(t)
		p, a, sibling, db = nameish(p, raw), nameish(a, raw), nameish(sibling, raw), nameish(db, raw)
		d1, d2 = nameish(d1, raw), nameish(d2, raw)
		appConfig := func(name string) map[string]any {
			cfg := map[string]any{
				"project": p, "name": name, "port": int(port), "replicas": int(replicas), "rollout_timeout": "10m",
				"git":       map[string]any{"type": "github", "owner": owner, "repo": repo, "branch": branch},
				"domains":   []string{d1, d2},
				"databases": []map[string]any{{"project": p, "name": db, "type": dbType, "port": 5432}},
			}
			if pinned {
				cfg["git"].(map[string]any)["hash"] = "0123456789abcdef0123456789abcdef01234567"
			}
			return cfg
		}
		dbConfig := map[string]any{"project": p, "name": db, "type": dbType, "version": "8.0", "size": "1Gi", "port": 5432}
		if !accepted(t, srv, "idp_application", appConfig(a)) || !accepted(t, srv, "idp_database", dbConfig) {
			return
		}
		project := projectObjects(t, p)
		if project == nil {
			return // the application's validators cannot see the project's own rules
		}
		app := func(name string) map[string]bool {
			var m applicationModel
			model(t, NewApplicationResource(), appConfig(name), &m)
			var diags diag.Diagnostics
			spec, _ := m.spec(context.Background(), &diags)
			fuzzSettings(&spec)
			if !pinned {
				spec.Hash = "0123456789abcdef0123456789abcdef01234567" // deployed: every object exists
			}
			spec.Pinned = pinned
			objs, err := render.ApplicationObjects(spec)
			if err != nil {
				t.Fatalf("application %q of %q: %v", name, p, err)
			}
			objs = append(objs, render.ReleaseRecord(spec, spec.Hash), render.BuildWorkflow(p, name, spec.Hash))
			t.Logf("rendered %d objects of application %s/%s", len(objs), p, name)
			keys := checkRendered(t, c, "application "+name, objs)
			noneShared(t, project, "application "+name, keys)
			return keys
		}
		app(a)
		if accepted(t, srv, "idp_application", appConfig(sibling)) {
			app(sibling)
		}

		var dm databaseModel
		model(t, NewDatabaseResource(), dbConfig, &dm)
		spec, _ := dm.spec()
		spec.Password.Mount = "idp"
		objs, err := render.DatabaseObjects(spec)
		if err != nil {
			t.Fatalf("database %q of %q: %v", db, p, err)
		}
		noneShared(t, project, "database "+db, checkRendered(t, c, "database "+db, objs))
	})
}

func FuzzDatabase(f *testing.F) {
	f.Add("shop", "orders", "mysql", "8.0", "1Gi", int64(3306), "", false)
	f.Add("a", "b", "postgres", "15", "500Mi", int64(1), "fast-ssd", false)
	f.Add("abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz0", "redis", "7.0.15-alpine", "1.5Ti", int64(65535), "", false)
	f.Add("p", "db", "mongodb", "7", "2G", int64(27017), "local-path", true)
	f.Fuzz(func(t *testing.T, p, d, typ, version, size string, port int64, class string, raw bool) {
		c, srv := fuzzSetup(t)
		p, d = nameish(p, raw), nameish(d, raw)
		cfg := map[string]any{"project": p, "name": d, "type": typ, "version": version, "size": size, "port": int(port)}
		if class != "" {
			cfg["storage_class"] = class
		}
		if !accepted(t, srv, "idp_database", cfg) {
			return
		}
		project := projectObjects(t, p)
		if project == nil {
			return
		}
		var m databaseModel
		model(t, NewDatabaseResource(), cfg, &m)
		spec, _ := m.spec()
		spec.Password.Mount = "idp"
		objs, err := render.DatabaseObjects(spec)
		if err != nil {
			t.Fatalf("database %q of %q: %v", d, p, err)
		}
		t.Logf("rendered database %s/%s", p, d)
		noneShared(t, project, "database "+d, checkRendered(t, c, "database "+d, objs))
	})
}

func FuzzProject(f *testing.F) {
	f.Add("shop", "team", "web", "owner", "web@example.com", "monitoring", int64(3), true, false)
	f.Add("a", "example.com/team", "", "example.com/x", "", "a", int64(1), false, false)
	f.Add("abcdefghijklmnopqrstuvwxyz", "k", strings.Repeat("v", 63), "a/b", "{}", "kube-system", int64(5), true, true)
	f.Fuzz(func(t *testing.T, p, labelKey, labelValue, annotationKey, annotationValue, allowed string, replicas int64, isolation, raw bool) {
		c, srv := fuzzSetup(t)
		p, allowed = nameish(p, raw), nameish(allowed, raw)
		cfg := map[string]any{
			"name": p, "eventbus_replicas": int(replicas), "isolation": isolation,
			"labels":             map[string]string{labelKey: labelValue},
			"annotations":        map[string]string{annotationKey: annotationValue},
			"allowed_namespaces": []string{allowed},
		}
		if !accepted(t, srv, "idp_project", cfg) {
			return
		}
		var m projectModel
		model(t, NewProjectResource(), cfg, &m)
		var diags diag.Diagnostics
		spec, _ := m.spec(context.Background(), &diags)
		spec.GitHubAccess.Mount, spec.Registry.Mount = "idp", "idp"
		objs, err := render.ProjectObjects(spec)
		if err != nil {
			t.Fatalf("project %q: %v", p, err)
		}
		t.Logf("rendered project %s", p)
		checkRendered(t, c, "project "+p, objs)
	})
}

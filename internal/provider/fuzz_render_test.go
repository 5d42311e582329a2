package provider

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
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
	fuzzSchemas *tfprotov6.GetProviderSchemaResponse
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
		if fuzzErr == nil {
			fuzzSchemas, fuzzErr = fuzzSrv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
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

// accepted reports whether the provider accepts config for resource kind,
// as validateAny asks it (with the schemas read once: fuzzing runs this
// thousands of times a second).
func accepted(t *testing.T, srv tfprotov6.ProviderServer, kind string, config map[string]any) bool {
	typ := fuzzSchemas.ResourceSchemas[kind].ValueType()
	dv, err := tfprotov6.NewDynamicValue(typ, badInputValue(t, typ, config))
	if err != nil {
		t.Fatal(err)
	}
	r, err := srv.ValidateResourceConfig(context.Background(), &tfprotov6.ValidateResourceConfigRequest{TypeName: kind, Config: &dv})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range r.Diagnostics {
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
	fuzzVault(&a.AppSecret, "GREETING")
	fuzzVault(&a.WebhookSecret, "secret")
}

// fuzzVault gives v values for keys, as apply reads them from Vault (plans
// render without values; apply's objects are the ones the API server gets).
func fuzzVault(v *render.VaultSecret, keys ...string) {
	v.Version, v.Values = 1, map[string]string{}
	for _, k := range keys {
		v.Values[k] = "fuzz-" + k
	}
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

// renderProject renders project p as idp_project would, or returns nil
// when the provider refuses the name.
func renderProject(t *testing.T, p string) []*unstructured.Unstructured {
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
	fuzzVault(&spec.GitHubAccess, "username", "token")
	fuzzVault(&spec.Registry, "username", "password")
	spec.RegistryHost = "harbor.example.com:5000"
	spec.AllowedNamespaces = append(spec.AllowedNamespaces, "argo-events", "kube-system", "traefik")
	objs, err := render.ProjectObjects(spec)
	if err != nil {
		t.Fatalf("project %q: %v", p, err)
	}
	checkRendered(t, c, "project "+p, objs)
	return objs
}

func keysOf(objs []*unstructured.Unstructured) map[string]bool {
	keys := map[string]bool{}
	for _, o := range objs {
		keys[objcheck.Key(o)] = true
	}
	return keys
}

// appInput is one FuzzApplication input: a project with applications a
// and sibling and database db.
type appInput struct {
	p, a, sibling, db, owner, repo, branch, d1, d2 string
	port, replicas                                 int64
	dbType                                         string
	pinned                                         bool
}

// renderApplication renders in's project, applications and database when
// the provider accepts them (nil otherwise), after checking every object
// and their names.
func renderApplication(t *testing.T, in appInput) [][]*unstructured.Unstructured {
	c, srv := fuzzSetup(t)
	appConfig := func(name string) map[string]any {
		cfg := map[string]any{
			"project": in.p, "name": name, "port": int(in.port), "replicas": int(in.replicas), "rollout_timeout": "10m",
			"git":       map[string]any{"type": "github", "owner": in.owner, "repo": in.repo, "branch": in.branch},
			"domains":   []string{in.d1, in.d2},
			"databases": []map[string]any{{"project": in.p, "name": in.db, "type": in.dbType, "port": 5432}},
		}
		if in.pinned {
			cfg["git"].(map[string]any)["hash"] = "0123456789abcdef0123456789abcdef01234567"
		}
		return cfg
	}
	dbConfig := map[string]any{"project": in.p, "name": in.db, "type": in.dbType, "version": "8.0", "size": "1Gi", "port": 5432}
	if !accepted(t, srv, "idp_application", appConfig(in.a)) || !accepted(t, srv, "idp_database", dbConfig) {
		return nil
	}
	projectObjs := renderProject(t, in.p)
	if projectObjs == nil {
		return nil // the application's validators cannot see the project's own rules
	}
	project := keysOf(projectObjs)
	out := [][]*unstructured.Unstructured{projectObjs}
	app := func(name string) {
		var m applicationModel
		model(t, NewApplicationResource(), appConfig(name), &m)
		var diags diag.Diagnostics
		spec, _ := m.spec(context.Background(), &diags)
		fuzzSettings(&spec)
		if !in.pinned {
			spec.Hash = "0123456789abcdef0123456789abcdef01234567" // deployed: every object exists
		}
		spec.Pinned = in.pinned
		objs, err := render.ApplicationObjects(spec)
		if err != nil {
			t.Fatalf("application %q of %q: %v", name, in.p, err)
		}
		objs = append(objs, render.ReleaseRecord(spec, spec.Hash), render.BuildWorkflow(in.p, name, spec.Hash))
		t.Logf("rendered %d objects of application %s/%s", len(objs), in.p, name)
		noneShared(t, project, "application "+name, checkRendered(t, c, "application "+name, objs))
		out = append(out, objs)
	}
	app(in.a)
	if accepted(t, srv, "idp_application", appConfig(in.sibling)) {
		app(in.sibling)
	}

	var dm databaseModel
	model(t, NewDatabaseResource(), dbConfig, &dm)
	spec, _ := dm.spec()
	spec.Password.Mount = "idp"
	fuzzVault(&spec.Password, render.DatabasePasswordKey)
	objs, err := render.DatabaseObjects(spec)
	if err != nil {
		t.Fatalf("database %q of %q: %v", in.db, in.p, err)
	}
	noneShared(t, project, "database "+in.db, checkRendered(t, c, "database "+in.db, objs))
	return append(out, objs)
}

func FuzzApplication(f *testing.F) {
	// Once per process, before any input: compiling the Argo Workflows and
	// Traefik CRDs takes seconds.
	c, _ := fuzzSetup(f)
	if err := c.Preload("argoproj.io/WorkflowTemplate", "argoproj.io/Workflow", "traefik.io/IngressRoute"); err != nil {
		f.Fatal(err)
	}
	f.Add("shop", "web", "api", "orders", "myorg", "web", "main", "web.example.com", "api.shop.example.com", int64(8080), int64(2), "redis", false, false)
	f.Add("a", "b", "c", "d", "o", "r", "feature/x-1", "a.b", "a-b.c", int64(1), int64(0), "mysql", true, false)
	f.Add("abcdefghijklmnopqrstuvwxyz", "a", "b", "c", "org", "repo.name", "release/2024.1", "x.example.com", "y.example.com", int64(65535), int64(100), "postgres", false, false)
	f.Add("p1", "webhook", "github-access", "x-webhook", "o", "r", "main", "webhook.example", "www.example.com", int64(80), int64(3), "mongodb", false, true)
	f.Fuzz(func(t *testing.T, p, a, sibling, db, owner, repo, branch, d1, d2 string, port, replicas int64, dbType string, pinned, raw bool) {
		renderApplication(t, appInput{
			p: nameish(p, raw), a: nameish(a, raw), sibling: nameish(sibling, raw), db: nameish(db, raw),
			owner: owner, repo: repo, branch: branch, d1: nameish(d1, raw), d2: nameish(d2, raw),
			port: port, replicas: replicas, dbType: dbType, pinned: pinned,
		})
	})
}

func FuzzDatabase(f *testing.F) {
	fuzzSetup(f)
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
		projectObjs := renderProject(t, p)
		if projectObjs == nil {
			return
		}
		project := keysOf(projectObjs)
		var m databaseModel
		model(t, NewDatabaseResource(), cfg, &m)
		spec, _ := m.spec()
		spec.Password.Mount = "idp"
		fuzzVault(&spec.Password, render.DatabasePasswordKey)
		objs, err := render.DatabaseObjects(spec)
		if err != nil {
			t.Fatalf("database %q of %q: %v", d, p, err)
		}
		t.Logf("rendered database %s/%s", p, d)
		noneShared(t, project, "database "+d, checkRendered(t, c, "database "+d, objs))
	})
}

func FuzzProject(f *testing.F) {
	fuzzSetup(f)
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
		fuzzVault(&spec.GitHubAccess, "username", "token")
		fuzzVault(&spec.Registry, "username", "password")
		spec.RegistryHost = "harbor.example.com:5000"
		objs, err := render.ProjectObjects(spec)
		if err != nil {
			t.Fatalf("project %q: %v", p, err)
		}
		t.Logf("rendered project %s", p)
		checkRendered(t, c, "project "+p, objs)
	})
}

// randomAppInput is a crude generator of inputs of the shapes users write
// (the validators decide which are valid): TestAccRenderDryRun's sample.
func randomAppInput(r *rand.Rand) appInput {
	word := func(minLen, maxLen int, alphabet string) string {
		b := make([]byte, minLen+r.IntN(maxLen-minLen+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	const lower, name = "abcdefghijklmnopqrstuvwxyz", "abcdefghijklmnopqrstuvwxyz0123456789-"
	n := func(maxLen int) string { return word(1, 1, lower) + word(0, maxLen-1, name) + word(1, 1, lower) }
	types := render.DatabaseTypeNames()
	return appInput{
		p: "fz" + n(20), a: n(12), sibling: n(12), db: n(20),
		owner: n(10), repo: n(10) + "." + n(5), branch: n(8) + "/" + n(8),
		d1: n(10) + "." + n(10) + ".test", d2: n(30) + ".test",
		port: 1 + r.Int64N(65535), replicas: r.Int64N(101), dbType: types[r.IntN(len(types))], pinned: r.IntN(2) == 0,
	}
}

// A sample of random valid models, sent to the stack's API server as a
// dry-run server-side apply through the engine: what objcheck accepts
// offline, the API server (with the real CRDs and admission) accepts too.
func TestAccRenderDryRun(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 and source .stack/env")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(engine.Options{Kubernetes: func() (*rest.Config, error) { return cfg, nil }})
	ctx := t.Context()
	r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12)) //nolint:gosec // test inputs
	const want = 5
	sent, models := 0, 0
	for tries := 0; models < want && tries < 50*want; tries++ {
		in := randomAppInput(r)
		rendered := renderApplication(t, in)
		if rendered == nil {
			continue
		}
		models++
		ns := rendered[0][0] // the project's Namespace, created for real
		if ns.GetKind() != "Namespace" {
			t.Fatalf("the project's first object is %s", objcheck.Key(ns))
		}
		if _, err := eng.Apply(ctx, ns); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = eng.Delete(context.Background(), engine.RefOf(ns)) })
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, objs := range rendered {
			for _, o := range objs {
				// The Namespace exists; a Workflow with generateName is
				// created, never applied (render.BuildWorkflow).
				if o.GetKind() == "Namespace" || o.GetName() == "" {
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := eng.DryRun(ctx, o)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("%+v: the API server refuses %s: %v", in, objcheck.Key(o), err)
					}
					sent++
				}()
			}
		}
		wg.Wait()
	}
	if models < want {
		t.Fatalf("only %d of the generated models were valid", models)
	}
	t.Logf("%d random valid models: %d objects accepted by a dry-run apply", models, sent)
}

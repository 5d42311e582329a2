package provider

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// These tests need no stack and no tofu: they send a configuration to the
// provider as tofu does at validate and plan time (ValidateResourceConfig)
// and check the error, its attribute and its message.

type invalid struct {
	name   string
	config map[string]any
	attr   string // the attribute the error is reported at
	err    string // a regexp over summary and detail
}

func TestValidateNames_project(t *testing.T) {
	for _, tc := range []invalid{
		// Argo Events runs the EventBus in StatefulSet eventbus-P-ci-eventbus-stan,
		// whose pods carry controller-revision-hash "<that>-<10 digits>".
		{"one over the EventBus limit", map[string]any{"name": strings.Repeat("p", render.MaxProjectName+1)}, "name", `length must be between 1 and 26`},
		{"digit first", map[string]any{"name": "1shop"}, "name", `must start with a letter: Argo Events names each application's webhook Service`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectInvalid(t, "idp_project", tc) })
	}
	expectValid(t, "idp_project", map[string]any{"name": strings.Repeat("p", render.MaxProjectName)})
}

func TestValidateNames_application(t *testing.T) {
	app := func(attrs map[string]any) map[string]any {
		c := map[string]any{
			"project": "shop", "name": "web", "port": 8080,
			"git": map[string]any{"owner": "myorg", "repo": "web", "branch": "main"},
		}
		for k, v := range attrs {
			c[k] = v
		}
		return c
	}
	git := func(branch, hash string) map[string]any {
		g := map[string]any{"owner": "myorg", "repo": "web", "branch": branch}
		if hash != "" {
			g["hash"] = hash
		}
		return map[string]any{"git": g}
	}
	for _, tc := range []invalid{
		{"project digit first", app(map[string]any{"project": "1shop"}), "project", `must start with a letter`},
		{"project too long", app(map[string]any{"project": strings.Repeat("p", 27), "name": "a"}), "project", `length must be between 1 and 26`},
		{"wildcard domain", app(map[string]any{"domains": []string{"*.example.com"}}), "domains",
			`Wildcard domains are not supported.*Host\(\) rule matches a host exactly.*www\.example\.com`},
		{"domains sharing a route", app(map[string]any{"domains": []string{"shop.example.com", "shop-example.com"}}), "domains",
			`Domains share a route name.*"shop-example\.com" and "shop\.example\.com" both make the IngressRoute shop-web-shop-example-com-route`},
		{"the project's GitHub secret", app(map[string]any{"name": "github-access"}), "name",
			`Name taken by a derived object.*Secret shop-github-access-secret would be the project's GitHub credentials`},
		{"a sibling's webhook secret", app(map[string]any{"name": "api-webhook"}), "name",
			`Secret shop-api-webhook-secret would be the webhook Secret of an application "api"`},
		{"branch with #", app(git("feat#1", "")), "git.branch", `"feat#1" contains "#".*kaniko's git context splits at '#'`},
		{"branch with {{", app(git("x{{workflow.name}}", "")), "git.branch", `contains "\{\{".*Argo Workflows`},
		{"branch with $(", app(git("$(GIT_PASSWORD)", "")), "git.branch", `contains "\$\(".*Kubernetes would expand it`},
		{"short hash", app(git("main", "4f1c3a9")), "git.hash", `must be a full 40-character lowercase hex commit hash`},
		{"upper-case hash", app(git("main", strings.Repeat("A", 40))), "git.hash", `full 40-character lowercase`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectInvalid(t, "idp_application", tc) })
	}
	expectValid(t, "idp_application", app(map[string]any{
		"domains": []string{"shop.example.com", "www.example.com"}, "git": git("release/1.2+x", strings.Repeat("a", 40))["git"],
	}))
}

func TestValidateNames_database(t *testing.T) {
	db := func(name string) map[string]any {
		return map[string]any{"project": "shop", "name": name, "type": "mysql", "version": "8.0", "size": "1Gi"}
	}
	for _, tc := range []invalid{
		{"the project's GitHub secret", db("github-access"), "name", `Secret shop-github-access-secret would be the project's GitHub credentials`},
		{"an application's webhook secret", db("api-webhook"), "name", `Secret shop-api-webhook-secret would be the webhook Secret of an application "api"`},
		{"project digit first", map[string]any{"project": "9shop", "name": "orders", "type": "mysql", "version": "8.0", "size": "1Gi"}, "project", `must start with a letter`},
	} {
		t.Run(tc.name, func(t *testing.T) { expectInvalid(t, "idp_database", tc) })
	}
	expectValid(t, "idp_database", db("orders"))
}

// vault.kv_mount as `vault secrets list` prints it ("idp/") names the same
// paths at plan (from the setting) as at apply (from the Vault client);
// before, idp_project's plan said "idp//shop-github-access" and apply failed
// with an inconsistent result.
func TestSettings_kvMountTrailingSlash(t *testing.T) {
	for _, tc := range []struct{ config, env string }{{config: "idp/"}, {env: "/idp/"}, {config: "team/idp/"}} {
		t.Setenv("IDP_VAULT_KV_MOUNT", tc.env)
		s := providerSchema()
		typ := s.Type().TerraformType(context.Background())
		vault := map[string]any{"kv_mount": nil}
		if tc.config != "" {
			vault["kv_mount"] = tc.config
		}
		cfg := tfsdk.Config{Schema: s, Raw: badInputValue(t, typ, map[string]any{"vault": vault})}
		c, diags := readConfig(context.Background(), cfg)
		if diags.HasError() {
			t.Fatal(diags)
		}
		got, _ := c.get("vault.kv_mount")
		if want := strings.Trim(tc.config+tc.env, "/"); got != want {
			t.Errorf("kv_mount %q (environment %q) reads %q, want %q", tc.config, tc.env, got, want)
		}
	}
}

func expectInvalid(t *testing.T, typeName string, tc invalid) {
	t.Helper()
	diags := validateResource(t, typeName, tc.config)
	re := regexp.MustCompile(`(?s)` + tc.err)
	for _, d := range diags {
		if d.Severity != tfprotov6.DiagnosticSeverityError {
			continue
		}
		at := ""
		if d.Attribute != nil {
			at = attrString(d.Attribute)
		}
		if re.MatchString(d.Summary + ": " + d.Detail) {
			if at != tc.attr {
				t.Errorf("error %q is at %q, want %q", d.Summary, at, tc.attr)
			}
			return
		}
	}
	t.Errorf("no error matching %q; got:", tc.err)
	for _, d := range diags {
		t.Errorf("  %s: %s", d.Summary, d.Detail)
	}
}

func expectValid(t *testing.T, typeName string, config map[string]any) {
	t.Helper()
	for _, d := range validateResource(t, typeName, config) {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			t.Errorf("valid %s rejected: %s: %s", typeName, d.Summary, d.Detail)
		}
	}
}

// validateResource is tofu's validate call for a resource configuration.
func validateResource(t *testing.T, typeName string, config map[string]any) []*tfprotov6.Diagnostic {
	t.Helper()
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	typ := schemas.ResourceSchemas[typeName].ValueType()
	dv, err := tfprotov6.NewDynamicValue(typ, badInputValue(t, typ, config))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: typeName, Config: &dv})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Diagnostics
}

func attrString(p *tftypes.AttributePath) string {
	var parts []string
	for _, s := range p.Steps() {
		if a, ok := s.(tftypes.AttributeName); ok {
			parts = append(parts, string(a))
		}
	}
	return strings.Join(parts, ".")
}

// Import writes the steps' deadlines back as a person would write them,
// and they read back as the same seconds.
func TestDurationValue(t *testing.T) {
	for seconds, want := range map[int64]string{1800: "30m", 600: "10m", 90: "90s", 7200: "2h", 45: "45s", 3660: "61m"} {
		got := durationValue(seconds)
		if got.ValueString() != want || durationSeconds(got) != seconds {
			t.Errorf("durationValue(%d) = %s (%d s), want %s", seconds, got, durationSeconds(got), want)
		}
	}
}

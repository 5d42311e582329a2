package provider

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Validators of single attributes, and the checks of ValidateConfig that compare several (names derived from
// several attributes are in validators_names.go).

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// nameValidators checks a name that objects are derived from; max keeps
// every derived name within Kubernetes' limits (see render/names.go).
func nameValidators(max int) []validator.String {
	return []validator.String{
		stringvalidator.LengthBetween(1, max),
		stringvalidator.RegexMatches(dnsLabel,
			"must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit"),
	}
}

// vaultPathValidator checks a KV v2 secret path relative to the mount.
type vaultPathValidator struct{}

var vaultPath = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

func (vaultPathValidator) Description(context.Context) string {
	return "a Vault KV v2 path relative to the mount: segments of letters, digits, '.', '_' and '-' separated by '/'"
}

func (v vaultPathValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v vaultPathValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	p := req.ConfigValue.ValueString()
	var problem string
	switch {
	case strings.HasPrefix(p, "data/") || strings.HasPrefix(p, "metadata/"):
		problem = "must not start with data/ or metadata/: give the path as `vault kv get -mount=M <path>` takes it"
	case !vaultPath.MatchString(p):
		problem = "must be " + v.Description(ctx)
	case strings.Contains("/"+p+"/", "/../") || strings.Contains("/"+p+"/", "/./"):
		problem = "must not contain . or .. segments"
	}
	if problem != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Vault path", fmt.Sprintf("%q %s.", p, problem))
	}
}

// labelsValidator checks Kubernetes label keys and values.
type labelsValidator struct{ annotations bool }

func (v labelsValidator) Description(context.Context) string {
	if v.annotations {
		return "keys must be valid Kubernetes annotation keys"
	}
	return "keys and values must be valid Kubernetes label keys and values"
}

func (v labelsValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v labelsValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for key, val := range req.ConfigValue.Elements() {
		p := req.Path.AtMapKey(key)
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			resp.Diagnostics.AddAttributeError(p, "Invalid key", fmt.Sprintf("%q: %s", key, strings.Join(errs, "; ")))
		}
		str, ok := val.(types.String)
		if v.annotations || !ok || str.IsUnknown() || str.IsNull() {
			continue
		}
		s := str.ValueString()
		if errs := validation.IsValidLabelValue(s); len(errs) > 0 {
			resp.Diagnostics.AddAttributeError(p, "Invalid label value", fmt.Sprintf("%q: %s", s, strings.Join(errs, "; ")))
		}
	}
}

// Provider settings that would otherwise pass every plan and break at
// apply (an image name, a client) are checked when the provider is
// configured; each error says what to give instead.

// checkKubeHost: client-go takes a URL, a host or host:port (https).
func checkKubeHost(v string) error {
	raw := v
	if !strings.Contains(v, "://") {
		raw = "https://" + v
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an API server address: give its URL, such as https://10.0.0.1:6443 (the server of a kubeconfig cluster)", v)
	}
	return nil
}

// checkPEM: client-go reads certificates and keys as PEM. The value is not
// repeated (a key is secret).
func checkPEM(v string) error {
	if b, _ := pem.Decode([]byte(v)); b != nil {
		return nil
	}
	hint := ""
	if _, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
		hint = " It looks base64-encoded, as a kubeconfig's *-data fields are: pass base64decode(...) of it."
	}
	return fmt.Errorf("the value is not PEM: give the PEM text, starting with a line such as -----BEGIN CERTIFICATE-----.%s", hint)
}

// checkVaultAddress: the Vault client takes http(s):// or unix:// (an
// agent's socket).
func checkVaultAddress(v string) error {
	u, err := url.Parse(v)
	switch {
	case err == nil && u.Scheme == "unix" && u.Path != "":
		return nil
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "":
		return fmt.Errorf("%q is not a Vault address: give its URL with scheme, such as https://vault.example.com:8200", v)
	}
	return nil
}

// registryHost is the domain part of an image reference: host[:port].
var registryHost = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$`)

// checkRegistryHost: image names are <host>/<project>/<P>-<A>:<sha>.
func checkRegistryHost(v string) error {
	if registryHost.MatchString(v) {
		return nil
	}
	host := v
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	fix := "give host[:port] only, such as harbor.example.com or 10.0.0.5:5000"
	if h, p, ok := strings.Cut(host, "/"); ok && registryHost.MatchString(h) {
		fix = fmt.Sprintf("give host = %q and put the path in registry.project (%q)", h, strings.Trim(p, "/"))
	} else if host != v && registryHost.MatchString(host) {
		fix = fmt.Sprintf("drop the scheme: host = %q", host)
	}
	return fmt.Errorf("%q is not a registry host (images are named <host>/<project>/<project>-<application>:<sha>): %s", v, fix)
}

// registryPath is the path of an image reference: lowercase components.
var registryPath = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

func checkRegistryProject(v string) error {
	if registryPath.MatchString(v) {
		return nil
	}
	return fmt.Errorf("%q is not a registry project: image paths take lowercase letters, digits and '.', '_' or '-' between them, "+
		"in components joined by '/', such as injunweb or team/apps", v)
}

// branchValidator applies git's ref-name rules to a branch name.
type branchValidator struct{}

func (branchValidator) Description(context.Context) string {
	return "a git branch name (no spaces, `..`, `~^:?*[\\`, leading `-` or `/`, trailing `/` or `.lock`)"
}

func (v branchValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

var badRef = regexp.MustCompile(`[\x00-\x20~^:?*\[\\\x7f]|\.\.|@\{|//|/\.|^[-/.]|[/.]$|\.lock$|\.lock/`)

func (v branchValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	b := req.ConfigValue.ValueString()
	if b == "" || b == "@" || badRef.MatchString(b) || strings.HasPrefix(b, "refs/") {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid branch",
			fmt.Sprintf("%s %q must be %s, without a refs/heads/ prefix.", req.Path, b, v.Description(ctx)))
		return
	}
	checkBranchUnsafe(req.Path, b, &resp.Diagnostics)
}

// storageClassValidator checks a StorageClass name (a DNS-1123
// subdomain), or "" for no class.
type storageClassValidator struct{}

func (storageClassValidator) Description(context.Context) string {
	return `a StorageClass name (a DNS-1123 subdomain), or "" for no class`
}

func (v storageClassValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v storageClassValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || req.ConfigValue.ValueString() == "" {
		return
	}
	if errs := validation.IsDNS1123Subdomain(req.ConfigValue.ValueString()); len(errs) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid storage class",
			fmt.Sprintf("%q must be %s: %s.", req.ConfigValue.ValueString(), v.Description(ctx), strings.Join(errs, "; ")))
	}
}

// quantityValidator checks a positive Kubernetes quantity.
type quantityValidator struct{}

func (quantityValidator) Description(context.Context) string {
	return "a positive Kubernetes quantity, such as 512Mi or 5Gi"
}

func (v quantityValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v quantityValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	q, err := k8sresource.ParseQuantity(s)
	if err != nil || q.Sign() <= 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid size", fmt.Sprintf("%q must be %s.", s, v.Description(ctx)))
	}
}

// durationValidator accepts a Go duration ("90s", "10m") within [min, max].
type durationValidator struct{ min, max time.Duration }

func (v durationValidator) Description(context.Context) string {
	return fmt.Sprintf("a duration such as \"90s\" or \"10m\", from %s to %s", v.min, v.max)
}

func (v durationValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v durationValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	d, err := time.ParseDuration(req.ConfigValue.ValueString())
	if err != nil || d < v.min || d > v.max {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid duration",
			fmt.Sprintf("%q must be %s.", req.ConfigValue.ValueString(), v.Description(ctx)))
	}
}

// Patterns of single attributes (stringvalidator.RegexMatches).
var (
	startsWithLetter = regexp.MustCompile(`^[a-z]`)
	databaseVersion  = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	githubOwner      = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9]|-[A-Za-z0-9]){0,38}$`)
	githubRepo       = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	// A domain as Traefik's Host() matcher takes it: RFC 1123 labels. A
	// leading "*." passes here so that wildcardDomainValidator says why not.
	domainName = regexp.MustCompile(`^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// checkDatabaseLinks: an application uses its own project's databases.
// (Their variable prefixes cannot collide: database names have no "_".)
func checkDatabaseLinks(ctx context.Context, project string, v types.Set, diags *diag.Diagnostics) {
	for _, db := range databaseLinks(ctx, v, diags) {
		if db.Project.IsNull() || db.Name.IsNull() || db.Type.IsNull() || db.Port.IsNull() {
			diags.AddAttributeError(path.Root("databases"), "Incomplete database",
				"each database needs project, name, type and port: give the resource itself, as in databases = [idp_database.orders].")
			continue
		}
		if db.Project.IsUnknown() || db.Name.IsUnknown() {
			continue
		}
		if render.DatabaseEnvPrefix(db.Name.ValueString()) == "KUBERNETES" {
			diags.AddAttributeError(path.Root("databases"), "Database name taken by Kubernetes",
				"every pod has KUBERNETES_PORT and KUBERNETES_SERVICE_HOST for the API server, which would overwrite this "+
					"database's variables; give the database another name.")
		}
		if db.Project.ValueString() != project {
			diags.AddAttributeError(path.Root("databases"), "Database of another project",
				fmt.Sprintf("database %s is in project %s; an application can use only its own project's databases (%s).",
					db.Name.ValueString(), db.Project.ValueString(), project))
		}
	}
}

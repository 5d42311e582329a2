package provider

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// setting is one provider attribute. The schema, its documentation, the
// environment fallback and the "not set" errors are all built from this one
// list, so they cannot disagree.
type setting struct {
	Block       string // "" for a top-level attribute
	Name        string
	Env         []string // first set wins
	Description string
	Sensitive   bool
	Bool        bool
	// List settings are lists of strings in HCL and comma-separated in
	// the environment; their value is the comma-joined list.
	List    bool
	Default string // when neither configuration nor environment sets it
	// Validate, when set, checks a known value when the provider is
	// configured, so a malformed one fails every plan at its attribute.
	Validate func(string) error
	// Normalize, when set, rewrites a value to the one form every reader
	// (plan and apply alike) sees.
	Normalize func(string) string
}

func (s setting) key() string {
	if s.Block == "" {
		return s.Name
	}
	return s.Block + "." + s.Name
}

func (s setting) path() path.Path {
	if s.Block == "" {
		return path.Root(s.Name)
	}
	return path.Root(s.Block).AtName(s.Name)
}

var settings = []setting{
	{Block: "kubernetes", Name: "config_path", Env: []string{"KUBE_CONFIG_PATH", "KUBECONFIG"},
		Description: "Path to a kubeconfig file. KUBECONFIG may list several files separated by `:`."},
	{Block: "kubernetes", Name: "config_context", Env: []string{"KUBE_CTX"},
		Description: "Context of the kubeconfig to use instead of its current context."},
	{Block: "kubernetes", Name: "host", Env: []string{"KUBE_HOST"},
		Description: "Kubernetes API server URL, e.g. `https://10.0.0.1:6443`. Overrides the kubeconfig's server.",
		Validate:    checkKubeHost},
	{Block: "kubernetes", Name: "token", Env: []string{"KUBE_TOKEN"}, Sensitive: true,
		Description: "Bearer token for the API server."},
	{Block: "kubernetes", Name: "cluster_ca_certificate", Env: []string{"KUBE_CLUSTER_CA_CERT_DATA"},
		Description: "PEM-encoded CA certificate of the API server.", Validate: checkPEM},
	{Block: "kubernetes", Name: "client_certificate", Env: []string{"KUBE_CLIENT_CERT_DATA"},
		Description: "PEM-encoded client certificate for TLS authentication.", Validate: checkPEM},
	{Block: "kubernetes", Name: "client_key", Env: []string{"KUBE_CLIENT_KEY_DATA"}, Sensitive: true,
		Description: "PEM-encoded client key for TLS authentication.", Validate: checkPEM},
	{Block: "kubernetes", Name: "insecure", Env: []string{"KUBE_INSECURE"}, Bool: true,
		Description: "Skip verification of the API server's certificate. Only for throwaway clusters."},

	{Block: "vault", Name: "address", Env: []string{"VAULT_ADDR"},
		Description: "Vault server URL, e.g. `https://vault.example.com:8200`.",
		Validate:    checkVaultAddress},
	{Block: "vault", Name: "token", Env: []string{"VAULT_TOKEN"}, Sensitive: true,
		Description: "Vault token with read/write access to the KV v2 mount."},
	{Block: "vault", Name: "kv_mount", Env: []string{"IDP_VAULT_KV_MOUNT"},
		Description: "Path of the KV v2 secrets engine holding project secrets (the contract's `M`), e.g. `injunweb`. " +
			"Leading and trailing `/` are ignored (`vault secrets list` prints `injunweb/`).",
		// Plans and applies must name the same paths ("M/P-github-access").
		Normalize: func(v string) string { return strings.Trim(v, "/") }},
	{Block: "vault", Name: "namespace", Env: []string{"VAULT_NAMESPACE"},
		Description: "Vault Enterprise namespace."},

	{Block: "github", Name: "token", Env: []string{"GITHUB_TOKEN"}, Sensitive: true,
		Description: "GitHub token. With one, plans check each new or changed application's repository, branch " +
			"and webhook permission, and creates start a first build. Without one plans never contact GitHub (applies " +
			"still keep webhooks signed with the project's token, see `sync_hooks`). " +
			"The plan-time check uses the token CI will use, the `token` of the project's Vault secret " +
			"`<kv_mount>/<project>-github-access`, and this token only while Vault holds no such secret (for example " +
			"with a custom `github_access_vault_path`). It is skipped while any of these is unknown, and gives up after 15 seconds."},
	{Block: "github", Name: "base_url", Env: []string{"GITHUB_BASE_URL"},
		Description: "GitHub Enterprise server URL, e.g. `https://github.example.com/` (or its API, `.../api/v3/`). " +
			"Defaults to github.com. The provider's checks, the EventSources' webhook registration and the builds' " +
			"clones all use this server.",
		Validate: func(v string) error { _, err := render.ParseGitHubBaseURL(v); return err }},
	{Block: "github", Name: "sync_hooks", Env: []string{"IDP_GITHUB_SYNC_HOOKS"}, Bool: true, Default: "true",
		Description: "Whether applies keep each application's push webhook signed with the secret in Vault and, with " +
			"`wait_for_ci`, check that its EventSource registered it and that it is active; destroys remove it. These calls use " +
			"the token CI uses (the `token` of `<kv_mount>/<project>-github-access`), or `token` when Vault holds none; " +
			"without either they are skipped with a warning. Argo Events reuses a hook it finds with the same URL as it is, " +
			"so without this an imported project's hooks (the old chart's have no secret) and every `webhook_secret_rotation` " +
			"make GitHub's pushes fail their signature check. Turn it off only where tofu cannot reach GitHub (the apply " +
			"would fail at `git` otherwise); hooks then have to be fixed by hand.",
		Validate: checkBool},

	{Name: "wait_for_ci", Env: []string{"IDP_WAIT_FOR_CI"}, Bool: true, Default: "true",
		Description: "Whether an application's apply waits, at most 2 minutes and within its `timeouts`, until its CI " +
			"listens: the Sensor's pod is ready (before the EventSource starts, so no push goes unheard), then the " +
			"EventSource's, then (with `github.sync_hooks`) GitHub has its push webhook, active. It fails naming what is " +
			"missing. A ready application passes at once. Turn it off only while the Argo Events controller is not " +
			"running yet, e.g. in a cluster that an app-of-apps installs after tofu has run.",
		Validate: checkBool},

	{Block: "registry", Name: "host", Env: []string{"IDP_REGISTRY_HOST"},
		Description: "Container registry host that CI pushes images to (the contract's `R`), e.g. `harbor.example.com`.",
		Validate:    checkRegistryHost},
	{Block: "registry", Name: "project", Env: []string{"IDP_REGISTRY_PROJECT"},
		Description: "Registry project or path under the host (the contract's `RP`), e.g. `injunweb`.",
		Validate:    checkRegistryProject},

	{Name: "webhook_base_url", Env: []string{"IDP_WEBHOOK_BASE_URL"},
		Description: "Public base URL that GitHub posts push webhooks to, e.g. `https://webhook.example.com`: " +
			"Traefik's `web` and `websecure` entry points must receive it. No path: each application's webhook " +
			"route matches its host and the path `/<project>-<application>`.",
		Validate: func(v string) error { _, err := render.WebhookHost(v); return err }},

	{Block: "isolation", Name: "allowed_namespaces", Env: []string{"IDP_ISOLATION_ALLOWED_NAMESPACES"}, List: true,
		Default: "argo-events,kube-system,traefik",
		Description: "Namespaces whose pods may reach the pods of every project with `isolation` on: where the ingress " +
			"controller (which also carries GitHub's webhooks to the EventSources) and Argo Events' controller run. " +
			"The default admits Argo Events, the Traefik Helm chart's namespace and `kube-system` (where k3s and RKE2 run " +
			"their ingress controller; it is cluster-admin territory). A project's own `allowed_namespaces` add to these.",
		Validate: eachListItem(func(v string) error {
			if !dnsLabel.MatchString(v) || len(v) > 63 {
				return fmt.Errorf("%q is not a namespace name (a DNS-1123 label)", v)
			}
			return nil
		})},
	{Block: "isolation", Name: "allowed_cidrs", Env: []string{"IDP_ISOLATION_ALLOWED_CIDRS"}, List: true,
		Description: "Source address ranges (CIDR) that may reach the pods of every project with `isolation` on: for an " +
			"ingress controller that is not a pod in `allowed_namespaces`, such as one on the host network (its " +
			"nodes' addresses: NetworkPolicy namespace selectors never match host-network pods) or outside the cluster, " +
			"e.g. `[\"10.0.0.0/24\"]`. Default none.",
		Validate: eachListItem(func(v string) error {
			if _, _, err := net.ParseCIDR(v); err != nil {
				return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/24", v)
			}
			return nil
		})},
}

func checkBool(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("%q is not a boolean (true or false)", v)
	}
	return nil
}

// enabled reports whether a Bool setting is on. Validate has checked the
// value; an unknown one (needed only at apply, when all are known) is off.
func (c config) enabled(key string) bool {
	b, _ := strconv.ParseBool(c[key].val)
	return b
}

// eachListItem validates every item of a List setting's value.
func eachListItem(f func(string) error) func(string) error {
	return func(v string) error {
		for _, item := range splitList(v) {
			if err := f(item); err != nil {
				return err
			}
		}
		return nil
	}
}

// splitList returns a List setting's items (trimmed, empty ones dropped).
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

var blockDescriptions = map[string]string{
	"kubernetes": "How to reach the Kubernetes API. Without any setting the provider uses its in-cluster service account.",
	"vault":      "How to reach HashiCorp Vault, where project, application and database secrets live (KV v2).",
	"github":     "GitHub API access (optional).",
	"registry":   "Container registry that CI builds push to and clusters pull from.",
	"isolation": "Where traffic into isolated projects comes from. Each `idp_project` with `isolation` on gets a " +
		"NetworkPolicy that admits its own pods, these namespaces and these address ranges, and nothing else.",
}

// providerSchema builds the schema from settings.
func providerSchema() schema.Schema {
	s := schema.Schema{
		MarkdownDescription: "Plans and applies whole projects (namespace, CI, applications, databases, secrets) " +
			"directly against Kubernetes and Vault. Every setting may be unknown at plan time and falls back " +
			"to the environment variable named in its description.",
		Attributes: map[string]schema.Attribute{},
		Blocks:     map[string]schema.Block{},
	}
	for _, st := range settings {
		attrs := s.Attributes
		if st.Block != "" {
			b, ok := s.Blocks[st.Block].(schema.SingleNestedBlock)
			if !ok {
				b = schema.SingleNestedBlock{MarkdownDescription: blockDescriptions[st.Block], Attributes: map[string]schema.Attribute{}}
			}
			attrs = b.Attributes
			s.Blocks[st.Block] = b
		}
		desc := st.Description + " Environment: " + envList(st.Env) + "."
		if st.List {
			desc = st.Description + " Environment: " + envList(st.Env) + ", comma-separated."
		}
		if st.Default != "" {
			desc += " Default: `" + strings.Join(splitList(st.Default), "`, `") + "`."
		}
		switch {
		case st.Bool:
			attrs[st.Name] = schema.BoolAttribute{Optional: true, MarkdownDescription: desc}
		case st.List:
			attrs[st.Name] = schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: desc}
		default:
			attrs[st.Name] = schema.StringAttribute{Optional: true, Sensitive: st.Sensitive, MarkdownDescription: desc}
		}
	}
	return s
}

func envList(env []string) string {
	q := make([]string, len(env))
	for i, e := range env {
		q[i] = "`" + e + "`"
	}
	return strings.Join(q, " or ")
}

// value is a resolved setting: from configuration, else from the
// environment. unknown means configuration will only know it during apply.
type value struct {
	val     string
	unknown bool
}

// config holds every resolved setting by key ("vault.address").
type config map[string]value

// readConfig resolves every setting without contacting anything.
func readConfig(ctx context.Context, cfg tfsdk.Config) (config, diag.Diagnostics) {
	var diags diag.Diagnostics
	out := config{}
	for _, st := range settings {
		v := value{}
		configured := false // a List set in configuration, even to []
		if st.Bool {
			var b types.Bool
			diags.Append(cfg.GetAttribute(ctx, st.path(), &b)...)
			v.unknown = b.IsUnknown()
			if !b.IsNull() && !b.IsUnknown() {
				v.val = strconv.FormatBool(b.ValueBool())
			}
		} else if st.List {
			var l types.List
			diags.Append(cfg.GetAttribute(ctx, st.path(), &l)...)
			v.unknown, configured = l.IsUnknown(), !l.IsNull() && !l.IsUnknown()
			if configured {
				var items []types.String
				diags.Append(l.ElementsAs(ctx, &items, false)...)
				vals := make([]string, 0, len(items))
				for _, it := range items {
					v.unknown = v.unknown || it.IsUnknown()
					vals = append(vals, it.ValueString())
				}
				v.val = strings.Join(vals, ",")
			}
		} else {
			var s types.String
			diags.Append(cfg.GetAttribute(ctx, st.path(), &s)...)
			v.unknown = s.IsUnknown()
			v.val = s.ValueString()
		}
		from := "configuration"
		if v.val == "" && !v.unknown && !configured {
			for _, e := range st.Env {
				if ev := os.Getenv(e); ev != "" {
					v.val, from = ev, "environment variable "+e
					break
				}
			}
		}
		if v.val == "" && !v.unknown && !configured && st.Default != "" {
			v.val, from = st.Default, "default"
		}
		if st.List && !v.unknown {
			v.val = strings.Join(splitList(v.val), ",")
		}
		if st.Normalize != nil && !v.unknown {
			v.val = st.Normalize(v.val)
		}
		if st.Validate != nil && v.val != "" && !v.unknown {
			if err := st.Validate(v.val); err != nil {
				diags.AddAttributeError(st.path(), "Invalid provider setting "+st.key(), fmt.Sprintf("From the %s: %v", from, err))
			}
		}
		out[st.key()] = v
	}
	return out, diags
}

// providerSettings are the settings resources read, typed and resolved once
// in Configure (newProviderData): each is read here and nowhere else. The
// Kubernetes and Vault connection settings go to the engine's clients.
type providerSettings struct {
	KVMount, GitHubBaseURL, RegistryHost, RegistryProject, WebhookBaseURL resolved
	IsolationNamespaces, IsolationCIDRs                                   resolved // comma-joined lists
	// GitHubTokenUnknown: the provider's GitHub token is known only at apply.
	GitHubTokenUnknown bool
	// VaultUnknown: a setting a Vault client needs is known only at apply.
	VaultUnknown bool
	// VaultConfigured: address, token and kv_mount are all set.
	VaultConfigured bool
	SyncHooks       bool // github.sync_hooks
	WaitForCI       bool // wait_for_ci
}

// resolved is one setting's value with its key, for errors that name it.
type resolved struct {
	key string
	value
}

func (r resolved) get() (string, error) { return config{r.key: r.value}.get(r.key) }

func (r resolved) require() (string, error) { return config{r.key: r.value}.require(r.key) }

func newProviderSettings(c config) providerSettings {
	at := func(key string) resolved { return resolved{key: key, value: c[key]} }
	return providerSettings{
		KVMount: at("vault.kv_mount"), GitHubBaseURL: at("github.base_url"),
		RegistryHost: at("registry.host"), RegistryProject: at("registry.project"), WebhookBaseURL: at("webhook_base_url"),
		IsolationNamespaces: at("isolation.allowed_namespaces"), IsolationCIDRs: at("isolation.allowed_cidrs"),
		GitHubTokenUnknown: c["github.token"].unknown,
		VaultUnknown:       c["vault.address"].unknown || c["vault.token"].unknown || c["vault.kv_mount"].unknown || c["vault.namespace"].unknown,
		VaultConfigured:    c["vault.address"].val != "" && c["vault.token"].val != "" && c["vault.kv_mount"].val != "",
		SyncHooks:          c.enabled("github.sync_hooks"),
		WaitForCI:          c.enabled("wait_for_ci"),
	}
}

// get returns a setting's value ("" when unset). It fails only when the
// value is unknown, which happens when a resource needs it during plan.
func (c config) get(key string) (string, error) {
	v := c[key]
	if v.unknown {
		return "", fmt.Errorf("provider setting %s is not known until apply (it depends on another resource), "+
			"but it is needed now; apply the resources it depends on first (for example with -target)", key)
	}
	return v.val, nil
}

// require is get for settings that must be set.
func (c config) require(key string) (string, error) {
	v, err := c.get(key)
	if err != nil || v != "" {
		return v, err
	}
	st := settingByKey(key)
	return "", fmt.Errorf("provider setting %s is not set: set %s in the provider \"idp\" configuration or the %s environment variable",
		key, attrSyntax(st), envList(st.Env))
}

func attrSyntax(st setting) string {
	if st.Block == "" {
		return st.Name
	}
	return fmt.Sprintf("%s { %s = ... }", st.Block, st.Name)
}

func settingByKey(key string) setting {
	for _, st := range settings {
		if st.key() == key {
			return st
		}
	}
	panic("unknown provider setting " + key)
}

// faultSpec is the fault point the fault suite armed (IDP_FAULT, see
// engine/fault.go). It is not a provider setting: users never set it, and a
// binary without fault points (no -tags idpfault: every release) does not
// read it, so a stray one changes nothing.
func faultSpec() string {
	if !engine.FaultPoints {
		return ""
	}
	return os.Getenv("IDP_FAULT")
}

// cpuProfilePath is where a provider process writes its CPU profile
// (IDP_CPU_PROFILE, suffixed with the process id; see StartProfile). Not a
// provider setting: make bench and people profiling set it.
func cpuProfilePath() string { return os.Getenv("IDP_CPU_PROFILE") }

// QuietUnreadLogs turns this process's logs off when nothing will read
// them. Tofu shows or writes a provider's logs only with TF_LOG,
// TF_LOG_PROVIDER or TF_LOG_PATH set (TF_ACC_LOG in tests), and the
// provider inherits tofu's environment; without any of them the plugin
// SDK still formats its trace lines (its default level, several per
// attribute and call) for tofu to parse and drop: a quarter of the
// provider's CPU in a plan. Any TF_LOG* variable leaves every level as
// the SDK sets it. main calls it, before serving; in-process tests do not.
func QuietUnreadLogs() {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TF_LOG") || strings.HasPrefix(kv, "TF_ACC_LOG") {
			return
		}
	}
	// The levels the SDK reads at start: its own, its protocol and
	// framework subsystems', and this provider's (TF_LOG_PROVIDER_<NAME>).
	for _, name := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_IDP"} {
		_ = os.Setenv(name, "off")
	}
}

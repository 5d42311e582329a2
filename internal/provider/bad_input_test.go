package provider

import (
	"context"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// The bad-input suite: invalid configurations of every resource, the data
// source, the ephemeral resource and the provider block. Each must be
// rejected before anything is contacted, at its attribute, with a message
// that says what to give instead. TestBadInput runs them without a stack or
// tofu, through the provider's protocol server as tofu calls it when it
// validates and plans (Validate*Config, then ConfigureProvider for the
// provider block); TestAccBadInput (bad_input_acc_test.go) runs the same set
// through tofu against the stack and shows that no plan wrote anything.

// BadInput is one invalid configuration.
type BadInput struct {
	// Kind is a resource type ("idp_project"), "data.idp_application",
	// "ephemeral.idp_database_credentials" or "provider".
	Kind   string
	Name   string
	Config map[string]any // attribute values; nested maps are objects or blocks
	Attr   string         // the attribute path the error is reported at
	Err    string         // a regexp over summary and detail (spaces match any whitespace)
	// AtPlan: rejected by the resource's plan (ModifyPlan, which knows the
	// provider's settings), not by validation.
	AtPlan bool
}

// The valid configurations each case changes one thing of.
func validProject() map[string]any { return map[string]any{"name": "shop"} }

func validApplication() map[string]any {
	return map[string]any{
		"project": "shop", "name": "web", "port": 8080,
		"git": map[string]any{"owner": "myorg", "repo": "web", "branch": "main"},
	}
}

func validDatabase() map[string]any {
	return map[string]any{"project": "shop", "name": "orders", "type": "mysql", "version": "8.0", "size": "1Gi"}
}

func validDataApplication() map[string]any  { return map[string]any{"project": "shop", "name": "web"} }
func validCredentials() map[string]any      { return map[string]any{"project": "shop", "name": "orders"} }
func validProviderSettings() map[string]any { return map[string]any{} }

// with returns base with attrs set; a dotted key sets a nested attribute.
func with(base map[string]any, attrs map[string]any) map[string]any {
	for k, v := range attrs {
		m := base
		parts := strings.Split(k, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
			}
			cp := map[string]any{}
			for k2, v2 := range next {
				cp[k2] = v2
			}
			m[p] = cp
			m = cp
		}
		m[parts[len(parts)-1]] = v
	}
	return base
}

// BadInputs is the whole set.
func BadInputs() []BadInput {
	long := func(n int) string { return strings.Repeat("a", n) }
	var out []BadInput
	add := func(kind string, base func() map[string]any, cases ...BadInput) {
		for _, c := range cases {
			c.Kind = kind
			c.Config = with(base(), c.Config)
			out = append(out, c)
		}
	}
	sha := strings.Repeat("a", 40)

	add("idp_project", validProject,
		BadInput{Name: "name upper case and underscore", Config: map[string]any{"name": "Shop_1"}, Attr: "name",
			Err: `must be a DNS-1123 label: lowercase letters, digits and '-'`},
		BadInput{Name: "name starts with a digit", Config: map[string]any{"name": "1shop"}, Attr: "name",
			Err: `must start with a letter: Argo Events names`},
		BadInput{Name: "name over the EventBus limit", Config: map[string]any{"name": long(render.MaxProjectName + 1)}, Attr: "name",
			Err: fmt.Sprintf(`length must be between 1 and %d`, render.MaxProjectName)},
		BadInput{Name: "name empty", Config: map[string]any{"name": ""}, Attr: "name", Err: `length must be between 1 and`},
		BadInput{Name: "name ends with a dash", Config: map[string]any{"name": "shop-"}, Attr: "name",
			Err: `starting and ending with a letter or digit`},
		BadInput{Name: "name kube-system", Config: map[string]any{"name": "kube-system"}, Attr: "name",
			Err: `Namespace of the cluster.*"kube-system" is a namespace the cluster owns.*Choose another name`},
		BadInput{Name: "name kube-public", Config: map[string]any{"name": "kube-public"}, Attr: "name",
			Err: `Namespace of the cluster.*"kube-public" is a namespace the cluster owns`},
		BadInput{Name: "name default", Config: map[string]any{"name": "default"}, Attr: "name",
			Err: `Namespace of the cluster.*"default" is a namespace the cluster owns`},
		BadInput{Name: "name of a platform namespace", Config: map[string]any{"name": "argo-events"}, Attr: "name", AtPlan: true,
			Err: `Namespace of the platform.*"argo-events" is one of the platform's namespaces \(the provider's isolation\.allowed_namespaces`},
		BadInput{Name: "eventbus_replicas below 3", Config: map[string]any{"eventbus_replicas": 1}, Attr: "eventbus_replicas",
			Err: `value must be between 3 and 9, got: 1`},
		BadInput{Name: "eventbus_replicas above 9", Config: map[string]any{"eventbus_replicas": 10}, Attr: "eventbus_replicas",
			Err: `value must be between 3 and 9, got: 10`},
		BadInput{Name: "eventbus_type stan", Config: map[string]any{"eventbus_type": "stan"}, Attr: "eventbus_type",
			Err: `value must be one of: \["jetstream" "nats"\], got: "stan"`},
		BadInput{Name: "eventbus_volume_size not a quantity", Config: map[string]any{"eventbus_volume_size": "1 GB"}, Attr: "eventbus_volume_size",
			Err: `quantity`},
		BadInput{Name: "label key with a space", Config: map[string]any{"labels": map[string]string{"bad key!": "x"}}, Attr: "labels",
			Err: `Invalid key.*"bad key!": name part must consist of alphanumeric characters`},
		BadInput{Name: "label value with a space", Config: map[string]any{"labels": map[string]string{"team": "a b"}}, Attr: "labels",
			Err: `Invalid label value.*"a b": a valid label must be an empty string or consist of alphanumeric characters`},
		BadInput{Name: "label value too long", Config: map[string]any{"labels": map[string]string{"team": long(64)}}, Attr: "labels",
			Err: `Invalid label value.*must be no more than 63 characters`},
		BadInput{Name: "annotation key with two slashes", Config: map[string]any{"annotations": map[string]string{"a/b/c": "x"}}, Attr: "annotations",
			Err: `Invalid key.*"a/b/c": a qualified name must consist of alphanumeric characters`},
		BadInput{Name: "allowed namespace upper case", Config: map[string]any{"allowed_namespaces": []string{"Monitoring"}}, Attr: "allowed_namespaces",
			Err: `must be a DNS-1123 label: lowercase letters`},
		BadInput{Name: "github_access_vault_path with data/", Config: map[string]any{"github_access_vault_path": "data/shop-github"}, Attr: "github_access_vault_path",
			Err: `Invalid Vault path.*must not start with data/ or metadata/: give the path as .vault kv get -mount=M <path>. takes it`},
		BadInput{Name: "github_access_vault_path with a space", Config: map[string]any{"github_access_vault_path": "shop github"}, Attr: "github_access_vault_path",
			Err: `Invalid Vault path.*must be a Vault KV v2 path relative to the mount: segments of letters`},
		BadInput{Name: "registry_vault_path with ..", Config: map[string]any{"registry_vault_path": "shop/../other"}, Attr: "registry_vault_path",
			Err: `Invalid Vault path.*must not contain . or .. segments`},
		BadInput{Name: "registry_vault_path with a leading /", Config: map[string]any{"registry_vault_path": "/shop-registry"}, Attr: "registry_vault_path",
			Err: `Invalid Vault path.*segments of letters, digits, '\.', '_' and '-' separated by '/'`},
		BadInput{Name: "timeouts.create not a duration", Config: map[string]any{"timeouts": map[string]any{"create": "ten minutes"}}, Attr: "timeouts.create",
			Err: `must be a string containing a sequence of decimal numbers.*such as "300ms"`},
	)

	add("idp_application", validApplication,
		BadInput{Name: "project starts with a digit", Config: map[string]any{"project": "1shop"}, Attr: "project", Err: `must start with a letter`},
		BadInput{Name: "project too long", Config: map[string]any{"project": long(render.MaxProjectName + 1)}, Attr: "project",
			Err: fmt.Sprintf(`length must be between 1 and %d`, render.MaxProjectName)},
		BadInput{Name: "name upper case", Config: map[string]any{"name": "Web"}, Attr: "name", Err: `must be a DNS-1123 label`},
		BadInput{Name: "name starts with a digit", Config: map[string]any{"name": "1web"}, Attr: "name",
			Err: `must start with a letter \(it names a Service\)`},
		BadInput{Name: "project and name too long", Config: map[string]any{"project": long(20), "name": long(10)}, Attr: "name",
			Err: fmt.Sprintf(`Name too long.*at most %d keep the EventSource's Service name`, render.MaxProjectAndApplication)},
		BadInput{Name: "name of the project's GitHub secret", Config: map[string]any{"name": "github-access"}, Attr: "name",
			Err: `Name taken by a derived object.*Choose another name`},
		BadInput{Name: "name of a webhook secret", Config: map[string]any{"name": "api-webhook"}, Attr: "name",
			Err: `webhook Secret of an application "api".*Choose another name`},
		BadInput{Name: "git.type gitlab", Config: map[string]any{"git.type": "gitlab"}, Attr: "git.type", Err: `value must be one of: \["github"\]`},
		BadInput{Name: "git.owner leading dash", Config: map[string]any{"git.owner": "-myorg"}, Attr: "git.owner",
			Err: `must be a GitHub user or organisation name, got: -myorg`},
		BadInput{Name: "git.owner a URL", Config: map[string]any{"git.owner": "https://github.com/myorg"}, Attr: "git.owner",
			Err: `must be a GitHub user or organisation name`},
		BadInput{Name: "git.repo a URL", Config: map[string]any{"git.repo": "github.com/myorg/web"}, Attr: "git.repo",
			Err: `Invalid repository.*only the repository's name, not its URL`},
		BadInput{Name: "git.repo with .git", Config: map[string]any{"git.repo": "web.git"}, Attr: "git.repo",
			Err: `Invalid repository.*"web\.git" ends in \.git.*give repo = "web"`},
		BadInput{Name: "git.repo ..", Config: map[string]any{"git.repo": ".."}, Attr: "git.repo", Err: `Invalid repository.*must be a GitHub repository name`},
		BadInput{Name: "git.branch with ..", Config: map[string]any{"git.branch": "feat..x"}, Attr: "git.branch",
			Err: `Invalid branch.*"feat\.\.x" must be a git branch name`},
		BadInput{Name: "git.branch with refs/heads/", Config: map[string]any{"git.branch": "refs/heads/main"}, Attr: "git.branch",
			Err: `Invalid branch.*without a refs/heads/ prefix`},
		BadInput{Name: "git.branch with #", Config: map[string]any{"git.branch": "feat#1"}, Attr: "git.branch",
			Err: `contains "#".*Rename the branch, or build another one`},
		BadInput{Name: "git.branch with {{", Config: map[string]any{"git.branch": "x{{workflow.name}}"}, Attr: "git.branch",
			Err: `contains "\{\{".*Rename the branch`},
		BadInput{Name: "git.branch with $(", Config: map[string]any{"git.branch": "$(GIT_PASSWORD)"}, Attr: "git.branch",
			Err: `contains "\$\(".*Rename the branch`},
		BadInput{Name: "git.hash short", Config: map[string]any{"git.hash": "4f1c3a9"}, Attr: "git.hash",
			Err: `must be a full 40-character lowercase hex commit hash.*git rev-parse <short>. gives it`},
		BadInput{Name: "git.hash upper case", Config: map[string]any{"git.hash": strings.ToUpper(sha)}, Attr: "git.hash",
			Err: `full 40-character lowercase hex`},
		BadInput{Name: "port 0", Config: map[string]any{"port": 0}, Attr: "port", Err: `value must be between 1 and 65535, got: 0`},
		BadInput{Name: "port 70000", Config: map[string]any{"port": 70000}, Attr: "port", Err: `value must be between 1 and 65535, got: 70000`},
		BadInput{Name: "replicas negative", Config: map[string]any{"replicas": -1}, Attr: "replicas", Err: `value must be between 0 and 100, got: -1`},
		BadInput{Name: "replicas 101", Config: map[string]any{"replicas": 101}, Attr: "replicas", Err: `value must be between 0 and 100`},
		BadInput{Name: "domain upper case", Config: map[string]any{"domains": []string{"Shop.example.com"}}, Attr: "domains",
			Err: `must be a lowercase DNS name \(RFC 1123\)`},
		BadInput{Name: "domain with a scheme", Config: map[string]any{"domains": []string{"https://shop.example.com"}}, Attr: "domains",
			Err: `must be a lowercase DNS name`},
		BadInput{Name: "domain wildcard", Config: map[string]any{"domains": []string{"*.example.com"}}, Attr: "domains",
			Err: `Wildcard domains are not supported.*List each host instead \(e\.g\. "www\.example\.com"\)`},
		BadInput{Name: "domains sharing a route", Config: map[string]any{"domains": []string{"shop.example.com", "shop-example.com"}}, Attr: "domains",
			Err: `Domains share a route name.*Keep one of them`},
		BadInput{Name: "domain too long", Config: map[string]any{"domains": []string{strings.Repeat("a.", 130) + "com"}}, Attr: "domains",
			Err: `string length must be at most 253`},
		BadInput{Name: "app_secret_vault_path with metadata/", Config: map[string]any{"app_secret_vault_path": "metadata/shop-web"}, Attr: "app_secret_vault_path",
			Err: `Invalid Vault path.*must not start with data/ or metadata/`},
		BadInput{Name: "rollout_timeout not a duration", Config: map[string]any{"rollout_timeout": "10"}, Attr: "rollout_timeout",
			Err: `Invalid duration.*"10" must be a duration such as "90s" or "10m", from 30s to 24h0m0s`},
		BadInput{Name: "rollout_timeout too short", Config: map[string]any{"rollout_timeout": "5s"}, Attr: "rollout_timeout",
			Err: `Invalid duration.*from 30s to 24h0m0s`},
		BadInput{Name: "build_timeout not a duration", Config: map[string]any{"build_timeout": "30"}, Attr: "build_timeout",
			Err: `Invalid duration.*"30" must be a duration such as "90s" or "10m", from 30s to 24h0m0s`},
		BadInput{Name: "build_timeout too long", Config: map[string]any{"build_timeout": "25h"}, Attr: "build_timeout",
			Err: `Invalid duration.*from 30s to 24h0m0s`},
		BadInput{Name: "databases entry incomplete", Config: map[string]any{"databases": []map[string]any{{"project": "shop", "name": "orders"}}}, Attr: "databases",
			Err: `Incomplete database.*give the resource itself, as in databases = \[idp_database\.orders\]`},
		BadInput{Name: "databases entry of another project", Config: map[string]any{"databases": []map[string]any{
			{"project": "other", "name": "orders", "type": "mysql", "port": 3306}}}, Attr: "databases",
			Err: `Database of another project.*only its own project's databases`},
		BadInput{Name: "databases entry name with an underscore", Config: map[string]any{"databases": []map[string]any{
			{"project": "shop", "name": "orders_db", "type": "mysql", "port": 3306}}}, Attr: "databases.name",
			Err: `must be a DNS-1123 label`},
		BadInput{Name: "databases entry project upper case", Config: map[string]any{"databases": []map[string]any{
			{"project": "Shop", "name": "orders", "type": "mysql", "port": 3306}}}, Attr: "databases.project",
			Err: `must be a DNS-1123 label`},
		BadInput{Name: "databases entry type oracle", Config: map[string]any{"databases": []map[string]any{
			{"project": "shop", "name": "orders", "type": "oracle", "port": 1521}}}, Attr: "databases.type",
			Err: `value must be one of:`},
		BadInput{Name: "databases entry port 0", Config: map[string]any{"databases": []map[string]any{
			{"project": "shop", "name": "orders", "type": "mysql", "port": 0}}}, Attr: "databases.port",
			Err: `value must be between 1 and 65535`},
		BadInput{Name: "dispatch.repository without owner", Config: map[string]any{"dispatch": map[string]any{"repository": "gitops"}}, Attr: "dispatch.repository",
			Err: `must be owner/repo, got: gitops`},
		BadInput{Name: "dispatch.event_type empty", Config: map[string]any{"dispatch": map[string]any{"repository": "myorg/gitops", "event_type": ""}},
			Attr: "dispatch.event_type", Err: `string length must be between 1 and 100`},
		BadInput{Name: "timeouts.update not a duration", Config: map[string]any{"timeouts": map[string]any{"update": "1 hour"}}, Attr: "timeouts.update",
			Err: `must be a string containing a sequence of decimal numbers`},
	)

	add("idp_database", validDatabase,
		BadInput{Name: "project starts with a digit", Config: map[string]any{"project": "9shop"}, Attr: "project", Err: `must start with a letter`},
		BadInput{Name: "name upper case", Config: map[string]any{"name": "Orders"}, Attr: "name", Err: `must be a DNS-1123 label`},
		BadInput{Name: "name starts with a digit", Config: map[string]any{"name": "1orders"}, Attr: "name",
			Err: `must start with a letter \(it names the database's Service\)`},
		BadInput{Name: "name over MySQL's user limit", Config: map[string]any{"name": long(render.MaxDatabaseName + 1)}, Attr: "name",
			Err: fmt.Sprintf(`length must be between 1 and %d`, render.MaxDatabaseName)},
		BadInput{Name: "project and name too long", Config: map[string]any{"project": long(render.MaxProjectName), "name": long(render.MaxDatabaseName)}, Attr: "name",
			Err: fmt.Sprintf(`Name too long.*project and name together allow at most %d`, render.MaxDatabaseStatefulSet)},
		BadInput{Name: "name of the project's GitHub secret", Config: map[string]any{"name": "github-access"}, Attr: "name",
			Err: `Name taken by a derived object.*Choose another name`},
		BadInput{Name: "name of a webhook secret", Config: map[string]any{"name": "api-webhook"}, Attr: "name",
			Err: `webhook Secret of an application "api"`},
		BadInput{Name: "type oracle", Config: map[string]any{"type": "oracle"}, Attr: "type", Err: `value must be one of: \[.*"mysql".*\], got: "oracle"`},
		BadInput{Name: "version with a space", Config: map[string]any{"version": "8.0 lts"}, Attr: "version", Err: `must be an image tag: letters, digits`},
		BadInput{Name: "version starting with -", Config: map[string]any{"version": "-8"}, Attr: "version", Err: `not starting with '\.' or '-'`},
		BadInput{Name: "version with the image", Config: map[string]any{"version": "mysql:8.0"}, Attr: "version", Err: `must be an image tag`},
		BadInput{Name: "size with a bad unit", Config: map[string]any{"size": "5GB!"}, Attr: "size", Err: `Invalid size.*positive Kubernetes quantity`},
		BadInput{Name: "size zero", Config: map[string]any{"size": "0"}, Attr: "size", Err: `Invalid size.*positive Kubernetes quantity`},
		BadInput{Name: "size negative", Config: map[string]any{"size": "-1Gi"}, Attr: "size", Err: `Invalid size.*positive Kubernetes quantity`},
		BadInput{Name: "storage_class upper case", Config: map[string]any{"storage_class": "Fast_SSD"}, Attr: "storage_class",
			Err: `Invalid storage class.*DNS-1123 subdomain`},
		BadInput{Name: "port 70000", Config: map[string]any{"port": 70000}, Attr: "port", Err: `value must be between 1 and 65535`},
		BadInput{Name: "timeouts.delete not a duration", Config: map[string]any{"timeouts": map[string]any{"delete": "soon"}}, Attr: "timeouts.delete",
			Err: `must be a string containing a sequence of decimal numbers`},
	)

	add("data.idp_application", validDataApplication,
		BadInput{Name: "project upper case", Config: map[string]any{"project": "Shop"}, Attr: "project", Err: `must be a DNS-1123 label`},
		BadInput{Name: "project starts with a digit", Config: map[string]any{"project": "1shop"}, Attr: "project", Err: `must start with a letter`},
		BadInput{Name: "name starts with a digit", Config: map[string]any{"name": "1web"}, Attr: "name", Err: `must start with a letter \(it names a Service\)`},
		BadInput{Name: "name empty", Config: map[string]any{"name": ""}, Attr: "name", Err: `length must be between 1 and`},
	)

	add("ephemeral.idp_database_credentials", validCredentials,
		BadInput{Name: "project with an underscore", Config: map[string]any{"project": "my_shop"}, Attr: "project", Err: `must be a DNS-1123 label`},
		BadInput{Name: "name starts with a digit", Config: map[string]any{"name": "1orders"}, Attr: "name", Err: `must start with a letter`},
		BadInput{Name: "name too long", Config: map[string]any{"name": long(render.MaxDatabaseName + 1)}, Attr: "name",
			Err: fmt.Sprintf(`length must be between 1 and %d`, render.MaxDatabaseName)},
		BadInput{Name: "version 0", Config: map[string]any{"version": 0}, Attr: "version", Err: `value must be at least 1, got: 0`},
	)

	add("provider", validProviderSettings,
		BadInput{Name: "kubernetes.host not a URL", Config: map[string]any{"kubernetes.host": "kube api:6443"}, Attr: "kubernetes.host",
			Err: `Invalid provider setting kubernetes\.host.*give its URL, such as https://10\.0\.0\.1:6443`},
		BadInput{Name: "kubernetes.host ftp", Config: map[string]any{"kubernetes.host": "ftp://10.0.0.1"}, Attr: "kubernetes.host",
			Err: `is not an API server address`},
		BadInput{Name: "kubernetes.cluster_ca_certificate base64", Config: map[string]any{"kubernetes.cluster_ca_certificate": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="},
			Attr: "kubernetes.cluster_ca_certificate", Err: `is not PEM.*pass base64decode\(\.\.\.\) of it`},
		BadInput{Name: "kubernetes.client_certificate a path", Config: map[string]any{"kubernetes.client_certificate": "~/.kube/client.crt"},
			Attr: "kubernetes.client_certificate", Err: `is not PEM: give the PEM text`},
		BadInput{Name: "kubernetes.client_key not PEM", Config: map[string]any{"kubernetes.client_key": "not a key"},
			Attr: "kubernetes.client_key", Err: `is not PEM: give the PEM text`},
		BadInput{Name: "vault.address without scheme", Config: map[string]any{"vault.address": "vault.example.com:8200"}, Attr: "vault.address",
			Err: `is not a Vault address: give its URL with scheme, such as https://vault\.example\.com:8200`},
		BadInput{Name: "github.base_url without scheme", Config: map[string]any{"github.base_url": "github.example.com"}, Attr: "github.base_url",
			Err: `is not an http:// or https:// URL with a host; it must be a GitHub Enterprise server's URL, such as https://github\.example\.com/`},
		BadInput{Name: "registry.host with a scheme", Config: map[string]any{"registry.host": "https://harbor.example.com"}, Attr: "registry.host",
			Err: `is not a registry host.*drop the scheme: host = "harbor\.example\.com"`},
		BadInput{Name: "registry.host with a path", Config: map[string]any{"registry.host": "harbor.example.com/injunweb"}, Attr: "registry.host",
			Err: `give host = "harbor\.example\.com" and put the path in registry\.project \("injunweb"\)`},
		BadInput{Name: "registry.project upper case", Config: map[string]any{"registry.project": "InjunWeb"}, Attr: "registry.project",
			Err: `is not a registry project: image paths take lowercase letters.*such as injunweb or team/apps`},
		BadInput{Name: "webhook_base_url with a path", Config: map[string]any{"webhook_base_url": "https://hooks.example.com/github"}, Attr: "webhook_base_url",
			Err: `has a path \(/github\).*use a URL without a path, such as https://hooks\.example\.com`},
		BadInput{Name: "webhook_base_url without scheme", Config: map[string]any{"webhook_base_url": "hooks.example.com"}, Attr: "webhook_base_url",
			Err: `it must be the public URL GitHub posts webhooks to, such as https://webhook\.example\.com`},
		BadInput{Name: "isolation.allowed_namespaces upper case", Config: map[string]any{"isolation.allowed_namespaces": []string{"traefik", "Kube_System"}},
			Attr: "isolation.allowed_namespaces", Err: `"Kube_System" is not a namespace name \(a DNS-1123 label\)`},
		BadInput{Name: "isolation.allowed_cidrs an address", Config: map[string]any{"isolation.allowed_cidrs": []string{"10.200.0.1"}},
			Attr: "isolation.allowed_cidrs", Err: `"10\.200\.0\.1" is not a CIDR such as 10\.0\.0\.0/24`},
	)
	return out
}

// TestBadInput needs no stack and no tofu.
func TestBadInput(t *testing.T) {
	srv := protocolServer(t)
	counts := map[string]int{}
	for _, tc := range BadInputs() {
		t.Run(tc.Kind+"/"+tc.Name, func(t *testing.T) {
			counts[tc.Kind]++
			diags := validateAny(t, srv, tc.Kind, tc.Config)
			if tc.AtPlan {
				diags = append(diags, planCreate(t, tc.Kind, tc.Config)...)
			}
			checkRejected(t, tc, diags)
		})
	}
	// The configurations the cases start from are valid: each case's
	// error is its own.
	for kind, base := range map[string]func() map[string]any{
		"idp_project": validProject, "idp_application": validApplication, "idp_database": validDatabase,
		"data.idp_application": validDataApplication, "ephemeral.idp_database_credentials": validCredentials,
		"provider": func() map[string]any {
			return map[string]any{
				"kubernetes":       map[string]any{"host": "https://10.0.0.1:6443", "cluster_ca_certificate": testPEM},
				"vault":            map[string]any{"address": "https://vault.example.com:8200"},
				"registry":         map[string]any{"host": "harbor.example.com:5000", "project": "team/apps"},
				"webhook_base_url": "https://hooks.example.com",
			}
		},
	} {
		for _, d := range validateAny(t, srv, kind, base()) {
			if d.Severity == tfprotov6.DiagnosticSeverityError {
				t.Errorf("valid %s rejected: %s: %s", kind, d.Summary, d.Detail)
			}
		}
	}
	logBadInputCounts(t, counts)
}

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// logBadInputCounts prints how many cases ran, per kind.
func logBadInputCounts(t *testing.T, counts map[string]int) {
	kinds := make([]string, 0, len(counts))
	total := 0
	for k, n := range counts {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(kinds)
	t.Logf("bad inputs rejected: %d (%s)", total, strings.Join(kinds, ", "))
}

// checkRejected asserts that an error matches tc.Err and is at tc.Attr.
func checkRejected(t *testing.T, tc BadInput, diags []*tfprotov6.Diagnostic) {
	t.Helper()
	re := regexp.MustCompile(`(?s)` + tc.Err)
	for _, d := range diags {
		if d.Severity != tfprotov6.DiagnosticSeverityError || !re.MatchString(d.Summary+": "+d.Detail) {
			continue
		}
		at := ""
		if d.Attribute != nil {
			at = attrString(d.Attribute)
		}
		if at != tc.Attr {
			t.Errorf("error %q is at %q, want %q", d.Summary+": "+d.Detail, at, tc.Attr)
		}
		return
	}
	t.Errorf("no error matching %q; got:", tc.Err)
	for _, d := range diags {
		t.Errorf("  %s: %s", d.Summary, d.Detail)
	}
}

func protocolServer(t *testing.T) tfprotov6.ProviderServer {
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// validateAny sends a configuration as tofu does when it validates and
// plans it: Validate*Config for resources, data sources and ephemeral
// resources; ValidateProviderConfig then ConfigureProvider for the
// provider block (its settings are checked when it is configured).
func validateAny(t *testing.T, srv tfprotov6.ProviderServer, kind string, config map[string]any) []*tfprotov6.Diagnostic {
	t.Helper()
	ctx := context.Background()
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	dyn := func(s *tfprotov6.Schema) *tfprotov6.DynamicValue {
		if s == nil {
			t.Fatalf("no schema for %s", kind)
		}
		typ := s.ValueType()
		dv, err := tfprotov6.NewDynamicValue(typ, badInputValue(t, typ, config))
		if err != nil {
			t.Fatal(err)
		}
		return &dv
	}
	var diags []*tfprotov6.Diagnostic
	switch {
	case kind == "provider":
		cfg := dyn(schemas.Provider)
		v, err := srv.ValidateProviderConfig(ctx, &tfprotov6.ValidateProviderConfigRequest{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		diags = v.Diagnostics
		c, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		diags = append(diags, c.Diagnostics...)
	case strings.HasPrefix(kind, "data."):
		name := strings.TrimPrefix(kind, "data.")
		r, err := srv.ValidateDataResourceConfig(ctx, &tfprotov6.ValidateDataResourceConfigRequest{TypeName: name, Config: dyn(schemas.DataSourceSchemas[name])})
		if err != nil {
			t.Fatal(err)
		}
		diags = r.Diagnostics
	case strings.HasPrefix(kind, "ephemeral."):
		name := strings.TrimPrefix(kind, "ephemeral.")
		r, err := srv.ValidateEphemeralResourceConfig(ctx, &tfprotov6.ValidateEphemeralResourceConfigRequest{TypeName: name, Config: dyn(schemas.EphemeralResourceSchemas[name])})
		if err != nil {
			t.Fatal(err)
		}
		diags = r.Diagnostics
	default:
		r, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: kind, Config: dyn(schemas.ResourceSchemas[kind])})
		if err != nil {
			t.Fatal(err)
		}
		diags = r.Diagnostics
	}
	return diags
}

// planCreate plans the creation of a resource as tofu does, with a
// provider configured from its settings' defaults: ModifyPlan runs, and
// contacts nothing.
func planCreate(t *testing.T, kind string, config map[string]any) []*tfprotov6.Diagnostic {
	t.Helper()
	ctx := context.Background()
	srv := protocolServer(t)
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	pt := schemas.Provider.ValueType()
	pcfg, err := tfprotov6.NewDynamicValue(pt, badInputValue(t, pt, map[string]any{
		"kubernetes": map[string]any{"host": "https://10.0.0.1:6443", "cluster_ca_certificate": testPEM},
		"vault":      map[string]any{"address": "https://vault.example.com:8200"},
	}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: &pcfg})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Diagnostics {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			t.Fatalf("configuring the provider: %s: %s", d.Summary, d.Detail)
		}
	}
	typ := schemas.ResourceSchemas[kind].ValueType()
	cfg, err := tfprotov6.NewDynamicValue(typ, badInputValue(t, typ, config))
	if err != nil {
		t.Fatal(err)
	}
	prior, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, nil))
	if err != nil {
		t.Fatal(err)
	}
	p, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
		TypeName: kind, PriorState: &prior, ProposedNewState: &cfg, Config: &cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p.Diagnostics
}

// badInputValue builds a value of typ from Go values; what is not given is
// null, as in a configuration that leaves it out.
func badInputValue(t *testing.T, typ tftypes.Type, v any) tftypes.Value {
	t.Helper()
	if v == nil {
		return tftypes.NewValue(typ, nil)
	}
	switch typ := typ.(type) {
	case tftypes.Object:
		m := v.(map[string]any)
		vals := map[string]tftypes.Value{}
		for k, at := range typ.AttributeTypes {
			vals[k] = badInputValue(t, at, m[k])
		}
		for k := range m {
			if _, ok := typ.AttributeTypes[k]; !ok {
				t.Fatalf("no attribute %q", k)
			}
		}
		return tftypes.NewValue(typ, vals)
	case tftypes.Set, tftypes.List:
		var et tftypes.Type
		if s, ok := typ.(tftypes.Set); ok {
			et = s.ElementType
		} else {
			et = typ.(tftypes.List).ElementType
		}
		var elems []tftypes.Value
		switch items := v.(type) {
		case []string:
			for _, s := range items {
				elems = append(elems, tftypes.NewValue(et, s))
			}
		case []map[string]any:
			for _, o := range items {
				elems = append(elems, badInputValue(t, et, o))
			}
		}
		return tftypes.NewValue(typ, elems)
	case tftypes.Map:
		elems := map[string]tftypes.Value{}
		for k, s := range v.(map[string]string) {
			elems[k] = tftypes.NewValue(typ.ElementType, s)
		}
		return tftypes.NewValue(typ, elems)
	}
	if n, ok := v.(int); ok {
		return tftypes.NewValue(typ, big.NewFloat(float64(n)))
	}
	return tftypes.NewValue(typ, v)
}

// HCL is the case as a tofu configuration: the block, with nested maps as
// object values, except timeouts and the provider's blocks, which are
// blocks.
func (tc BadInput) HCL() string {
	var b strings.Builder
	body := func(m map[string]any, blocks bool, indent string) {
		writeHCLBody(&b, m, blocks, indent)
	}
	switch {
	case tc.Kind == "provider":
		b.WriteString("provider \"idp\" {\n")
		body(tc.Config, true, "  ")
		b.WriteString("}\n\nresource \"idp_project\" \"p\" {\n  name = \"bad-input\"\n}\n")
	case strings.HasPrefix(tc.Kind, "data."):
		fmt.Fprintf(&b, "data %q \"bad\" {\n", strings.TrimPrefix(tc.Kind, "data."))
		body(tc.Config, false, "  ")
		b.WriteString("}\n")
	case strings.HasPrefix(tc.Kind, "ephemeral."):
		fmt.Fprintf(&b, "ephemeral %q \"bad\" {\n", strings.TrimPrefix(tc.Kind, "ephemeral."))
		body(tc.Config, false, "  ")
		b.WriteString("}\n")
	default:
		fmt.Fprintf(&b, "resource %q \"bad\" {\n", tc.Kind)
		body(tc.Config, false, "  ")
		b.WriteString("}\n")
	}
	return b.String()
}

func writeHCLBody(b *strings.Builder, m map[string]any, blocks bool, indent string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if sub, ok := m[k].(map[string]any); ok && (blocks || k == "timeouts") {
			fmt.Fprintf(b, "%s%s {\n", indent, k)
			writeHCLBody(b, sub, false, indent+"  ")
			fmt.Fprintf(b, "%s}\n", indent)
			continue
		}
		fmt.Fprintf(b, "%s%s = %s\n", indent, k, hclValue(m[k]))
	}
}

func hclValue(v any) string {
	switch v := v.(type) {
	case string:
		q := fmt.Sprintf("%q", v)
		return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(q)
	case int:
		return fmt.Sprint(v)
	case bool:
		return fmt.Sprint(v)
	case []string:
		items := make([]string, len(v))
		for i, s := range v {
			items[i] = hclValue(s)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case []map[string]any:
		items := make([]string, len(v))
		for i, o := range v {
			items[i] = hclValue(o)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case map[string]string:
		m := map[string]any{}
		for k, s := range v {
			m[k] = s
		}
		return hclValue(m)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = fmt.Sprintf("%q = %s", k, hclValue(v[k]))
		}
		return "{ " + strings.Join(items, ", ") + " }"
	}
	panic(fmt.Sprintf("no HCL for %T", v))
}

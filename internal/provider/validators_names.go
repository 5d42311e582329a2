package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// Checks of names that only fail once derived (render/names.go derives
// them and holds their limits); each fails at plan, at its attribute.

// projectNameValidators check a project name wherever one is given: Argo
// Events names a Service after it ("P-A-github-eventsource-eventsource-svc"),
// and Service names are DNS-1035 labels, which start with a letter.
func projectNameValidators() []validator.String {
	return append(nameValidators(render.MaxProjectName),
		stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z]`),
			"must start with a letter: Argo Events names each application's webhook Service <project>-<application>-github-eventsource-eventsource-svc, "+
				"and a Service name must start with a letter"),
		clusterNamespaceValidator{})
}

// clusterNamespace: the namespaces Kubernetes itself owns. A project's name
// is its namespace, which the project owns and its destroy deletes.
func clusterNamespace(name string) bool {
	return name == "default" || strings.HasPrefix(name, "kube-")
}

// clusterNamespaceValidator rejects clusterNamespace names. The platform's
// namespaces (the provider's isolation.allowed_namespaces) are rejected in
// idp_project's ModifyPlan, where the provider's settings are known.
type clusterNamespaceValidator struct{}

func (clusterNamespaceValidator) Description(context.Context) string {
	return "not `default` or `kube-*`: namespaces the cluster owns"
}

func (v clusterNamespaceValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v clusterNamespaceValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || !clusterNamespace(req.ConfigValue.ValueString()) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Namespace of the cluster",
		fmt.Sprintf("%q is a namespace the cluster owns (default and kube-*). A project's name is its namespace, which the "+
			"project owns and its destroy deletes with everything in it. Choose another name.", req.ConfigValue.ValueString()))
}

// checkChildName reports a name (of an application or a database) that
// would take a Secret of its project or of a sibling application.
func checkChildName(project, name string, diags *diag.Diagnostics) {
	if clash := render.ChildNameClash(project, name); clash != "" {
		diags.AddAttributeError(path.Root("name"), "Name taken by a derived object",
			fmt.Sprintf("%q cannot be used in project %s: %s. Choose another name.", name, project, clash))
	}
}

// checkDomainRoutes reports domains of one application whose IngressRoute
// names (dots become dashes) meet, such as "a-b.com" and "a.b.com", and
// route names over 253 characters.
func checkDomainRoutes(project, app string, domains []string, diags *diag.Diagnostics) {
	sort.Strings(domains)
	byRoute := map[string]string{}
	for _, d := range domains {
		name := render.IngressRoute(project, app, d)
		if len(name) > 253 {
			diags.AddAttributeError(path.Root("domains"), "Domain too long",
				fmt.Sprintf("the IngressRoute name for %q would have %d characters (at most 253)", d, len(name)))
		}
		if other, ok := byRoute[name]; ok {
			diags.AddAttributeError(path.Root("domains"), "Domains share a route name",
				fmt.Sprintf("%q and %q both make the IngressRoute %s (dots become dashes in the name). "+
					"Keep one of them, or serve the other from another application.", other, d, name))
		}
		byRoute[name] = d
	}
}

// knownStrings are the known elements of a set (none if it is unknown).
func knownStrings(s types.Set) []string {
	var out []string
	for _, e := range s.Elements() {
		if str, ok := e.(types.String); ok && !str.IsUnknown() && !str.IsNull() {
			out = append(out, str.ValueString())
		}
	}
	return out
}

// branchUnsafe finds what a git ref name may contain but the pipeline
// cannot carry: kaniko splits its git context at '#'
// ("git://host/owner/repo.git#refs/heads/<branch>#<sha>"), Argo Workflows
// expands "{{...}}" in the template, and Kubernetes expands "$(VAR)" in a
// container's args (the build container has GIT_PASSWORD).
var branchUnsafe = regexp.MustCompile(`#|\{\{|\$\(`)

// checkBranchUnsafe adds the error for branchUnsafe, if it matches.
func checkBranchUnsafe(p path.Path, branch string, diags *diag.Diagnostics) {
	if m := branchUnsafe.FindString(branch); m != "" {
		why := map[string]string{
			"#":  "kaniko's git context splits at '#'",
			"{{": "Argo Workflows would read it as a template expression",
			"$(": "Kubernetes would expand it as a variable in the build container's arguments",
		}[m]
		diags.AddAttributeError(p, "Invalid branch",
			fmt.Sprintf("%s %q contains %q, which the build pipeline cannot carry: %s. Rename the branch, or build another one.",
				p, branch, m, why))
	}
}

// fullCommitHash is what CI tags images with: a full SHA-1 commit id.
var fullCommitHash = regexp.MustCompile(`^[0-9a-f]{40}$`)

const fullCommitHashMessage = "must be a full 40-character lowercase hex commit hash (CI tags images with the full sha; " +
	"`git rev-parse <short>` gives it)"

// hasWildcard: a "*." domain. Traefik's Host() compares hosts literally,
// so it would route nothing, and "*" cannot be part of an object name.
func hasWildcard(domain string) bool { return strings.HasPrefix(domain, "*.") }

// wildcardDomainValidator rejects wildcard domains with a hint.
type wildcardDomainValidator struct{}

func (wildcardDomainValidator) Description(context.Context) string {
	return "no wildcard: Traefik's Host() matches a host exactly"
}

func (v wildcardDomainValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v wildcardDomainValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || !hasWildcard(req.ConfigValue.ValueString()) {
		return
	}
	resp.Diagnostics.AddAttributeError(req.Path, "Wildcard domains are not supported",
		fmt.Sprintf("%q: Traefik's Host() rule matches a host exactly, so a wildcard would route nothing, and its IngressRoute "+
			"name cannot hold '*'. List each host instead (e.g. %q).", req.ConfigValue.ValueString(),
			"www"+strings.TrimPrefix(req.ConfigValue.ValueString(), "*")))
}

// applicationNameValidators check an application name wherever one is
// given (idp_application, data.idp_application): it names a Service.
func applicationNameValidators() []validator.String {
	return append(nameValidators(render.MaxProjectAndApplication-1),
		stringvalidator.RegexMatches(startsWithLetter, "must start with a letter (it names a Service)"))
}

// databaseNameValidators check a database name where it is referred to
// (idp_application.databases, idp_database_credentials) as idp_database
// checks it.
func databaseNameValidators() []validator.String {
	return append(nameValidators(render.MaxDatabaseName),
		stringvalidator.RegexMatches(startsWithLetter, "must start with a letter (it names the database's Service)"))
}

// githubRepoValidator: a GitHub repository name as CI clones it
// (git://<host>/<owner>/<repo>.git).
type githubRepoValidator struct{}

func (githubRepoValidator) Description(context.Context) string {
	return "a GitHub repository name: letters, digits, '.', '_' and '-', without the .git suffix"
}

func (v githubRepoValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v githubRepoValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	r := req.ConfigValue.ValueString()
	switch {
	case strings.HasSuffix(strings.ToLower(r), ".git") && len(r) > len(".git"):
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid repository",
			fmt.Sprintf("%s %q ends in .git, which CI adds when it clones (%s.git would not exist): give repo = %q.",
				req.Path, r, r, r[:len(r)-len(".git")]))
	case !githubRepo.MatchString(r) || r == "." || r == "..":
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid repository",
			fmt.Sprintf("%s %q must be %s, as in github.com/<owner>/<repo> (only the repository's name, not its URL).",
				req.Path, r, v.Description(ctx)))
	}
}

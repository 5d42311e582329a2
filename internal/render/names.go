package render

import "strings"

// Every object name the provider derives lives here, as shared/CONTRACT.md
// spells it: existing installations are imported by these names.
//
// P = project, A = application, D = database.

// Namespace of project P is P itself.
func Namespace(p string) string { return p }

// EventBus of project P.
func EventBus(p string) string { return p + "-ci-eventbus" }

// WorkflowServiceAccount runs the project's EventSources, Sensors and Workflows.
func WorkflowServiceAccount(p string) string { return p + "-ci-workflow-sa" }

// WorkflowRole holds the least-privilege rules of WorkflowServiceAccount
// (and names its RoleBinding). Not in the old chart: an addition.
func WorkflowRole(p string) string { return p + "-ci-workflow" }

// GitHubAccessSecret holds `username` and `token` for cloning and webhooks.
func GitHubAccessSecret(p string) string { return p + "-github-access-secret" }

// RegistrySecret is the dockerconfigjson pull/push secret of every project.
const RegistrySecret = "registry-secret"

// IsolationPolicy is the project's NetworkPolicy. Not in the old chart.
func IsolationPolicy(p string) string { return p + "-isolation" }

// Vault KV paths (relative to the mount, the contract's `M`).

// GitHubAccessVaultPath is where the project's GitHub credentials live.
func GitHubAccessVaultPath(p string) string { return p + "-github-access" }

// RegistryVaultPath is where the project's registry credentials live. The
// contract does not fix it; this follows the GitHub access path's pattern.
func RegistryVaultPath(p string) string { return p + "-registry" }

// Name limits. Kubernetes limits DNS-1123 labels (namespaces, Services) to
// 63 characters, and Argo Events derives longer names from ours: the
// EventBus "P-ci-eventbus" becomes the Service "eventbus-P-ci-eventbus-stan-svc".
const (
	dnsLabelMax = 63
	// MaxProjectName keeps every name derived from a project name valid.
	MaxProjectName = dnsLabelMax - len("eventbus--ci-eventbus-stan-svc")
)

// Per application A of project P.

// EventSource receives A's GitHub push webhooks.
func EventSource(p, a string) string { return p + "-" + a + "-github-eventsource" }

// GitHubEvent is the EventSource's event (the `github` map key).
func GitHubEvent(p, a string) string { return p + "-" + a + "-github-trigger" }

// Sensor turns pushes to the branch into Workflows.
func Sensor(p, a string) string { return p + "-" + a + "-github-workflow-sensor" }

// WorkflowTemplate builds and deploys A.
func WorkflowTemplate(p, a string) string { return p + "-" + a + "-build-workflow-template" }

// WorkflowGenerateName prefixes the Workflows the Sensor creates.
func WorkflowGenerateName(p, a string) string { return p + "-" + a + "-build-workflow-" }

// WebhookEndpoint is the EventSource's HTTP path.
func WebhookEndpoint(p, a string) string { return "/" + p + "-" + a }

// Deployment runs A; it is also A's pod label value and container name.
func Deployment(a string) string { return a + "-app" }

// Service exposes A inside the cluster.
func Service(a string) string { return a }

// IngressRoute routes one domain to A.
func IngressRoute(p, a, domain string) string {
	return p + "-" + a + "-" + strings.ReplaceAll(domain, ".", "-") + "-route"
}

// AppSecret holds A's environment, synced from Vault AppSecretVaultPath.
func AppSecret(p, a string) string { return p + "-" + a + "-secret" }

// AppSecretVaultPath is where A's environment lives in Vault.
func AppSecretVaultPath(p, a string) string { return p + "-" + a + "-secret" }

// WebhookSecret holds the GitHub webhook secret (key `secret`). Not in the
// old chart: an addition.
func WebhookSecret(p, a string) string { return p + "-" + a + "-webhook-secret" }

// WebhookSecretVaultPath is where the generated webhook secret lives.
func WebhookSecretVaultPath(p, a string) string { return p + "-" + a + "-webhook" }

// Image is the image CI pushes for a commit (or "latest").
func Image(registryHost, registryProject, p, a, tag string) string {
	return registryHost + "/" + registryProject + "/" + p + "-" + a + ":" + tag
}

// BuildCache is the kaniko layer cache repository.
func BuildCache(registryHost, registryProject string) string {
	return registryHost + "/" + registryProject + "/cache"
}

// MaxProjectAndApplication bounds len(P)+len(A): Argo Events names the
// EventSource's Service "P-A-github-eventsource-eventsource-svc", a DNS-1035
// label of at most 63 characters.
const MaxProjectAndApplication = dnsLabelMax - len("--github-eventsource-eventsource-svc")

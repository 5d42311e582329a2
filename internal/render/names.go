package render

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

package render

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

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

// EventBusStatefulSet is the StatefulSet Argo Events (v1.9) runs the
// EventBus of type typ in (installer/nats.go: "eventbus-<EventBus>-stan",
// installer/jetstream.go: "eventbus-<EventBus>-js").
func EventBusStatefulSet(p, typ string) string {
	if typ == EventBusJetStream {
		return "eventbus-" + EventBus(p) + "-js"
	}
	return "eventbus-" + EventBus(p) + "-stan"
}

// IsEventBusVolumeClaim says whether a claim of project p is a JetStream
// EventBus replica's store (installer/jetstream.go: claim template
// "eventbus-<EventBus>-js-vol", so "<template>-<StatefulSet>-<ordinal>"):
// undelivered events, not the project's data.
func IsEventBusVolumeClaim(p, claim string) bool {
	sts := EventBusStatefulSet(p, EventBusJetStream)
	return strings.HasPrefix(claim, sts+"-vol-"+sts+"-")
}

// EventsDeploymentSelector selects the Deployment the Argo Events
// controller (v1.9) runs an EventSource or Sensor (kind) called name in:
// generated names "<name>-eventsource-xxxxx" / "<name>-sensor-xxxxx",
// labelled with the object's name (reconciler/*/controller.go).
func EventsDeploymentSelector(kind, name string) string {
	if kind == "Sensor" {
		return "sensor-name=" + name
	}
	return "eventsource-name=" + name
}

// eventsObjectEnv is the env var of that Deployment's container that holds
// the object (base64 JSON, spec included) the pod runs with.
func eventsObjectEnv(kind string) string {
	if kind == "Sensor" {
		return "SENSOR_OBJECT"
	}
	return "EVENTSOURCE_OBJECT"
}

// Name limits. Kubernetes limits DNS-1123 labels (namespaces, Services,
// label values) to 63 characters, and Argo Events derives longer names from
// ours.
const (
	dnsLabelMax = 63
	// revisionHashMax: the StatefulSet controller labels every pod with
	// controller-revision-hash "<StatefulSet>-<hash>", a label value whose
	// hash (an fnv32 in decimal) has up to 10 characters. A longer
	// StatefulSet name is accepted, but its pods are never created.
	revisionHashMax    = 10
	statefulSetNameMax = dnsLabelMax - len("-") - revisionHashMax
	// MaxProjectName keeps every name derived from a project name valid.
	// The tightest is the native NATS EventBus StatefulSet
	// (EventBusStatefulSet; JetStream's is shorter).
	MaxProjectName = statefulSetNameMax - len("eventbus--ci-eventbus-stan")
)

// Per application A of project P.

// EventSource receives A's GitHub push webhooks.
func EventSource(p, a string) string { return p + "-" + a + "-github-eventsource" }

// ApplicationOfEventSource is the application whose EventSource in project
// p is called name, or "" when the name follows no application's rule
// (finding what runs: the list resources, idp_estate).
func ApplicationOfEventSource(p, name string) string {
	return between(name, p+"-", "-github-eventsource", func(a string) string { return EventSource(p, a) })
}

// GitHubEvent is the EventSource's event (the `github` map key).
func GitHubEvent(p, a string) string { return p + "-" + a + "-github-trigger" }

// Sensor turns pushes to the branch into Workflows.
func Sensor(p, a string) string { return p + "-" + a + "-github-workflow-sensor" }

// WorkflowTemplate builds and deploys A.
func WorkflowTemplate(p, a string) string { return p + "-" + a + "-build-workflow-template" }

// CatchUpCronWorkflow runs application a's level-triggered catch-up
// (catchup.go).
func CatchUpCronWorkflow(p, a string) string { return p + "-" + a + "-catch-up" }

// WorkflowGenerateName prefixes the Workflows the Sensor creates.
func WorkflowGenerateName(p, a string) string { return p + "-" + a + "-build-workflow-" }

// WebhookEndpoint is the EventSource's HTTP path.
func WebhookEndpoint(p, a string) string { return "/" + p + "-" + a }

// EventSourceService is the Service Argo Events makes for A's EventSource
// (v1.9 pkg/reconciler/eventsource/resource.go: "<EventSource>-eventsource-svc").
// MaxProjectAndApplication keeps it a valid Service name.
func EventSourceService(p, a string) string { return EventSource(p, a) + "-eventsource-svc" }

// WebhookRoute is the IngressRoute that brings GitHub's webhooks to
// EventSourceService. Not in the old chart: an addition. No domain route of
// A can take this name: a domain has a dot, so its part of the name a dash.
func WebhookRoute(p, a string) string { return p + "-" + a + "-webhook-route" }

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
// EventSource's Service "P-A-github-eventsource-eventsource-svc"
// (EventSourceService), a DNS-1035 label of at most 63 characters. Every
// other per-application name is shorter.
const MaxProjectAndApplication = dnsLabelMax - len("--github-eventsource-eventsource-svc")

// ChildNameClash says which object of project P, or of a sibling, an
// application or database named n would take over through a Secret name
// (both make "P-<n>-secret", and applications "P-<n>-webhook-secret"), or
// "" when there is none. Other siblings' names never meet: their suffixes
// differ. An application and a database of the same name meet too (Service
// n); that takes the other resource's existence, so apply checks it
// (LabelOwner).
func ChildNameClash(p, n string) string {
	if AppSecret(p, n) == GitHubAccessSecret(p) {
		return fmt.Sprintf("its Secret %s would be the project's GitHub credentials", AppSecret(p, n))
	}
	if a, ok := strings.CutSuffix(n, "-webhook"); ok && a != "" && WebhookSecret(p, a) == AppSecret(p, n) {
		return fmt.Sprintf("its Secret %s would be the webhook Secret of an application %q", AppSecret(p, n), a)
	}
	return ""
}

// LabelOwner marks every object an application or database writes with
// its owner (ApplicationOwner, DatabaseOwner). Names are contract, so two
// resources of a project can derive the same one (an application and a
// database share Service and Secret names; two applications' routes can
// meet); apply refuses an object labelled as another's.
const LabelOwner = "idpkit.io/owner"

// AnnotationCreated marks the object by which a resource is known to exist
// (CreatedAnchor) once its create completed; the value is when. A create
// that finds it refuses: another Terraform state manages the resource.
const AnnotationCreated = "idpkit.io/created"

// ApplicationOwner is LabelOwner's value for application A's objects.
func ApplicationOwner(a string) string { return "application." + a }

// DatabaseOwner is LabelOwner's value for database D's objects.
func DatabaseOwner(d string) string { return "database." + d }

// DescribeOwner names the resource behind a LabelOwner value, for messages.
func DescribeOwner(p, owner string) string {
	kind, name, ok := strings.Cut(owner, ".")
	if !ok || (kind != "application" && kind != "database") {
		return fmt.Sprintf("%s=%q", LabelOwner, owner)
	}
	return fmt.Sprintf("the %s %q of project %s (idp_%s)", kind, name, p, kind)
}

// Per database D of project P (the contract's "Per database").

// DatabaseStatefulSet runs database D; it is also the `app` label of its
// pods, which its Service selects.
func DatabaseStatefulSet(p, d string) string { return p + "-" + d + "-db" }

// DatabaseOfStatefulSet is the database whose StatefulSet in project p is
// called name, or "" when the name follows no database's rule.
func DatabaseOfStatefulSet(p, name string) string {
	return between(name, p+"-", "-db", func(d string) string { return DatabaseStatefulSet(p, d) })
}

// between returns what name holds between prefix and suffix when that is
// a DNS label that derive turns back into name, else "".
func between(name, prefix, suffix string, derive func(string) string) string {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return ""
	}
	mid, ok := strings.CutSuffix(rest, suffix)
	if !ok || len(validation.IsDNS1123Label(mid)) > 0 || derive(mid) != name {
		return ""
	}
	return mid
}

// DatabasePod is replica i of the database's StatefulSet.
func DatabasePod(p, d string, i int) string { return DatabaseStatefulSet(p, d) + "-" + strconv.Itoa(i) }

// DatabaseService is the database's Service; applications reach it at DatabaseHost.
func DatabaseService(d string) string { return d }

// DatabaseHost is the in-cluster DNS name of the database's Service.
func DatabaseHost(p, d string) string {
	return DatabaseService(d) + "." + Namespace(p) + ".svc.cluster.local"
}

// DatabaseSecret holds key `password`, synced from DatabaseVaultPath.
func DatabaseSecret(p, d string) string { return p + "-" + d + "-secret" }

// DatabaseVaultPath is where the database's password lives in Vault.
func DatabaseVaultPath(p, d string) string { return p + "-" + d + "-secret" }

// DatabaseVolume names the StatefulSet's volumeClaimTemplate (and the volume
// mounted in the container).
func DatabaseVolume(p, d string) string { return p + "-" + d + "-data" }

// DatabaseClaim is the PersistentVolumeClaim the StatefulSet controller
// makes for replica i: "<template>-<pod>".
func DatabaseClaim(p, d string, i int) string {
	return DatabaseVolume(p, d) + "-" + DatabasePod(p, d, i)
}

// IsDatabaseClaim reports whether pvc is a claim of database D's StatefulSet
// (of any replica), so claims of "shop-db" are not taken for "shop".
func IsDatabaseClaim(p, d, pvc string) bool {
	ordinal, ok := strings.CutPrefix(pvc, DatabaseVolume(p, d)+"-"+DatabaseStatefulSet(p, d)+"-")
	if !ok || ordinal == "" {
		return false
	}
	_, err := strconv.ParseUint(ordinal, 10, 32)
	return err == nil
}

// DatabaseDBName and DatabaseUser are the database and user that the
// mysql and postgres images create at first start.
func DatabaseDBName(d string) string { return d + "_db" }

// DatabaseUser: see DatabaseDBName.
func DatabaseUser(d string) string { return d + "_user" }

const (
	// MaxDatabaseName: MySQL user names ("D_user") have at most 32 characters.
	MaxDatabaseName = 32 - len("_user")
	// MaxDatabaseStatefulSet bounds "P-D-db": the StatefulSet controller
	// labels every pod with controller-revision-hash "<name>-<hash>", a label
	// value (at most 63 characters) with a hash of up to 10.
	MaxDatabaseStatefulSet = statefulSetNameMax
)

// Least-privilege identities of the CI pipeline (DESIGN.md, "CI
// identities"): events and the Sensor keep WorkflowServiceAccount (create
// Workflows, nothing else); build pods run without any token, their Argo
// executor with ExecutorServiceAccount; deploy steps with one application's
// DeployServiceAccount, limited to that application's objects by name.

// ExecutorServiceAccount is the identity of Argo's executor (init and wait
// containers) in pods whose own containers get no token.
func ExecutorServiceAccount(p string) string { return p + "-ci-executor-sa" }

// ExecutorRole is the Role (and RoleBinding) of ExecutorServiceAccount.
func ExecutorRole(p string) string { return p + "-ci-executor" }

// ExecutorTokenSecret is where Argo Workflows looks for the executor's
// token (a kubernetes.io/service-account-token Secret, which Kubernetes
// fills).
func ExecutorTokenSecret(p string) string {
	return ExecutorServiceAccount(p) + ".service-account-token"
}

// DeployServiceAccount runs application A's deploy steps.
func DeployServiceAccount(p, a string) string { return p + "-" + a + "-deploy-sa" }

// DeployRole is the Role (and RoleBinding) of DeployServiceAccount.
func DeployRole(p, a string) string { return p + "-" + a + "-deploy" }

// ReleaseConfigMap records the commit CI last rolled out, so a deleted
// Deployment can be restored at that commit.
func ReleaseConfigMap(p, a string) string { return p + "-" + a + "-release" }

// DeployMutex serialises application A's workflows (Argo synchronization):
// deploys happen one at a time, in push order.
func DeployMutex(p, a string) string { return WorkflowTemplate(p, a) }

package render

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// KanikoImage builds application images, and KanikoCommand is its
// entrypoint. Argo's emissary executor must know a container's command;
// when a template leaves it out, the workflow controller reads the image's
// config from its registry itself (not through the nodes' containerd and
// its mirrors), which costs a registry call per image and fails where the
// controller cannot reach that registry.
const (
	KanikoImage   = "gcr.io/kaniko-project/executor:v1.23.2"
	KanikoCommand = "/kaniko/executor"
)

// EventSourcePort is where the EventSource listens for GitHub webhooks.
const EventSourcePort = 12000

// GitShaParameter is the Workflow parameter carrying the commit to build,
// and ShaPlaceholder how templates refer to it. ResubmittedParameter marks
// a run that a stale run resubmitted (deployGate).
const (
	GitShaParameter      = "git_sha"
	ShaPlaceholder       = "{{workflow.parameters." + GitShaParameter + "}}"
	ResubmittedParameter = "resubmitted"
)

// DefaultRolloutTimeout is Kubernetes' own progress deadline.
const DefaultRolloutTimeout = 600

// DefaultBuildTimeout bounds a kaniko build (clone, build, push): long
// enough for a cold build of a large image, short enough that a hung one
// does not hold the application's runs for hours.
const DefaultBuildTimeout = 1800

// RunDeadlineMargin is what a run gets beyond its build and rollout
// deadlines: scheduling the build and rollout pods (their own deadlines
// start with the pod) and the short deploy, route and record steps.
const RunDeadlineMargin = 120

// Workflow retention: successful runs and their pods go soon; failed ones
// stay a day for `kubectl logs` and `argo get`.
const (
	workflowTTLAfterSuccess = 600
	workflowTTLAfterFailure = 86400
)

// Application is everything an idp_application renders from.
type Application struct {
	Project string
	Name    string
	Owner   string
	Repo    string
	Branch  string
	Hash    string // the deployed (or pinned) commit; "" before the first build
	// Pinned freezes the deployed commit at Hash: pushes still build, but
	// the workflow has no deploy steps, so CI never changes what runs.
	Pinned bool
	// RolloutTimeout bounds, in seconds, how long a workflow's rollout
	// step waits for the new pods to become Ready before the run fails.
	RolloutTimeout int64
	// BuildTimeout bounds, in seconds, the kaniko step; the run as a whole
	// fails after RunDeadline, which releases the application's mutex.
	BuildTimeout int64
	Port         int64
	Replicas     int64
	Domains      []string // sorted

	RegistryHost    string
	RegistryProject string
	WebhookBaseURL  string
	// GitHubBaseURL is the provider's github.base_url: "" for github.com,
	// else the GitHub Enterprise server the repository lives on (see
	// ParseGitHubBaseURL).
	GitHubBaseURL string

	// Databases are the project's databases whose connection the pods get
	// in their environment (DatabaseEnv), sorted by name.
	Databases []DatabaseLink

	AppSecret     VaultSecret // any keys: the application's environment
	WebhookSecret VaultSecret // key "secret"

	// Dispatch, when set, replaces the in-cluster rollout with the old
	// chart's `update-config` step: a repository_dispatch to a GitOps
	// repository whose pipeline pins the new commit.
	Dispatch *Dispatch
}

// Dispatch is a GitHub repository_dispatch sent after a successful build
// (to the server of GitHubBaseURL).
type Dispatch struct {
	Repository string // owner/repo
	EventType  string
}

// CurlImage sends the repository_dispatch.
const CurlImage = "curlimages/curl:8.11.0"

// ApplicationObjects is RenderApplication's objects in apply order.
func ApplicationObjects(a Application) ([]*unstructured.Unstructured, error) {
	s, err := RenderApplication(a)
	if err != nil {
		return nil, err
	}
	return s.All(), nil
}

// RenderApplication renders an application. The Deployment and the
// domains' IngressRoutes exist only once a commit is known: before that
// there is no image to run. The webhook route exists from the start: the
// first push must reach the EventSource.
func RenderApplication(a Application) (*ApplicationSet, error) {
	ns := Namespace(a.Project)
	gh, err := ParseGitHubBaseURL(a.GitHubBaseURL)
	if err != nil {
		return nil, fmt.Errorf("github.base_url: %w", err)
	}
	hookHost, err := WebhookHost(a.WebhookBaseURL)
	if err != nil {
		return nil, fmt.Errorf("webhook_base_url: %w", err)
	}
	objs := []*unstructured.Unstructured{
		secret(ns, AppSecret(a.Project, a.Name), string(corev1.SecretTypeOpaque), a.AppSecret, a.AppSecret.Values),
	}
	webhook, err := webhookData(a.WebhookSecret)
	if err != nil {
		return nil, err
	}
	objs = append(objs,
		secret(ns, WebhookSecret(a.Project, a.Name), string(corev1.SecretTypeOpaque), a.WebhookSecret, webhook),
		service(a),
		eventSource(a, gh),
		webhookRoute(a, hookHost),
		sensor(a),
	)
	objs = append(objs, object("v1", "ServiceAccount", Namespace(a.Project), DeployServiceAccount(a.Project, a.Name), nil, nil))
	objs = append(objs, roleObjects(Namespace(a.Project), DeployRole(a.Project, a.Name), DeployServiceAccount(a.Project, a.Name), deployRules(a))...)
	tmpl, err := workflowTemplate(a, gh)
	if err != nil {
		return nil, err
	}
	objs = append(objs, tmpl)
	if hasCatchUp(a) {
		cron, err := catchUp(a, gh)
		if err != nil {
			return nil, err
		}
		objs = append(objs, cron)
	}
	if a.Hash != "" {
		dep, err := deployment(a, a.Hash)
		if err != nil {
			return nil, err
		}
		objs = append(objs, dep)
		for _, d := range a.Domains {
			objs = append(objs, ingressRoute(a, d))
		}
	}
	return newApplicationSet(a, objs), nil
}

func webhookData(src VaultSecret) (SecretValues, error) {
	if src.Values == nil {
		return nil, nil
	}
	if err := requireKeys(src, "secret"); err != nil {
		return nil, err
	}
	return map[string]string{"secret": src.Values["secret"]}, nil
}

func service(a Application) *unstructured.Unstructured {
	spec := corev1.ServiceSpec{
		Selector: map[string]string{"app": Deployment(a.Name)},
		Ports: []corev1.ServicePort{{
			Port: int32(a.Port), TargetPort: intstr.FromInt32(int32(a.Port)), Protocol: corev1.ProtocolTCP,
		}},
	}
	return object("v1", "Service", Namespace(a.Project), Service(a.Name), nil, map[string]any{"spec": fromTyped(spec)})
}

// eventSource receives pushes. For GitHub Enterprise it also gets the
// server's API and upload URLs: Argo Events registers the webhook through
// them, and uses them only when both are set.
func eventSource(a Application, gh GitHubServer) *unstructured.Unstructured {
	p, n := a.Project, a.Name
	port := strconv.Itoa(EventSourcePort)
	event := map[string]any{
		"repositories": []any{map[string]any{"owner": a.Owner, "names": []any{a.Repo}}},
		"webhook": map[string]any{
			"endpoint": WebhookEndpoint(p, n), "port": port, "method": "POST", "url": a.WebhookBaseURL,
		},
		"events":        []any{"push"},
		"apiToken":      map[string]any{"name": GitHubAccessSecret(p), "key": "token"},
		"webhookSecret": map[string]any{"name": WebhookSecret(p, n), "key": "secret"},
		// No insecure: false: the default, and the Argo Events controller's
		// updates drop false booleans (omitempty), which would read as drift.
		"active":      true,
		"contentType": "json",
	}
	if gh.Enterprise {
		event["githubBaseURL"], event["githubUploadURL"] = gh.APIURL, gh.UploadURL
	}
	template := map[string]any{"serviceAccountName": WorkflowServiceAccount(p)}
	if a.WebhookSecret.Values != nil {
		// The EventSource pod reads the webhook secret once, at start: a new
		// version must restart it (the Fingerprint ignores the annotation).
		template["metadata"] = map[string]any{"annotations": map[string]any{
			AnnotationVaultVersion: strconv.Itoa(a.WebhookSecret.Version),
		}}
	}
	return object("argoproj.io/v1alpha1", "EventSource", Namespace(p), EventSource(p, n), nil, map[string]any{
		"spec": map[string]any{
			"eventBusName": EventBus(p),
			"template":     template,
			"service": map[string]any{"ports": []any{map[string]any{
				"name": "webhook", "port": int64(EventSourcePort), "targetPort": int64(EventSourcePort),
			}}},
			"github": map[string]any{GitHubEvent(p, n): event},
		},
	})
}

func sensor(a Application) *unstructured.Unstructured {
	p, n := a.Project, a.Name
	workflow := map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Workflow",
		"metadata": map[string]any{
			"generateName": WorkflowGenerateName(p, n),
			"labels":       map[string]any{LabelApplication: n},
		},
		"spec": map[string]any{
			"workflowTemplateRef": map[string]any{"name": WorkflowTemplate(p, n)},
			"arguments":           map[string]any{"parameters": []any{map[string]any{"name": GitShaParameter}}},
		},
	}
	return object("argoproj.io/v1alpha1", "Sensor", Namespace(p), Sensor(p, n), nil, map[string]any{
		"spec": map[string]any{
			"eventBusName": EventBus(p),
			"template":     map[string]any{"serviceAccountName": WorkflowServiceAccount(p)},
			"dependencies": []any{map[string]any{
				"name":            "github-dep",
				"eventSourceName": EventSource(p, n),
				"eventName":       GitHubEvent(p, n),
				"filters":         map[string]any{"data": PushFilters(a.Branch)},
			}},
			"triggers": []any{map[string]any{
				"template": map[string]any{
					"name": "workflow-trigger",
					"k8s": map[string]any{
						"operation": "create",
						"source":    map[string]any{"resource": workflow},
						"parameters": []any{map[string]any{
							"src":  map[string]any{"dependencyName": "github-dep", "dataKey": "body.after"},
							"dest": "spec.arguments.parameters.0.value",
						}},
					},
				},
				"retryStrategy": map[string]any{"steps": int64(3)},
			}},
		},
	})
}

// PushFilters are the Sensor's data filters: pushes to branch that leave a
// commit to build. GitHub reports a deleted branch as a push with deleted
// true and after all zeros; a run for it can only fail (and would become
// the application's last build), so both drop it: deleted is GitHub's own
// flag (type bool: Argo Events compares it as a boolean, not as text), and
// an all-zero after is what makes the event unbuildable (any object format).
// Tags (refs/tags/...) fail the anchored ref filter; a forced push passes,
// and its after is the new head.
func PushFilters(branch string) []any {
	return []any{
		map[string]any{"path": "body.ref", "type": "string", "comparator": "=", "value": []any{BranchFilter(branch)}},
		map[string]any{"path": "body.deleted", "type": "bool", "value": []any{"false"}},
		map[string]any{"path": "body.after", "type": "string", "comparator": "!=", "value": []any{"^0+$"}},
	}
}

// BranchFilter is the Sensor's body.ref filter for pushes to branch. Argo
// Events compiles a string filter as an unanchored regular expression, so
// the ref is quoted and anchored: "main" must not match main-old or
// maintenance, and "release+1" must match itself.
func BranchFilter(branch string) string {
	return "^" + regexp.QuoteMeta("refs/heads/"+branch) + "$"
}

// workflowTemplate builds the commit with kaniko, then rolls it out from
// inside the cluster: the deploy steps apply exactly the Deployment and
// IngressRoutes this package renders for that commit, with our field
// manager, so tofu and CI agree on every field and never fight. The run
// fails if the rollout does not complete within RolloutTimeout, and only
// then records the commit as released.
//
// Runs of one application hold a mutex, so they deploy one at a time and
// in the order the pushes arrived: a slow build of an older commit cannot
// finish last. A pinned application's runs only build.
//
// kaniko clones git://<host>/<owner>/<repo>.git over https, or over http
// when GIT_PULL_METHOD says so (a GitHub Enterprise server on http://).
func workflowTemplate(a Application, gh GitHubServer) (*unstructured.Unstructured, error) {
	p, n := a.Project, a.Name
	image := func(tag string) string { return Image(a.RegistryHost, a.RegistryProject, p, n, tag) }
	kaniko := corev1.Container{
		Name:    "main", // Argo names a container template's container "main"
		Image:   KanikoImage,
		Command: []string{KanikoCommand},
		Args: []string{
			fmt.Sprintf("--context=git://%s/%s/%s.git#refs/heads/%s#%s", gh.GitHost, a.Owner, a.Repo, a.Branch, ShaPlaceholder),
			"--dockerfile=Dockerfile",
			"--destination=" + image(ShaPlaceholder),
			"--destination=" + image("latest"),
			"--cache=true",
			"--cache-repo=" + BuildCache(a.RegistryHost, a.RegistryProject),
		},
		Env: []corev1.EnvVar{
			secretEnv("GIT_USERNAME", GitHubAccessSecret(p), "username"),
			secretEnv("GIT_PASSWORD", GitHubAccessSecret(p), "token"),
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "docker-config", MountPath: "/kaniko/.docker/"}},
	}
	if gh.HTTP {
		kaniko.Env = append(kaniko.Env, corev1.EnvVar{Name: "GIT_PULL_METHOD", Value: "http"})
	}
	build := tokenless("kaniko", p, kaniko)
	// The kubelet ends a build running longer (a hung clone or push); one
	// whose pod never starts is ended by the run's deadline.
	build["activeDeadlineSeconds"] = buildTimeout(a)
	tasks := []any{task("build", "kaniko", headTask)}
	tasks[0].(map[string]any)["when"] = isHead
	templates := []any{
		map[string]any{"name": "build", "dag": map[string]any{"tasks": nil}},
		build,
	}
	switch {
	case a.Dispatch != nil:
		tasks = append(tasks, afterBuild(task("update-config", "update-config")))
		templates = append(templates, tokenless("update-config", p, dispatchContainer(a, gh)))
		return workflowTemplateObject(a, gh, tasks, templates), nil
	case a.Pinned:
		return workflowTemplateObject(a, gh, tasks, templates), nil
	}

	deploySA := DeployServiceAccount(p, n)
	dep, err := deployment(a, ShaPlaceholder)
	if err != nil {
		return nil, err
	}
	deploy, err := applyStep("deploy", deploySA, deployFieldManager, dep)
	if err != nil {
		return nil, err
	}
	tasks = append(tasks, task("deploy", "deploy", "build"))
	templates = append(templates, deploy)
	done := []string{"deploy"}
	for i, d := range a.Domains {
		name := fmt.Sprintf("route-%d", i)
		step, err := applyStep(name, deploySA, deployFieldManager, ingressRoute(a, d))
		if err != nil {
			return nil, err
		}
		templates = append(templates, step)
		tasks = append(tasks, task(name, name, "deploy"))
		done = append(done, name)
	}
	if a.Replicas > 0 {
		templates = append(templates, rolloutStep(a, deploySA))
		tasks = append(tasks, task("rollout", "rollout", "deploy"))
		done = append(done, "rollout")
	}
	record, err := applyStep("record", deploySA, deployFieldManager, ReleaseRecord(a, ShaPlaceholder))
	if err != nil {
		return nil, err
	}
	templates = append(templates, record)
	if len(done) > 1 {
		done = done[1:] // the routes and the rollout follow the deploy step
	}
	tasks = append(tasks, task("record", "record", done...))
	tasks, templates = deployGate(a, deploySA, tasks, templates)
	return workflowTemplateObject(a, gh, tasks, templates), nil
}

// The branch-head check. Pushes in quick succession start runs at once,
// and the mutex takes them in creation order, to the second: an older
// commit's run can come after a newer one's and deploy it back. So a run
// first asks the forge for the branch head, and builds (and deploys) only
// when its commit is still the head: a superseded run ends without doing
// anything, and the head's own run, queued behind, deploys it. Checked
// while the run holds the mutex, so a push after the check has a run
// queued behind this one. One check is enough: the deploy steps follow
// the build in the same run.
const headTask = "head"

var isHead = fmt.Sprintf("'{{tasks.%s.outputs.result}}' == '%s'", headTask, ShaPlaceholder)

// afterBuild makes t wait for a build that ran and succeeded: the steps
// after a skipped build (a superseded commit) are omitted, and so are
// theirs (Argo omits a task whose dependencies were omitted).
func afterBuild(t map[string]any) map[string]any {
	t["depends"] = "build.Succeeded"
	return t
}

// headStep asks the forge for the branch's head commit (GitHub's commits
// API, answering with the bare SHA). Argo's agent sends it, with the
// project's token from its Secret; a transient failure is retried, and a
// run whose check fails builds nothing (the level-triggered catch-up runs
// it again).
func headStep(a Application, gh GitHubServer) map[string]any {
	segs := strings.Split(a.Branch, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return map[string]any{
		"name": headTask,
		"http": map[string]any{
			"url":            fmt.Sprintf("%srepos/%s/%s/commits/heads/%s", gh.APIURL, url.PathEscape(a.Owner), url.PathEscape(a.Repo), strings.Join(segs, "/")),
			"method":         "GET",
			"timeoutSeconds": int64(20),
			"headers": []any{
				map[string]any{"name": "Accept", "value": "application/vnd.github.sha"},
				map[string]any{"name": "Authorization", "valueFrom": map[string]any{"secretKeyRef": map[string]any{
					"name": GitHubAccessSecret(a.Project), "key": GitHubAuthorizationKey,
				}}},
			},
			"successCondition": "response.statusCode == 200",
		},
		"retryStrategy": map[string]any{"limit": int64(2), "backoff": map[string]any{"duration": "5s", "factor": int64(2)}},
	}
}

// The deploy gate. Argo copies the WorkflowTemplate into a run when it
// first sees it, before the run waits for the application's mutex: a run
// queued or building when tofu pins the commit, or changes the Deployment
// (replicas, environment, domains), would still deploy what the old
// template says. So each template's deploy steps carry their generation
// (DeployGeneration), tofu records the current one in the release
// ConfigMap (ReleaseGate), and after its build a run reads it: deploys
// when they match, and otherwise resubmits its commit to the current
// template, once, so the push is still deployed the current way; while
// pinned it stops there (it has built, all a pinned run does).
const (
	gateParameter      = "generation"
	releaseGateKey     = "template"
	noDeployGeneration = "none" // pinned, or deployed by dispatch
)

// DeployGeneration identifies the deploy steps of a's WorkflowTemplate
// ("none" when it has none).
func DeployGeneration(a Application) (string, error) {
	if a.Pinned || a.Dispatch != nil {
		return noDeployGeneration, nil
	}
	gh, err := ParseGitHubBaseURL(a.GitHubBaseURL)
	if err != nil {
		return "", err
	}
	tmpl, err := workflowTemplate(a, gh)
	if err != nil {
		return "", err
	}
	return ParseDeployGeneration(tmpl), nil
}

// ReleaseGate is what tofu applies, under a field manager of its own, to the release
// ConfigMap: the generation of the deploy steps runs may take.
func ReleaseGate(a Application, generation string) *unstructured.Unstructured {
	return releaseConfigMap(a.Project, a.Name, map[string]any{releaseGateKey: generation})
}

func deployGate(a Application, serviceAccount string, tasks, templates []any) ([]any, []any) {
	// The generation covers the deploy steps (not the build, which a
	// resubmitted run repeats from the cache anyway).
	b, _ := json.Marshal(templates[2:])
	sum := sha256.Sum256(b)
	gen := hex.EncodeToString(sum[:8])
	// Argo's when is a govaluate expression: quoted, the generation is a
	// string (unquoted, "748e30…" would be a number).
	current := fmt.Sprintf("'{{tasks.gate.outputs.parameters.%s}}' == '%s'", gateParameter, gen)
	for _, t := range tasks[1:] {
		t.(map[string]any)["when"] = current
	}
	tasks[1].(map[string]any)["depends"] = "gate" // the deploy step
	tasks = append(tasks,
		afterBuild(task("gate", "gate")),
		map[string]any{
			"name": "resubmit", "template": "resubmit", "depends": "gate",
			// Not when pinned: the build, all a pinned run does, is done.
			"when": fmt.Sprintf("'{{tasks.gate.outputs.parameters.%[1]s}}' != '%[2]s' && '{{tasks.gate.outputs.parameters.%[1]s}}' != '%[3]s' && '{{workflow.parameters.%[4]s}}' != 'true'",
				gateParameter, gen, noDeployGeneration, ResubmittedParameter),
		})
	run := BuildWorkflow(a.Project, a.Name, ShaPlaceholder)
	_ = unstructured.SetNestedSlice(run.Object, []any{
		map[string]any{"name": GitShaParameter, "value": ShaPlaceholder},
		map[string]any{"name": ResubmittedParameter, "value": "true"},
	}, "spec", "arguments", "parameters")
	manifest, _ := yaml.Marshal(run.Object)
	templates = append(templates,
		map[string]any{
			"name": "gate", "serviceAccountName": serviceAccount,
			"resource": map[string]any{
				"action": "get",
				"manifest": fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\n",
					ReleaseConfigMap(a.Project, a.Name), Namespace(a.Project)),
			},
			"outputs": map[string]any{"parameters": []any{map[string]any{
				"name": gateParameter, "valueFrom": map[string]any{"jsonPath": "{.data." + releaseGateKey + "}"},
			}}},
		},
		map[string]any{
			"name": "resubmit", "serviceAccountName": serviceAccount,
			"resource": map[string]any{"action": "create", "manifest": string(manifest)},
		})
	return tasks, templates
}

// task is a DAG task running template after dependencies. Argo allows
// one form per DAG, and afterBuild needs depends: a plain name there means
// the task succeeded or was skipped, and an omitted one omits its
// dependents.
func task(name, template string, dependencies ...string) map[string]any {
	t := map[string]any{"name": name, "template": template}
	if len(dependencies) > 0 {
		t["depends"] = strings.Join(dependencies, " && ")
	}
	return t
}

// tokenless runs a container with no service-account token: it runs code
// from the repository (a Dockerfile's RUN) or needs no API. Argo's
// executor still reports through its own identity.
func tokenless(name, p string, c corev1.Container) map[string]any {
	return map[string]any{
		"name":                         name,
		"container":                    fromTyped(c),
		"serviceAccountName":           ExecutorServiceAccount(p),
		"automountServiceAccountToken": false,
		"executor":                     map[string]any{"serviceAccountName": ExecutorServiceAccount(p)},
	}
}

// rolloutStep waits until every pod runs the new template and is
// available, and fails the run after RolloutTimeout. It is its own step
// (a pod started after the deploy step ended) so the Deployment controller
// has seen the new generation: right after the apply, status still
// describes the old ReplicaSet and would satisfy the condition.
func rolloutStep(a Application, serviceAccount string) map[string]any {
	r := strconv.FormatInt(a.Replicas, 10)
	var conds []string
	for _, f := range []string{"replicas", "updatedReplicas", "readyReplicas", "availableReplicas"} {
		conds = append(conds, "status."+f+"=="+r)
	}
	return map[string]any{
		"name": "rollout", "serviceAccountName": serviceAccount, "activeDeadlineSeconds": rolloutTimeout(a),
		"resource": map[string]any{
			"action":           "get",
			"successCondition": strings.Join(conds, ","),
			"manifest": fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: %s\n",
				Deployment(a.Name), Namespace(a.Project)),
		},
	}
}

func rolloutTimeout(a Application) int64 {
	if a.RolloutTimeout <= 0 {
		return DefaultRolloutTimeout
	}
	return a.RolloutTimeout
}

func buildTimeout(a Application) int64 {
	if a.BuildTimeout <= 0 {
		return DefaultBuildTimeout
	}
	return a.BuildTimeout
}

// RunDeadline is the seconds after which a run of the application fails
// as a whole: its build and rollout deadlines and RunDeadlineMargin. It
// covers what the steps' own deadlines cannot (the kubelet enforces those
// from a pod's start, so a pod that is never scheduled waits forever), and
// failing releases the application's mutex for the next push. Argo counts
// it from the run's start, which comes once the run holds the mutex: runs
// queued behind a long one are not failed for waiting.
func RunDeadline(a Application) int64 {
	d := buildTimeout(a) + RunDeadlineMargin
	if a.Dispatch == nil && !a.Pinned && a.Replicas > 0 {
		d += rolloutTimeout(a)
	}
	return d
}

func workflowTemplateObject(a Application, gh GitHubServer, tasks, templates []any) *unstructured.Unstructured {
	p, n := a.Project, a.Name
	tasks = append(tasks, task(headTask, headTask))
	templates = append(templates, headStep(a, gh))
	params := []any{map[string]any{"name": GitShaParameter}}
	if a.Dispatch == nil && !a.Pinned {
		params = append(params, map[string]any{"name": ResubmittedParameter, "value": "false"})
	}
	templates[0].(map[string]any)["dag"].(map[string]any)["tasks"] = tasks
	return object("argoproj.io/v1alpha1", "WorkflowTemplate", Namespace(p), WorkflowTemplate(p, n), nil, map[string]any{
		"spec": map[string]any{
			"serviceAccountName":    ExecutorServiceAccount(p),
			"entrypoint":            "build",
			"activeDeadlineSeconds": RunDeadline(a),
			"arguments":             map[string]any{"parameters": params},
			"synchronization":       map[string]any{"mutexes": []any{map[string]any{"name": DeployMutex(p, n)}}},
			"ttlStrategy": map[string]any{
				"secondsAfterSuccess": int64(workflowTTLAfterSuccess), "secondsAfterFailure": int64(workflowTTLAfterFailure),
			},
			"podGC":            map[string]any{"strategy": "OnPodSuccess"},
			"workflowMetadata": map[string]any{"labels": map[string]any{LabelApplication: n}},
			"volumes": []any{fromTyped(corev1.Volume{Name: "docker-config", VolumeSource: corev1.VolumeSource{
				Secret: &corev1.SecretVolumeSource{
					SecretName: RegistrySecret,
					Items:      []corev1.KeyToPath{{Key: corev1.DockerConfigJsonKey, Path: "config.json"}},
				},
			}})},
			"templates": templates,
		},
	})
}

// dispatchContainer posts the repository_dispatch with the project's
// GitHub token, which stays in its Secret (an environment variable).
func dispatchContainer(a Application, gh GitHubServer) corev1.Container {
	payload := fmt.Sprintf(`{"event_type":%q,"client_payload":{"project":%q,"application":%q,"hash":"%s"}}`,
		a.Dispatch.EventType, a.Project, a.Name, ShaPlaceholder)
	return corev1.Container{
		Name:    "main",
		Image:   CurlImage,
		Command: []string{"curl"},
		Args: []string{
			"--fail-with-body", "--silent", "--show-error", "-X", "POST",
			"-H", "Accept: application/vnd.github+json",
			"-H", "Authorization: Bearer $(GITHUB_TOKEN)",
			"-d", payload,
			gh.APIURL + "repos/" + a.Dispatch.Repository + "/dispatches",
		},
		Env: []corev1.EnvVar{secretEnv("GITHUB_TOKEN", GitHubAccessSecret(a.Project), "token")},
	}
}

// deployFieldManager is the provider's field manager, under which CI's
// deploy steps apply what tofu applies (engine.FieldManager).
const deployFieldManager = "terraform-provider-idp"

// applyStep server-side applies obj, as the provider does, under manager.
func applyStep(name, serviceAccount, manager string, obj *unstructured.Unstructured) (map[string]any, error) {
	manifest, err := yaml.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	flags := []any{"--server-side", "--force-conflicts", "--field-manager=" + manager}
	return map[string]any{
		"name": name, "serviceAccountName": serviceAccount,
		// Argo hands the step's template to its pod in an environment
		// variable, and Kubernetes expands $(VAR) in those: with service
		// links, a Service "cache" would turn the app's $(CACHE_PORT) into
		// "tcp://10.96.x.y:6379" before kubectl sees the manifest. Without
		// them no such variable exists, and $(VAR) stays for the app's pods.
		"podSpecPatch": `{"enableServiceLinks":false}`,
		"resource":     map[string]any{"action": "apply", "flags": flags, "manifest": string(manifest)},
	}, nil
}

// ReleaseRecord is the ConfigMap recording the commit last rolled out (by
// CI's record step, after a complete rollout, or by a tofu apply). It
// outlives the Deployment, so refresh can tell "deleted" from "never
// built" and apply restores the Deployment at that commit. It is not one
// of the objects tofu diffs: a plan made while a run is between its rollout
// and its record step must not show a change.
func ReleaseRecord(a Application, commit string) *unstructured.Unstructured {
	return releaseConfigMap(a.Project, a.Name, map[string]any{releaseCommitKey: commit})
}

const releaseCommitKey = "commit"

// releaseConfigMap is the part of application n's release ConfigMap one
// writer owns: CI's record step, tofu's gate, the catch-up. Argo reads it
// into the catch-up's parameters (configMapKeyRef), and only from
// ConfigMaps with its label.
func releaseConfigMap(p, n string, data map[string]any) *unstructured.Unstructured {
	return object("v1", "ConfigMap", Namespace(p), ReleaseConfigMap(p, n),
		map[string]string{argoConfigMapType: "Parameter"}, map[string]any{"data": data})
}

const argoConfigMapType = "workflows.argoproj.io/configmap-type"

// deployRules let application A's deploy steps write A's Deployment,
// routes and release record, by name, and nothing else: a build of one
// application cannot touch another's objects or read any Secret.
// (resourceNames also limits the create that a server-side apply of a new
// object needs, because the name is in the request.)
func deployRules(a Application) []rbacv1.PolicyRule {
	write := []string{"get", "create", "patch"}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: write, ResourceNames: []string{Deployment(a.Name)}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: write, ResourceNames: []string{ReleaseConfigMap(a.Project, a.Name)}},
	}
	if len(a.Domains) > 0 { // empty resourceNames would mean every route
		var routes []string
		for _, d := range a.Domains {
			routes = append(routes, IngressRoute(a.Project, a.Name, d))
		}
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"traefik.io"}, Resources: []string{"ingressroutes"}, Verbs: write, ResourceNames: routes})
	}
	// A run made from an older template resubmits its commit (deployGate).
	rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows"}, Verbs: []string{"create"}})
	return append(rules, executorRules...)
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key,
	}}}
}

// deployment renders A's Deployment for tag (a commit, or ShaPlaceholder
// inside the WorkflowTemplate).
func deployment(a Application, tag string) (*unstructured.Unstructured, error) {
	app := Deployment(a.Name)
	var env []corev1.EnvVar
	for _, db := range a.Databases {
		e, err := DatabaseEnv(a.Project, db)
		if err != nil {
			return nil, fmt.Errorf("databases: %w", err)
		}
		env = append(env, e...)
	}
	labels := map[string]string{"app": app}
	port := int32(a.Port)
	spec := appsv1.DeploymentSpec{
		Replicas: ptr.To(int32(a.Replicas)),
		Selector: &metav1.LabelSelector{MatchLabels: labels},
		Strategy: appsv1.DeploymentStrategy{
			Type: appsv1.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
			},
		},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: ptr.To(int64(120)),
				ImagePullSecrets:              []corev1.LocalObjectReference{{Name: RegistrySecret}},
				Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
					PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
						Weight: 100,
						PodAffinityTerm: corev1.PodAffinityTerm{
							LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
								Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{app},
							}}},
							TopologyKey: corev1.LabelHostname,
						},
					}},
				}},
				Containers: []corev1.Container{{
					Name:  app,
					Image: Image(a.RegistryHost, a.RegistryProject, a.Project, a.Name, tag),
					Ports: []corev1.ContainerPort{{ContainerPort: port, Protocol: corev1.ProtocolTCP}},
					Env:   env,
					EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: AppSecret(a.Project, a.Name)},
						Optional:             ptr.To(true),
					}}},
					Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
						Exec: &corev1.ExecAction{Command: []string{"sleep", "10"}},
					}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(port)}},
						InitialDelaySeconds: 20, PeriodSeconds: 10, SuccessThreshold: 3,
					},
				}},
			},
		},
	}
	if v := databasePasswordsAnnotation(a.Databases); v != "" {
		spec.Template.Annotations = map[string]string{AnnotationDatabaseVersions: v}
	}
	return object("apps/v1", "Deployment", Namespace(a.Project), app, labels, map[string]any{"spec": fromTyped(spec)}), nil
}

// AnnotationRestartedFor, on an application's pod template, is the version
// of its Vault environment the pods were restarted for. The provider sets
// it alone, under RestartFieldManager, when a new version is synced: not
// part of the Deployment it renders, so adopting a running application
// restarts nothing, and CI's deploy steps (which apply the rendered
// Deployment) neither own nor remove it.
const AnnotationRestartedFor = "idpkit.io/restarted-for-vault-version"

// RestartPatch is the server-side apply body that restarts application
// a's pods for version of its environment.
func RestartPatch(a Application, version int) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": Deployment(a.Name), "namespace": Namespace(a.Project)},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": map[string]any{
			AnnotationRestartedFor: strconv.Itoa(version),
		}}}},
	}}
	return obj
}

// webhookRoute brings GitHub's webhooks, posted to the public webhook URL,
// from Traefik to the Service Argo Events makes for the EventSource.
func webhookRoute(a Application, host string) *unstructured.Unstructured {
	p, n := a.Project, a.Name
	return object("traefik.io/v1alpha1", "IngressRoute", Namespace(p), WebhookRoute(p, n), nil,
		map[string]any{"spec": map[string]any{
			"entryPoints": []any{"web", "websecure"},
			"routes": []any{map[string]any{
				"match":    fmt.Sprintf("Host(`%s`) && Path(`%s`)", host, WebhookEndpoint(p, n)),
				"kind":     "Rule",
				"services": []any{map[string]any{"name": EventSourceService(p, n), "port": int64(EventSourcePort)}},
			}},
		}})
}

func ingressRoute(a Application, domain string) *unstructured.Unstructured {
	return object("traefik.io/v1alpha1", "IngressRoute", Namespace(a.Project), IngressRoute(a.Project, a.Name, domain), nil,
		map[string]any{"spec": map[string]any{
			"entryPoints": []any{"web", "websecure"},
			"routes": []any{map[string]any{
				"match":    fmt.Sprintf("Host(`%s`)", domain),
				"kind":     "Rule",
				"services": []any{map[string]any{"name": Service(a.Name), "port": a.Port}},
			}},
		}})
}

// ImageTag is the tag of an image reference, "" without one: the commit
// of an image that Image rendered.
func ImageTag(image string) string {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	return image[i+1:]
}

// BuildWorkflow is a run of the application's WorkflowTemplate for commit
// sha, as its Sensor would create it.
func BuildWorkflow(p, a, sha string) *unstructured.Unstructured {
	wf := object("argoproj.io/v1alpha1", "Workflow", Namespace(p), "", map[string]string{LabelApplication: a}, map[string]any{
		"spec": map[string]any{
			"workflowTemplateRef": map[string]any{"name": WorkflowTemplate(p, a)},
			"arguments": map[string]any{"parameters": []any{map[string]any{
				"name": GitShaParameter, "value": sha,
			}}},
		},
	})
	wf.SetGenerateName(WorkflowGenerateName(p, a))
	return wf
}

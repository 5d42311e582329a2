package render

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Project is everything an idp_project renders from.
type Project struct {
	Name             string
	EventBusReplicas int64
	Labels           map[string]string // on the Namespace
	Annotations      map[string]string // on the Namespace

	// Isolation adds a NetworkPolicy that admits traffic to the project's
	// pods only from the project itself, from AllowedNamespaces and from
	// AllowedCIDRs (an ingress that is not a pod: host network, outside).
	Isolation         bool
	AllowedNamespaces []string
	AllowedCIDRs      []string

	GitHubAccess VaultSecret // keys username, token
	Registry     VaultSecret // key .dockerconfigjson, or username + password
	RegistryHost string      // to build .dockerconfigjson from username + password
}

// ProjectObjects renders a project in apply order (the Namespace first). It
// fails only when Vault values are given but lack a required key.
func ProjectObjects(p Project) ([]*unstructured.Unstructured, error) {
	ns := Namespace(p.Name)
	namespace := object("v1", "Namespace", "", ns, p.Labels, nil)
	if len(p.Annotations) > 0 {
		namespace.SetAnnotations(p.Annotations)
	}

	objs := []*unstructured.Unstructured{
		namespace,
		object("v1", "ServiceAccount", ns, WorkflowServiceAccount(p.Name), nil, nil),
	}
	objs = append(objs, roleObjects(ns, WorkflowRole(p.Name), WorkflowServiceAccount(p.Name), workflowRules)...)
	objs = append(objs, executorObjects(p.Name)...)
	objs = append(objs,
		object("argoproj.io/v1alpha1", "EventBus", ns, EventBus(p.Name), nil, map[string]any{
			// No antiAffinity: false. It is the default, and the Argo Events
			// controller's updates drop false booleans (omitempty), which would
			// read as drift on every refresh.
			"spec": map[string]any{"nats": map[string]any{"native": map[string]any{
				"replicas": p.EventBusReplicas, "auth": "none",
			}}},
		}),
	)

	gh, err := githubAccessData(p.GitHubAccess)
	if err != nil {
		return nil, err
	}
	objs = append(objs, secret(ns, GitHubAccessSecret(p.Name), string(corev1.SecretTypeOpaque), p.GitHubAccess, gh))

	reg, err := registryData(p.Registry, p.RegistryHost)
	if err != nil {
		return nil, err
	}
	objs = append(objs, secret(ns, RegistrySecret, string(corev1.SecretTypeDockerConfigJson), p.Registry, reg))

	if p.Isolation {
		objs = append(objs, isolationPolicy(p))
	}
	return objs, nil
}

// workflowRules is all the project's service account may do, and only in
// its own namespace. It runs the EventSource pods (Argo Events v1.9,
// github: nothing; their Secrets are mounted volumes, and the GitHub event
// source is not leader-elected) and the Sensor pods, whose k8s trigger
// creates Workflows (operation create, no live object or policy, so no get
// or watch; leader election goes through the NATS EventBus, not Leases).
// Workflow pods run as ExecutorServiceAccount and DeployServiceAccount.
//
// No Secrets: pods get theirs mounted by the kubelet.
var workflowRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflows"}, Verbs: []string{"create"}},
}

// executorRules is what Argo's executor needs in every workflow pod
// (Argo Workflows v3.7, emissary, no artifacts): create and patch its
// WorkflowTaskResult (docs/workflow-rbac.md). Nothing else: no pods patch,
// no pods/log.
var executorRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}},
}

// executorObjects give build pods an executor identity while their own
// containers (kaniko, which runs the repository's Dockerfile) get no token
// at all. Argo mounts the executor's token from a legacy token Secret,
// which the token controller fills.
func executorObjects(p string) []*unstructured.Unstructured {
	ns := Namespace(p)
	token := object("v1", "Secret", ns, ExecutorTokenSecret(p), nil, map[string]any{"type": string(corev1.SecretTypeServiceAccountToken)})
	token.SetAnnotations(map[string]string{corev1.ServiceAccountNameKey: ExecutorServiceAccount(p)})
	return append([]*unstructured.Unstructured{
		object("v1", "ServiceAccount", ns, ExecutorServiceAccount(p), nil, nil),
		token,
	}, roleObjects(ns, ExecutorRole(p), ExecutorServiceAccount(p), append(agentRules(p), executorRules...))...)
}

// agentRules are what Argo's agent needs to run the project's HTTP steps
// (the branch-head check): it runs as the runs' service account, the
// executor's, takes its tasks from a WorkflowTaskSet (docs/http-template.md)
// and reads the Authorization header from the GitHub access Secret, that
// one Secret only. Build containers get no token of it (tokenless).
func agentRules(p string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtasksets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtasksets/status"}, Verbs: []string{"patch"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: []string{GitHubAccessSecret(p)}},
	}
}

// roleObjects grants rules to a service account in its namespace: a Role
// and a RoleBinding of the same name.
func roleObjects(ns, role, serviceAccount string, rules []rbacv1.PolicyRule) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		object("rbac.authorization.k8s.io/v1", "Role", ns, role, nil, fromTyped(rbacv1.Role{Rules: rules}, "rules")),
		object("rbac.authorization.k8s.io/v1", "RoleBinding", ns, role, nil, fromTyped(rbacv1.RoleBinding{
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: serviceAccount, Namespace: ns}},
		}, "roleRef", "subjects")),
	}
}

func isolationPolicy(p Project) *unstructured.Unstructured {
	from := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	if len(p.AllowedNamespaces) > 0 {
		from = append(from, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: p.AllowedNamespaces,
			}},
		}})
	}
	for _, c := range p.AllowedCIDRs {
		from = append(from, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: c}})
	}
	spec := networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: from}},
	}
	return object("networking.k8s.io/v1", "NetworkPolicy", Namespace(p.Name), IsolationPolicy(p.Name), nil,
		map[string]any{"spec": fromTyped(spec)})
}

func githubAccessData(src VaultSecret) (map[string]string, error) {
	if src.Values == nil {
		return nil, nil
	}
	if err := requireKeys(src, "username", "token"); err != nil {
		return nil, err
	}
	return map[string]string{
		"username": src.Values["username"], "token": src.Values["token"],
		GitHubAuthorizationKey: "Bearer " + src.Values["token"],
	}, nil
}

// GitHubAuthorizationKey is the key of the project's GitHub access Secret
// holding the token as an Authorization header: Argo's HTTP steps (the
// branch-head check, headStep) take a header's value whole from a Secret.
const GitHubAuthorizationKey = "authorization"

// registryData accepts a ready .dockerconfigjson or builds one from
// username + password for the registry host.
func registryData(src VaultSecret, host string) (map[string]string, error) {
	if src.Values == nil {
		return nil, nil
	}
	if cfg, ok := src.Values[corev1.DockerConfigJsonKey]; ok {
		return map[string]string{corev1.DockerConfigJsonKey: cfg}, nil
	}
	if err := requireKeys(src, "username", "password"); err != nil {
		return nil, fmt.Errorf("%w (or a ready %s)", err, corev1.DockerConfigJsonKey)
	}
	if host == "" {
		return nil, fmt.Errorf("the registry host is needed to build %s from Vault secret %s: set registry { host = ... } in the provider configuration",
			corev1.DockerConfigJsonKey, src.FullPath())
	}
	user, pass := src.Values["username"], src.Values["password"]
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{host: map[string]string{
		"username": user, "password": pass,
		"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)),
	}}})
	if err != nil {
		return nil, err
	}
	return map[string]string{corev1.DockerConfigJsonKey: string(cfg)}, nil
}

func requireKeys(src VaultSecret, keys ...string) error {
	var missing []string
	for _, k := range keys {
		if src.Values[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("Vault secret %s (version %d) lacks key(s) %q", src.FullPath(), src.Version, missing)
	}
	return nil
}

// Package objcheck checks rendered objects offline the way the API server
// and the controllers that act on them would: names valid for their kind
// (and for the names controllers derive from them), labels, selectors,
// containers, ports and volumes as Kubernetes validates them, typed fields
// known to Kubernetes' Go types, and custom resources against their CRDs'
// schemas (Argo Events' own JSON schema, made strict, for its minimal CRDs).
// The fuzz tests of render and of the provider's validators use it.
package objcheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// Checker holds the compiled schemas of the custom resources. CRD files
// are read and compiled when an object of theirs is first checked: the
// Argo Workflows CRDs take seconds, and a fuzz worker pays that per process.
type Checker struct {
	dir     string
	mu      sync.Mutex
	comp    *jsonschema.Compiler
	schemas map[string]*jsonschema.Schema // "group/Kind"
	errs    map[string]error              // a CRD file that failed, by kind
}

// crdFiles are the CRDs (under the CRD directory) of the kinds we render.
var crdFiles = map[string]string{
	"argoproj.io/WorkflowTemplate": "argo-workflows/argoproj.io_workflowtemplates.yaml",
	"argoproj.io/Workflow":         "argo-workflows/argoproj.io_workflows.yaml",
	"traefik.io/IngressRoute":      "traefik/traefik.io_crds.yaml",
	"traefik.io/Middleware":        "traefik/traefik.io_crds.yaml",
}

// New reads Argo Events' schema under dir (../shared/crds); the other
// CRDs there are read when needed.
func New(dir string) (*Checker, error) {
	c := &Checker{dir: dir, comp: jsonschema.NewCompiler(), schemas: map[string]*jsonschema.Schema{}, errs: map[string]error{}}

	// Argo Events ships minimal CRDs (its spec preserves unknown fields);
	// its JSON schema, with unknown fields refused, is the real contract.
	raw, err := os.ReadFile(filepath.Join(dir, "argo-events", "schema.json")) //nolint:gosec // a path the test chose
	if err != nil {
		return nil, err
	}
	var events map[string]any
	if err := json.Unmarshal(raw, &events); err != nil {
		return nil, err
	}
	for _, def := range events["definitions"].(map[string]any) {
		if d, ok := def.(map[string]any); ok {
			if _, has := d["properties"]; has {
				if _, set := d["additionalProperties"]; !set {
					d["additionalProperties"] = false
				}
			}
		}
	}
	if err := c.comp.AddResource("events.json", events); err != nil {
		return nil, err
	}
	for _, kind := range []string{"EventSource", "Sensor", "EventBus"} {
		s, err := c.comp.Compile("events.json#/definitions/io.argoproj.events.v1alpha1." + kind)
		if err != nil {
			return nil, err
		}
		c.schemas["argoproj.io/"+kind] = s
	}
	for _, f := range crdFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// schema is the compiled schema of key ("group/Kind"), nil for a kind
// without one.
func (c *Checker) schema(key string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schemas[key]; ok {
		return s, nil
	}
	if err := c.errs[key]; err != nil {
		return nil, err
	}
	file, ok := crdFiles[key]
	if !ok {
		return nil, nil
	}
	err := c.load(file)
	if err == nil && c.schemas[key] == nil {
		err = fmt.Errorf("%s has no CRD for %s", file, key)
	}
	if err != nil {
		c.errs[key] = err
	}
	return c.schemas[key], err
}

// load compiles the schemas of the kinds we render that file defines.
func (c *Checker) load(file string) error {
	raw, err := os.ReadFile(filepath.Join(c.dir, file)) //nolint:gosec // a path the test chose
	if err != nil {
		return err
	}
	for _, doc := range bytes.Split(raw, []byte("\n---")) {
		var crd struct {
			Spec struct {
				Group string `json:"group"`
				Names struct {
					Kind string `json:"kind"`
				} `json:"names"`
				Versions []struct {
					Name   string `json:"name"`
					Schema struct {
						OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(doc, &crd); err != nil || crd.Spec.Names.Kind == "" {
			continue
		}
		key := crd.Spec.Group + "/" + crd.Spec.Names.Kind
		if crdFiles[key] != file {
			continue // only what we render: compiling the rest costs seconds
		}
		v := crd.Spec.Versions[0]
		url := key + "/" + v.Name + ".json"
		if err := c.comp.AddResource(url, openAPIToJSONSchema(v.Schema.OpenAPIV3Schema)); err != nil {
			return err
		}
		s, err := c.comp.Compile(url)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		c.schemas[key] = s
	}
	return nil
}

// openAPIToJSONSchema turns a CRD's structural schema into JSON Schema:
// int-or-string takes either, nullable takes null, unknown fields are
// refused, and the API server's extensions are dropped.
func openAPIToJSONSchema(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if strings.HasPrefix(k, "x-kubernetes-") || k == "nullable" || k == "format" {
				continue
			}
			out[k] = openAPIToJSONSchema(e)
		}
		if v["x-kubernetes-int-or-string"] == true {
			delete(out, "type")
			out["anyOf"] = []any{map[string]any{"type": "integer"}, map[string]any{"type": "string"}}
		}
		// The API server prunes fields its schema does not know (a
		// strict apply refuses them): a pruned field would do nothing.
		if _, has := v["properties"]; has && v["x-kubernetes-preserve-unknown-fields"] != true {
			if _, set := v["additionalProperties"]; !set {
				out["additionalProperties"] = false
			}
		}
		if v["nullable"] == true {
			if t, ok := out["type"].(string); ok {
				out["type"] = []any{t, "null"}
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = openAPIToJSONSchema(e)
		}
		return out
	}
	return v
}

// Check reports what the API server (or a controller acting on the object)
// would refuse in obj.
func (c *Checker) Check(obj *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	kind, name, ns := obj.GetKind(), obj.GetName(), obj.GetNamespace()
	meta := field.NewPath("metadata")
	if name != "" || obj.GetGenerateName() == "" {
		errs = append(errs, nameErrors(meta.Child("name"), obj.GroupVersionKind().Group, kind, name)...)
	}
	if ns != "" {
		errs = append(errs, dns1123Label(meta.Child("namespace"), ns)...)
	}
	if kind != "Namespace" && ns == "" {
		errs = append(errs, field.Required(meta.Child("namespace"), "every object we render but the Namespace is namespaced"))
	}
	errs = append(errs, metav1validation.ValidateLabels(obj.GetLabels(), meta.Child("labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(obj.GetAnnotations(), meta.Child("annotations"))...)
	if obj.GetGenerateName() != "" {
		// A generated name adds 5 characters.
		errs = append(errs, nameErrors(meta.Child("generateName"), obj.GroupVersionKind().Group, kind, obj.GetGenerateName()+"abcde")...)
	}

	group := obj.GroupVersionKind().Group
	if group == "argoproj.io" && kind == "CronWorkflow" {
		return append(errs, c.checkCronWorkflow(obj)...)
	}
	s, err := c.schema(group + "/" + kind)
	if err != nil {
		errs = append(errs, field.InternalError(field.NewPath(""), err))
	}
	if s != nil {
		b, err := json.Marshal(obj.Object)
		if err == nil {
			var doc any
			doc, err = jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err == nil {
				err = s.Validate(doc)
			}
		}
		if err != nil {
			errs = append(errs, field.Invalid(field.NewPath(""), kind, "does not validate against its CRD: "+err.Error()))
		}
	}
	switch {
	case group == "" || group == "apps" || group == "rbac.authorization.k8s.io" || group == "networking.k8s.io":
		errs = append(errs, checkTyped(obj)...)
	case group == "argoproj.io" || group == "traefik.io":
		if s == nil {
			errs = append(errs, field.NotSupported[string](field.NewPath("kind"), kind, nil))
		}
	default:
		errs = append(errs, field.NotSupported[string](field.NewPath("apiVersion"), obj.GetAPIVersion(), nil))
	}
	errs = append(errs, derivedNames(obj)...)
	return errs
}

// cronWorkflowFields are CronWorkflowSpec's fields besides workflowSpec
// (Argo Workflows v3.7.3, cron_workflow_types.go).
var cronWorkflowFields = map[string]bool{
	"schedule": true, "schedules": true, "concurrencyPolicy": true, "suspend": true,
	"startingDeadlineSeconds": true, "successfulJobsHistoryLimit": true, "failedJobsHistoryLimit": true,
	"timezone": true, "workflowMetadata": true, "stopStrategy": true, "when": true,
}

// checkCronWorkflow: ../shared carries no CronWorkflow CRD, and its
// workflowSpec is a WorkflowTemplate's spec, so it is checked against
// that CRD; the other fields must be CronWorkflowSpec's.
func (c *Checker) checkCronWorkflow(obj *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	p := field.NewPath("spec")
	for k := range spec {
		if k != "workflowSpec" && !cronWorkflowFields[k] {
			errs = append(errs, field.NotSupported[string](p.Child(k), k, nil))
		}
	}
	if policy, ok := spec["concurrencyPolicy"]; ok && policy != "Allow" && policy != "Forbid" && policy != "Replace" {
		errs = append(errs, field.NotSupported(p.Child("concurrencyPolicy"), policy, []string{"Allow", "Forbid", "Replace"}))
	}
	ws, ok := spec["workflowSpec"].(map[string]any)
	if !ok {
		return append(errs, field.Required(p.Child("workflowSpec"), ""))
	}
	tmpl := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
		"metadata": map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()},
		"spec":     ws,
	}}
	for _, e := range c.Check(tmpl) {
		e.Field = "spec.workflowSpec" + strings.TrimPrefix(e.Field, "spec")
		errs = append(errs, e)
	}
	return errs
}

// nameErrors: each kind's name rule, as its registry validates it.
func nameErrors(p *field.Path, group, kind, name string) field.ErrorList {
	switch {
	case kind == "Namespace":
		return dns1123Label(p, name)
	case kind == "Service" && group == "":
		// ValidateServiceName: a DNS-1035 label.
		return msgs(p, name, validation.IsDNS1035Label(name))
	case group == "rbac.authorization.k8s.io":
		return msgs(p, name, path.IsValidPathSegmentName(name))
	}
	return msgs(p, name, validation.IsDNS1123Subdomain(name))
}

func dns1123Label(p *field.Path, v string) field.ErrorList {
	return msgs(p, v, validation.IsDNS1123Label(v))
}

func msgs(p *field.Path, v string, ms []string) field.ErrorList {
	var errs field.ErrorList
	for _, m := range ms {
		errs = append(errs, field.Invalid(p, v, m))
	}
	return errs
}

// checkTyped decodes obj into Kubernetes' Go type, refusing unknown fields
// (a misspelt key would be dropped by the API server), and checks what the
// API server validates there.
func checkTyped(obj *unstructured.Unstructured) field.ErrorList {
	var typed any
	switch obj.GetKind() {
	case "Namespace":
		typed = &corev1.Namespace{}
	case "ServiceAccount":
		typed = &corev1.ServiceAccount{}
	case "Secret":
		typed = &corev1.Secret{}
	case "ConfigMap":
		typed = &corev1.ConfigMap{}
	case "Service":
		typed = &corev1.Service{}
	case "Deployment":
		typed = &appsv1.Deployment{}
	case "StatefulSet":
		typed = &appsv1.StatefulSet{}
	case "Role":
		typed = &rbacv1.Role{}
	case "RoleBinding":
		typed = &rbacv1.RoleBinding{}
	case "NetworkPolicy":
		typed = &networkingv1.NetworkPolicy{}
	default:
		return field.ErrorList{field.NotSupported[string](field.NewPath("kind"), obj.GetKind(), nil)}
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(obj.Object, typed, true); err != nil {
		return field.ErrorList{field.Invalid(field.NewPath(""), obj.GetKind(), "does not decode strictly: "+err.Error())}
	}
	var errs field.ErrorList
	switch o := typed.(type) {
	case *corev1.Secret:
		// Type-specific rules (ValidateSecret); plans render Secrets
		// without data, apply with it.
		if o.Type == corev1.SecretTypeDockerConfigJson && o.Data != nil && len(o.Data[corev1.DockerConfigJsonKey]) == 0 && o.StringData[corev1.DockerConfigJsonKey] == "" {
			errs = append(errs, field.Required(field.NewPath("data").Key(corev1.DockerConfigJsonKey), ""))
		}
		if o.Type == corev1.SecretTypeServiceAccountToken && o.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
		for k := range o.Data {
			errs = append(errs, msgs(field.NewPath("data").Key(k), k, validation.IsConfigMapKey(k))...)
		}
		for k := range o.StringData {
			errs = append(errs, msgs(field.NewPath("stringData").Key(k), k, validation.IsConfigMapKey(k))...)
		}
	case *corev1.ConfigMap:
		for k := range o.Data {
			errs = append(errs, msgs(field.NewPath("data").Key(k), k, validation.IsConfigMapKey(k))...)
		}
	case *corev1.Service:
		p := field.NewPath("spec")
		errs = append(errs, metav1validation.ValidateLabels(o.Spec.Selector, p.Child("selector"))...)
		for i, port := range o.Spec.Ports {
			pp := p.Child("ports").Index(i)
			if port.Name != "" || len(o.Spec.Ports) > 1 {
				errs = append(errs, msgs(pp.Child("name"), port.Name, validation.IsDNS1123Label(port.Name))...)
			}
			errs = append(errs, portNumber(pp.Child("port"), port.Port)...)
			if port.TargetPort.StrVal != "" {
				errs = append(errs, msgs(pp.Child("targetPort"), port.TargetPort.StrVal, validation.IsValidPortName(port.TargetPort.StrVal))...)
			}
		}
	case *appsv1.Deployment:
		p := field.NewPath("spec")
		errs = append(errs, selectorMatches(p, o.Spec.Selector, o.Spec.Template.Labels)...)
		errs = append(errs, podSpec(p.Child("template", "spec"), o.Spec.Template.Spec, nil)...)
		errs = append(errs, metav1validation.ValidateLabels(o.Spec.Template.Labels, p.Child("template", "metadata", "labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(o.Spec.Template.Annotations, p.Child("template", "metadata", "annotations"))...)
	case *appsv1.StatefulSet:
		p := field.NewPath("spec")
		errs = append(errs, selectorMatches(p, o.Spec.Selector, o.Spec.Template.Labels)...)
		claims := map[string]bool{}
		for i, c := range o.Spec.VolumeClaimTemplates {
			errs = append(errs, dns1123Label(p.Child("volumeClaimTemplates").Index(i).Child("metadata", "name"), c.Name)...)
			claims[c.Name] = true
		}
		errs = append(errs, podSpec(p.Child("template", "spec"), o.Spec.Template.Spec, claims)...)
		errs = append(errs, metav1validation.ValidateLabels(o.Spec.Template.Labels, p.Child("template", "metadata", "labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(o.Spec.Template.Annotations, p.Child("template", "metadata", "annotations"))...)
		// The controller names pods "<name>-<ordinal>" (their hostname, a
		// DNS label) and labels them controller-revision-hash
		// "<name>-<hash of up to 10 digits>".
		replicas := int32(1)
		if o.Spec.Replicas != nil {
			replicas = *o.Spec.Replicas
		}
		pod := o.Name + "-" + strconv.Itoa(int(max(replicas, 1))-1)
		errs = append(errs, msgs(field.NewPath("metadata", "name"), pod, prefixed("its pods' hostname", validation.IsDNS1123Label(pod)))...)
		hash := o.Name + "-4294967295"
		errs = append(errs, msgs(field.NewPath("metadata", "name"), hash, prefixed("its pods' controller-revision-hash label", validation.IsValidLabelValue(hash)))...)
	case *rbacv1.RoleBinding:
		for i, s := range o.Subjects {
			if s.Kind == "ServiceAccount" {
				errs = append(errs, msgs(field.NewPath("subjects").Index(i).Child("name"), s.Name, validation.IsDNS1123Subdomain(s.Name))...)
			}
		}
	case *networkingv1.NetworkPolicy:
		for i, r := range o.Spec.Ingress {
			for j, from := range r.From {
				if from.NamespaceSelector != nil {
					errs = append(errs, metav1validation.ValidateLabelSelector(from.NamespaceSelector, metav1validation.LabelSelectorValidationOptions{},
						field.NewPath("spec", "ingress").Index(i).Child("from").Index(j).Child("namespaceSelector"))...)
				}
			}
		}
	}
	return errs
}

func prefixed(what string, ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = what + ": " + m
	}
	return out
}

func portNumber(p *field.Path, n int32) field.ErrorList {
	return msgs(p, strconv.Itoa(int(n)), validation.IsValidPortNum(int(n)))
}

func selectorMatches(p *field.Path, sel *metav1.LabelSelector, labels map[string]string) field.ErrorList {
	if sel == nil {
		return field.ErrorList{field.Required(p.Child("selector"), "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))
	for k, v := range sel.MatchLabels {
		if labels[k] != v {
			errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), labels, "does not match the selector"))
		}
	}
	return errs
}

// podSpec checks the names Kubernetes validates in a pod: containers and
// their ports, environment variables and mounts, volumes.
func podSpec(p *field.Path, s corev1.PodSpec, claims map[string]bool) field.ErrorList {
	var errs field.ErrorList
	volumes := map[string]bool{}
	for k := range claims {
		volumes[k] = true
	}
	for i, v := range s.Volumes {
		errs = append(errs, dns1123Label(p.Child("volumes").Index(i).Child("name"), v.Name)...)
		volumes[v.Name] = true
	}
	names := map[string]bool{}
	all := append(append([]corev1.Container(nil), s.InitContainers...), s.Containers...)
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(p.Child("containers"), ""))
	}
	for i, c := range all {
		cp := p.Child("containers").Index(i)
		errs = append(errs, dns1123Label(cp.Child("name"), c.Name)...)
		if names[c.Name] {
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		}
		names[c.Name] = true
		if c.Image == "" {
			errs = append(errs, field.Required(cp.Child("image"), ""))
		}
		portNames := map[string]bool{}
		for j, port := range c.Ports {
			pp := cp.Child("ports").Index(j)
			errs = append(errs, portNumber(pp.Child("containerPort"), port.ContainerPort)...)
			if port.Name != "" {
				errs = append(errs, msgs(pp.Child("name"), port.Name, validation.IsValidPortName(port.Name))...)
				if portNames[port.Name] {
					errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
				}
				portNames[port.Name] = true
			}
		}
		for j, e := range c.Env {
			errs = append(errs, msgs(cp.Child("env").Index(j).Child("name"), e.Name, validation.IsEnvVarName(e.Name))...)
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil {
				errs = append(errs, msgs(cp.Child("env").Index(j).Child("valueFrom", "secretKeyRef", "key"), r.SecretKeyRef.Key, validation.IsConfigMapKey(r.SecretKeyRef.Key))...)
			}
		}
		for j, m := range c.VolumeMounts {
			if !volumes[m.Name] {
				errs = append(errs, field.NotFound(cp.Child("volumeMounts").Index(j).Child("name"), m.Name))
			}
		}
		for _, probe := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe, c.StartupProbe} {
			if probe != nil && probe.TCPSocket != nil && probe.TCPSocket.Port.StrVal != "" && !portNames[probe.TCPSocket.Port.StrVal] {
				errs = append(errs, field.NotFound(cp.Child("readinessProbe", "tcpSocket", "port"), probe.TCPSocket.Port.StrVal))
			}
		}
	}
	return errs
}

// derivedNames: names controllers derive from ours must be valid too.
func derivedNames(obj *unstructured.Unstructured) field.ErrorList {
	name := obj.GetName()
	p := field.NewPath("metadata", "name")
	switch obj.GroupVersionKind().GroupKind().String() {
	case "EventSource.argoproj.io":
		// Argo Events: Service "<name>-eventsource-svc" (a DNS-1035
		// label), and label eventsource-name=<name> on its pods.
		svc := name + "-eventsource-svc"
		return append(msgs(p, svc, prefixed("its Service", validation.IsDNS1035Label(svc))),
			msgs(p, name, prefixed("its pods' eventsource-name label", validation.IsValidLabelValue(name)))...)
	case "Sensor.argoproj.io":
		return msgs(p, name, prefixed("its pods' sensor-name label", validation.IsValidLabelValue(name)))
	case "EventBus.argoproj.io":
		// Argo Events: StatefulSet "eventbus-<name>-stan" and its Service
		// "eventbus-<name>-stan-svc".
		sts := "eventbus-" + name + "-stan"
		return append(msgs(p, sts+"-4294967295", prefixed("its StatefulSet's controller-revision-hash label", validation.IsValidLabelValue(sts+"-4294967295"))),
			msgs(p, sts+"-svc", prefixed("its Service", validation.IsDNS1035Label(sts+"-svc")))...)
	case "Workflow.argoproj.io":
		// Argo Workflows labels pods workflows.argoproj.io/workflow with
		// the Workflow's name.
		wf := name
		if wf == "" {
			wf = obj.GetGenerateName() + "abcde"
		}
		return msgs(p, wf, prefixed("its pods' workflow label", validation.IsValidLabelValue(wf)))
	}
	return nil
}

// Key is an object's identity: kind, namespace and name.
func Key(obj *unstructured.Unstructured) string {
	return obj.GetKind() + "/" + obj.GetNamespace() + "/" + obj.GetName()
}

// Preload compiles the schemas of keys ("group/Kind") now, e.g. before a
// fuzz worker takes its first input (a slow first input reads as a hang).
func (c *Checker) Preload(keys ...string) error {
	for _, k := range keys {
		if _, err := c.schema(k); err != nil {
			return err
		}
	}
	return nil
}

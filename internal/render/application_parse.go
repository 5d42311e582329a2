package render

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Parsers of an application's live objects: the inverse of ApplicationObjects,
// used by import and by refresh. Each round-trips the golden files.

// ContainerImage returns the image of the named container of a Deployment.
func ContainerImage(dep *unstructured.Unstructured, container string) string {
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	for _, c := range cs {
		cm, _ := c.(map[string]any)
		if cm["name"] == container {
			img, _ := cm["image"].(string)
			return img
		}
	}
	return ""
}

// ContainerEnv returns the env of the named container of a Deployment.
func ContainerEnv(dep *unstructured.Unstructured, container string) []corev1.EnvVar {
	var d appsv1.Deployment
	if runtime.DefaultUnstructuredConverter.FromUnstructured(dep.Object, &d) != nil {
		return nil
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == container {
			return c.Env
		}
	}
	return nil
}

// ImmutableMismatch says why a live Deployment or StatefulSet cannot be
// adopted in place: its selector (immutable, and applied as a whole) is not
// the {app: <app>} we apply, or, for a StatefulSet, its serviceName (also
// immutable) is not serviceName. Import refuses it rather than leaving an
// apply that fails half-way.
func ImmutableMismatch(obj *unstructured.Unstructured, app, serviceName string) error {
	sel, _, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	want := map[string]any{"matchLabels": map[string]any{"app": app}}
	if !reflect.DeepEqual(sel, want) {
		got, _ := json.Marshal(sel)
		return fmt.Errorf("%s %s selects its pods with %s, not {\"matchLabels\":{\"app\":%q}} as this provider and the chart do; "+
			"a selector cannot be changed, so it cannot be adopted in place", obj.GetKind(), obj.GetName(), got, app)
	}
	if got, _, _ := unstructured.NestedString(obj.Object, "spec", "serviceName"); serviceName != "" && got != serviceName {
		return fmt.Errorf("%s %s has serviceName %q, not %q; it cannot be changed, so it cannot be adopted in place",
			obj.GetKind(), obj.GetName(), got, serviceName)
	}
	return nil
}

// ParseTemplateDomains returns the domains whose IngressRoutes the deploy steps
// of an application's WorkflowTemplate apply.
func ParseTemplateDomains(tmpl *unstructured.Unstructured, p, a string) []string {
	var out []string
	for _, rt := range templateManifests(tmpl, "IngressRoute") {
		if d := ParseRouteDomain(rt, a); d != "" && rt.GetName() == IngressRoute(p, a, d) {
			out = append(out, d)
		}
	}
	return out
}

// ParseTemplateDeployment returns the Deployment of application a that the
// deploy steps of its WorkflowTemplate apply (nil for none, as in the old
// chart's): before the first build it is the only record of replicas and
// database links.
func ParseTemplateDeployment(tmpl *unstructured.Unstructured, a string) *unstructured.Unstructured {
	for _, d := range templateManifests(tmpl, "Deployment") {
		if d.GetName() == Deployment(a) {
			return d
		}
	}
	return nil
}

// templateManifests returns the objects of kind that a WorkflowTemplate's
// resource steps apply (not those the rollout step only reads).
func templateManifests(tmpl *unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	if tmpl == nil {
		return nil
	}
	var out []*unstructured.Unstructured
	steps, _, _ := unstructured.NestedSlice(tmpl.Object, "spec", "templates")
	for _, s := range steps {
		manifest, _, _ := unstructured.NestedString(s.(map[string]any), "resource", "manifest")
		action, _, _ := unstructured.NestedString(s.(map[string]any), "resource", "action")
		if manifest == "" || action == "get" {
			continue
		}
		// Through JSON, as the API server reads it: numbers become int64.
		obj := &unstructured.Unstructured{}
		if js, err := yaml.YAMLToJSON([]byte(manifest)); err != nil || obj.UnmarshalJSON(js) != nil || obj.GetKind() != kind {
			continue
		}
		out = append(out, obj)
	}
	return out
}

// ParseRouteDomain returns the domain an IngressRoute sends to service a.
func ParseRouteDomain(rt *unstructured.Unstructured, a string) string {
	routes, _, _ := unstructured.NestedSlice(rt.Object, "spec", "routes")
	if len(routes) != 1 {
		return ""
	}
	r := routes[0].(map[string]any)
	svcs, _, _ := unstructured.NestedSlice(r, "services")
	match, _ := r["match"].(string)
	m := hostMatch.FindStringSubmatch(match)
	if len(svcs) != 1 || m == nil || svcs[0].(map[string]any)["name"] != Service(a) {
		return ""
	}
	return m[1]
}

// ParseEventSourceRepo returns the one repository an application's EventSource
// listens to.
func ParseEventSourceRepo(es *unstructured.Unstructured, p, a string) (owner, repo string) {
	if es == nil {
		return "", ""
	}
	repos, _, _ := unstructured.NestedSlice(es.Object, "spec", "github", GitHubEvent(p, a), "repositories")
	if len(repos) != 1 {
		return "", ""
	}
	rm, _ := repos[0].(map[string]any)
	owner, _ = rm["owner"].(string)
	if names, _, _ := unstructured.NestedStringSlice(rm, "names"); len(names) == 1 {
		repo = names[0]
	}
	return owner, repo
}

// ParseSensorBranch returns the branch an application's Sensor filters on.
func ParseSensorBranch(sensor *unstructured.Unstructured) string {
	if sensor == nil {
		return ""
	}
	deps, _, _ := unstructured.NestedSlice(sensor.Object, "spec", "dependencies")
	for _, d := range deps {
		filters, _, _ := unstructured.NestedSlice(d.(map[string]any), "filters", "data")
		for _, f := range filters {
			fm := f.(map[string]any)
			vals, _, _ := unstructured.NestedStringSlice(fm, "value")
			if fm["path"] == "body.ref" && len(vals) == 1 {
				return ParseBranchFilter(vals[0])
			}
		}
	}
	return ""
}

var hostMatch = regexp.MustCompile("^Host\\(`([^`]+)`\\)$")

// ParseTemplateTimeouts returns the deadlines, in seconds, of the build
// (kaniko) and rollout steps of an application's WorkflowTemplate (0 where
// a step or its deadline is absent, as in the old chart's template).
func ParseTemplateTimeouts(tmpl *unstructured.Unstructured) (build, rollout int64) {
	if tmpl == nil {
		return 0, 0
	}
	steps, _, _ := unstructured.NestedSlice(tmpl.Object, "spec", "templates")
	for _, s := range steps {
		m, _ := s.(map[string]any)
		var d int64
		switch v := m["activeDeadlineSeconds"].(type) { // an int-or-string in Argo's schema
		case int64:
			d = v
		case float64:
			d = int64(v)
		case string:
			d, _ = strconv.ParseInt(v, 10, 64)
		}
		switch m["name"] {
		case "kaniko":
			build = d
		case "rollout":
			rollout = d
		}
	}
	return build, rollout
}

// EventsDeploymentStale says why dep, the Deployment the Argo Events
// controller runs an EventSource or Sensor (desired) in, does not run
// desired's spec yet, or "" when it does. The controller writes the object
// it read into the container's env, so a Deployment it has not yet updated
// since our apply still shows the old spec. Every field desired sets must
// be there; an absent one equals a zero value (the controller's Go types
// omit those) and fields that others set are ignored.
func EventsDeploymentStale(dep, desired *unstructured.Unstructured) string {
	kind, enc := desired.GetKind(), ""
	for _, e := range ContainerEnv(dep, "main") {
		if e.Name == eventsObjectEnv(kind) {
			enc = e.Value
		}
	}
	var running map[string]any
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err == nil {
		err = json.Unmarshal(raw, &running)
	}
	if err != nil || enc == "" {
		return fmt.Sprintf("its container has no readable %s", eventsObjectEnv(kind))
	}
	// JSON on both sides: numbers are float64 in both.
	var want any
	if b, err := json.Marshal(desired.Object["spec"]); err != nil || json.Unmarshal(b, &want) != nil {
		return "the desired spec is not JSON"
	}
	if at := uncovered(running["spec"], want, "spec"); at != "" {
		return "it still runs an older " + kind + " (" + at + " differs): the controller has not updated it yet"
	}
	return ""
}

// uncovered returns the first path where got lacks a value of want, or "".
func uncovered(got, want any, at string) string {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		for k, v := range w {
			if p := uncovered(g[k], v, at+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		g, _ := got.([]any)
		if len(g) != len(w) {
			return at
		}
		for i := range w {
			if p := uncovered(g[i], w[i], fmt.Sprintf("%s[%d]", at, i)); p != "" {
				return p
			}
		}
		return ""
	}
	if got == nil && (want == nil || want == false || want == "" || want == float64(0)) || got == want {
		return ""
	}
	return at
}

// EventsDeployFailure is why the Argo Events controller could not make an
// EventSource's or Sensor's Deployment ("EventBusNotReady: EventBus not
// ready."), from its Deployed condition, or "".
func EventsDeployFailure(obj *unstructured.Unstructured) string {
	if obj == nil {
		return ""
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if cm, _ := c.(map[string]any); cm["type"] == "Deployed" && cm["status"] == "False" {
			return fmt.Sprintf("%v: %v", cm["reason"], cm["message"])
		}
	}
	return ""
}

// ParseBranchFilter is the branch a Sensor's body.ref filter selects, for
// BranchFilter's values and for the plain "refs/heads/<branch>" that older
// installations use ("" when it is neither).
func ParseBranchFilter(v string) string {
	if inner, ok := strings.CutPrefix(v, "^"); ok {
		inner, ok = strings.CutSuffix(inner, "$")
		if !ok {
			return ""
		}
		var b strings.Builder
		for i := 0; i < len(inner); i++ {
			if inner[i] == '\\' && i+1 < len(inner) {
				i++
			}
			b.WriteByte(inner[i])
		}
		v = b.String()
	}
	branch, ok := strings.CutPrefix(v, "refs/heads/")
	if !ok {
		return ""
	}
	return branch
}

// ParseDeployGeneration is the generation a live WorkflowTemplate's deploy
// steps carry ("none" without them).
func ParseDeployGeneration(tmpl *unstructured.Unstructured) string {
	if tmpl == nil {
		return noDeployGeneration
	}
	steps, _, _ := unstructured.NestedSlice(tmpl.Object, "spec", "templates")
	for _, s := range steps {
		m, _ := s.(map[string]any)
		dag, _ := m["dag"].(map[string]any)
		tasks, _ := dag["tasks"].([]any)
		for _, t := range tasks {
			tm, _ := t.(map[string]any)
			if tm["name"] != "deploy" {
				continue
			}
			when, _ := tm["when"].(string)
			if _, gen, ok := strings.Cut(when, " == "); ok {
				return strings.Trim(gen, "'")
			}
		}
	}
	return noDeployGeneration
}

// ParseReleaseConfigMap is the commit a release ConfigMap records ("" when
// none).
func ParseReleaseConfigMap(cm *unstructured.Unstructured) string {
	if cm == nil {
		return ""
	}
	commit, _, _ := unstructured.NestedString(cm.Object, "data", releaseCommitKey)
	return commit
}

// ParseServicePort reads the first port of a live Service (found is false
// without one).
func ParseServicePort(svc *unstructured.Unstructured) (port int64, found bool) {
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	if len(ports) == 0 {
		return 0, false
	}
	m, _ := ports[0].(map[string]any)
	port, _, _ = unstructured.NestedInt64(m, "port")
	return port, true
}

// ParseServiceSelector reads a Service's selector.
func ParseServiceSelector(svc *unstructured.Unstructured) map[string]string {
	sel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	return sel
}

// ParseReplicas reads a Deployment's (or StatefulSet's) desired and ready
// replicas; set is false when the spec leaves replicas out.
func ParseReplicas(obj *unstructured.Unstructured) (desired, ready int64, set bool) {
	desired, set, _ = unstructured.NestedInt64(obj.Object, "spec", "replicas")
	ready, _, _ = unstructured.NestedInt64(obj.Object, "status", "readyReplicas")
	return desired, ready, set
}

// ParsePodAnnotations reads the annotations of a workload's pod template.
func ParsePodAnnotations(obj *unstructured.Unstructured) map[string]string {
	ann, _, _ := unstructured.NestedStringMap(obj.Object, "spec", "template", "metadata", "annotations")
	return ann
}

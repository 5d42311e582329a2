package stack

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// RealNode skips a test unless the stack runs the real node and its CI
// platform (Argo Events, Argo Workflows, Traefik, the builds registry):
// the variables stack-up writes into .stack/env for them.
func RealNode(t T) {
	t.Helper()
	PreCheck(t)
	for _, env := range []string{"IDP_STACK_HOST_IP", "IDP_STACK_TRAEFIK_URL", "IDP_STACK_REGISTRY_HOST", "IDP_STACK_REGISTRY_USER", "IDP_STACK_REGISTRY_PASSWORD"} {
		if os.Getenv(env) == "" {
			t.Fatalf("%s is not set: the stack has no real node (make stack-up, . .stack/env)", env)
		}
	}
}

// RealNodeAnnotations are the namespace annotations that send a project's
// pods to the stack's real node instead of the kwok nodes (README: "Which
// node runs a pod"), as an HCL map for idp_project.annotations.
const RealNodeAnnotations = `{
    "scheduler.alpha.kubernetes.io/node-selector"       = "kubernetes.io/hostname=idp-node"
    "scheduler.alpha.kubernetes.io/defaultTolerations" = "[{\"key\":\"idp.dev/real-node\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]"
  }`

// TestAppFiles is a repository for the fake GitHub that kaniko builds into
// a tiny HTTP server answering version on every path (testapp).
func TestAppFiles(t T, version string) map[string][]byte {
	t.Helper()
	files, err := TestAppRepo(version)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestAppRepo is TestAppFiles for programs outside tests (make demo). It
// builds testapp with the go command from this package's source directory.
func TestAppRepo(version string) (map[string][]byte, error) {
	bin, err := testAppBinary()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY --chmod=755 testapp /testapp\nCOPY --chmod=755 testapp /bin/sleep\n" +
			// What a hostile build step could do with the cluster's API.
			"RUN [\"/testapp\", \"probe\"]\n" +
			"COPY version /version\nENTRYPOINT [\"/testapp\"]\n"),
		"testapp": bin,
		"version": []byte(version),
	}, nil
}

var testApp struct {
	sync.Mutex
	bin []byte
}

func testAppBinary() ([]byte, error) {
	testApp.Lock()
	defer testApp.Unlock()
	if testApp.bin != nil {
		return testApp.bin, nil
	}
	_, self, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "testapp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "testapp")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testapp")
	cmd.Dir = filepath.Dir(self)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building testapp: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	testApp.bin = b
	return b, nil
}

// Serving GETs Traefik's web entry point with a Host header, as a browser
// would for domain: the body and status, or an error.
func Serving(ctx context.Context, domain string) (string, error) {
	return ServingPath(ctx, domain, "/")
}

// ServingPath is what Traefik answers for path at domain.
func ServingPath(ctx context.Context, domain, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, os.Getenv("IDP_STACK_TRAEFIK_URL")+path, nil)
	if err != nil {
		return "", err
	}
	req.Host = domain
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

var (
	workflowsGVR    = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
	eventSourcesGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "eventsources"}
	sensorsGVR      = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "sensors"}
)

// PipelineReport describes what namespace ns runs for CI, to tell which
// stage of a push's way failed (README: "When a pipeline fails"): each pod's
// containers, the Workflows', EventSources' and Sensors' status, warning
// events (the fake GitHub's DeliveryReport adds its webhook deliveries).
func PipelineReport(ctx context.Context, kube kubernetes.Interface, dyn dynamic.Interface, ns string) []string {
	var out []string
	if pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range pods.Items {
			var states []string
			for _, c := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
				states = append(states, c.Name+"="+containerState(c))
			}
			out = append(out, fmt.Sprintf("pod %s on %s: %s %s", p.Name, p.Spec.NodeName, p.Status.Phase, strings.Join(states, " ")))
		}
	}
	for _, gvr := range []schema.GroupVersionResource{workflowsGVR, eventSourcesGVR, sensorsGVR} {
		l, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, o := range l.Items {
			out = append(out, fmt.Sprintf("%s %s: %s", o.GetKind(), o.GetName(), statusSummary(&o)))
		}
	}
	if evs, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range evs.Items {
			if e.Type != corev1.EventTypeNormal {
				out = append(out, fmt.Sprintf("event %s/%s: %s %s", e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message))
			}
		}
	}
	return out
}

func containerState(c corev1.ContainerStatus) string {
	switch {
	case c.State.Running != nil:
		return fmt.Sprintf("running(ready=%v)", c.Ready)
	case c.State.Waiting != nil:
		return "waiting(" + c.State.Waiting.Reason + ": " + c.State.Waiting.Message + ")"
	case c.State.Terminated != nil:
		return fmt.Sprintf("terminated(%s, exit %d)", c.State.Terminated.Reason, c.State.Terminated.ExitCode)
	}
	return "unknown"
}

// statusSummary is an Argo object's phase and message, its failed nodes'
// messages (Workflows) and its conditions that are not True.
func statusSummary(o *unstructured.Unstructured) string {
	var parts []string
	for _, f := range []string{"phase", "message"} {
		if v, _, _ := unstructured.NestedString(o.Object, "status", f); v != "" {
			parts = append(parts, f+"="+v)
		}
	}
	nodes, _, _ := unstructured.NestedMap(o.Object, "status", "nodes")
	for _, n := range nodes {
		m, _ := n.(map[string]any)
		if m["type"] == "Pod" && m["phase"] != "Succeeded" {
			parts = append(parts, fmt.Sprintf("%v=%v %v", m["displayName"], m["phase"], m["message"]))
		}
	}
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["status"] != "True" {
			parts = append(parts, fmt.Sprintf("%v=%v %v %v", m["type"], m["status"], m["reason"], m["message"]))
		}
	}
	if len(parts) == 0 {
		return "ok"
	}
	return strings.Join(parts, "; ")
}

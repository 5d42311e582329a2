// Package faults_test is the fault suite (issue 12, docs/guides/reliability.md):
// tofu killed at each step of an apply, services down, an API server
// restarted mid-apply, concurrent writers, and cleanup at scale. Every case
// injects its fault, then shows that a plain re-apply converges: an empty
// plan, no orphaned object, no lost password or volume. It runs against the
// local stack (make stack-up) with tofu as its own process; faults that
// break a service break a private instance, never the shared stack's.
package faults_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

func TestMain(m *testing.M) {
	code := m.Run()
	acctest.RemoveProviderBinary()
	if tally.injected > 0 || tally.pushed > 0 {
		tally.write()
	}
	os.Exit(code)
}

// tally is the suite's summary: scripts/test.sh prints it at the end of
// make test (one "<figure>\t<value>" line each, in
// .stack/summary/faults.tsv).
var tally summary

type summary struct {
	mu                           sync.Mutex
	injected, converged, orphans int
	// Pushes the timing faults made, and those that reached serving: the
	// newest push of a run serves, which serves every push before it.
	pushed, served int
}

func pushed(n int) {
	tally.mu.Lock()
	defer tally.mu.Unlock()
	tally.pushed += n
}

func served(n int) {
	tally.mu.Lock()
	defer tally.mu.Unlock()
	tally.served += n
}

func injected(n int) {
	tally.mu.Lock()
	defer tally.mu.Unlock()
	tally.injected += n
}

func converged(orphans int) {
	tally.mu.Lock()
	defer tally.mu.Unlock()
	tally.converged++
	tally.orphans += orphans
}

func (tl *summary) write() {
	dir := os.Getenv("IDP_TEST_SUMMARY_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".stack", "summary")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	body := fmt.Sprintf("faults injected\t%d\nconverged\t%d\norphans\t%d\npushes sent\t%d\npushes served\t%d\npushes lost\t%d\n",
		tl.injected, tl.converged, tl.orphans, tl.pushed, tl.served, tl.pushed-tl.served)
	_ = os.WriteFile(filepath.Join(dir, "faults.tsv"), []byte(body), 0o644)
}

// hclProject is a project with its Vault credentials seeded in the
// stack's Vault, as a platform team keeps them.
func hclProject(t *testing.T, name string) string {
	t.Helper()
	return hclProjectWith(name, func(path string, values map[string]any) { acctest.PutVault(t, path, values) })
}

// hclProjectWith is hclProject with the credentials written by put.
func hclProjectWith(name string, put func(string, map[string]any)) string {
	put(render.GitHubAccessVaultPath(name), map[string]any{"username": "ci-bot", "token": "ghp_" + stack.Name("t")})
	put(render.RegistryVaultPath(name), map[string]any{"username": "robot", "password": stack.Name("pw")})
	return fmt.Sprintf(`
resource "idp_project" "p" {
  name        = %q
  delete_data = true
}
`, name)
}

// hclApp is an application pinned at commit (so apply waits for its
// rollout, which the kwok nodes complete).
// Without a commit, no Deployment: CI would make it.
func hclApp(name, commit, extra string) string {
	hash := ""
	if commit != "" {
		hash = fmt.Sprintf(", hash = %q", commit)
	}
	return fmt.Sprintf(`
resource "idp_application" %[1]q {
  project = idp_project.p.name
  name    = %[1]q
  git     = { owner = "myorg", repo = %[1]q, branch = "main"%[2]s }
  port    = 8080
%[3]s
}
`, name, hash, extra)
}

func hclDatabase(name, extra string) string {
	return fmt.Sprintf(`
resource "idp_database" %[1]q {
  project = idp_project.p.name
  name    = %[1]q
  type    = "postgres"
  version = "15"
  size    = "1Gi"
%[2]s
}
`, name, extra)
}

func commit(c byte) string { return strings.Repeat(string(c), 40) }

// converge is what every case ends with: a plain apply succeeds, the next
// plan is empty, and nothing labelled as ours in the namespace is left
// without a resource that owns it.
func converge(t *testing.T, w *acctest.Tofu, namespace string) {
	t.Helper()
	convergeOn(t, w, "", namespace)
}

// convergeOn is converge on the cluster of kubeconfig ("": the stack's).
func convergeOn(t *testing.T, w *acctest.Tofu, kubeconfig, namespace string) {
	t.Helper()
	w.Apply()
	if out, changes := w.PlanChanges(); changes {
		t.Fatalf("the plan after the re-apply is not empty:\n%s", out)
	}
	orphans := orphansIn(t, w, kubeconfig, namespace)
	converged(len(orphans))
	if len(orphans) > 0 {
		t.Fatalf("%d orphaned objects in %s (labelled %s=%s, in no resource's objects): %v",
			len(orphans), namespace, render.LabelManagedBy, render.ManagedBy, orphans)
	}
}

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	configMapsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	workflowsGVR   = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "workflows"}
)

var (
	kindsMu sync.Mutex
	kinds   = map[string][]schema.GroupVersionResource{}
)

// restConfig is the stack's admin config, or kubeconfig's.
func restConfig(t *testing.T, kubeconfig string) *rest.Config {
	t.Helper()
	if kubeconfig == "" {
		return stack.RESTConfig(t)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// listable returns every namespaced resource the API server serves that
// can be listed, found once per server by discovery. Endpoints are left
// out: their controller copies a Service's labels onto them, without an
// owner reference, and deletes them with the Service.
func listable(t *testing.T, kubeconfig string) []schema.GroupVersionResource {
	t.Helper()
	kindsMu.Lock()
	defer kindsMu.Unlock()
	if k, ok := kinds[kubeconfig]; ok {
		return k
	}
	dc, err := discovery.NewDiscoveryClientForConfig(restConfig(t, kubeconfig))
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredNamespacedResources()
	if err != nil {
		t.Fatal(err)
	}
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !contains(r.Verbs, "list") || r.Name == "events" || r.Name == "endpoints" {
				continue
			}
			out = append(out, gv.WithResource(r.Name))
		}
	}
	kinds[kubeconfig] = out
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ours lists the objects in namespace that carry our managed-by label and
// no owner reference (dependents go with their owner), as Kind/ns/name.
func ours(t *testing.T, kubeconfig, namespace string) []string {
	t.Helper()
	cfg := restConfig(t, kubeconfig)
	cfg.QPS, cfg.Burst = 100, 200
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, gvr := range listable(t, kubeconfig) {
		list, err := dyn.Resource(gvr).Namespace(namespace).List(context.Background(),
			metav1.ListOptions{LabelSelector: render.LabelManagedBy + "=" + render.ManagedBy})
		if err != nil {
			continue // a kind removed meanwhile
		}
		for i := range list.Items {
			if len(list.Items[i].GetOwnerReferences()) > 0 {
				continue
			}
			out = append(out, key(&list.Items[i]))
		}
	}
	sort.Strings(out)
	return out
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// orphansIn returns what ours finds that no resource in w's state lists
// in its objects, but for runs. An application's release record (P-A-release, written
// after each rollout and read when the Deployment is gone) is deliberately
// not in objects, so a plan made while CI deploys stays empty: it belongs
// to its application.
func orphansIn(t *testing.T, w *acctest.Tofu, kubeconfig, namespace string) []string {
	t.Helper()
	owned := map[string]bool{}
	for addr, objs := range w.StateObjects() {
		for _, k := range objs {
			owned[k] = true
		}
		if strings.HasPrefix(addr, "idp_application.") {
			app := strings.TrimPrefix(addr, "idp_application.")
			owned["ConfigMap/"+namespace+"/"+render.ReleaseConfigMap(namespace, app)] = true
		}
	}
	var orphans []string
	for _, k := range ours(t, kubeconfig, namespace) {
		// Runs (tofu's first build, a gate's resubmit) belong to their
		// application: its destroy deletes them, and so does their TTL.
		if strings.HasPrefix(k, "Workflow/") {
			continue
		}
		if !owned[k] {
			orphans = append(orphans, k)
		}
	}
	return orphans
}

package provider_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// The field managers of an installation made by the old Helm chart and
// ArgoCD ApplicationSet (../shared/CONTRACT.md), one fixture file each.
const (
	managerHelm    = "helm"                      // helm install: create (an Update)
	managerArgoCD  = "argocd-controller"         // ArgoCD sync: server-side apply, not forced
	managerKubectl = "kubectl-client-side-apply" // kubectl apply: create (an Update) + last-applied annotation
)

var oldChartFixtures = []struct{ file, manager string }{
	{"helm.yaml", managerHelm}, // first: it holds the Namespace
	{"argocd.yaml", managerArgoCD},
	{"kubectl.yaml", managerKubectl},
}

// oldChart is project P as the old chart left it running: applications
// api (built: Deployment and routes exist) and web (never built), databases
// mysql and redis with their volumes, and the secrets in Vault.
type oldChart struct {
	t      *testing.T
	cs     *kubernetes.Clientset
	dyn    dynamic.Interface
	mapper meta.RESTMapper
	p      string
	vars   map[string]string

	objects     []*unstructured.Unstructured // as the chart created them
	uids        map[string]types.UID         // by "Kind/namespace/name", with the PVCs
	selector    any                          // the api Deployment's, as found
	replicaSets []string                     // the api Deployment's, as found
	vault       map[string]int               // Vault path -> version seeded
}

const (
	oldChartAPIHash  = "3f6c2a9d8e1b4c7a0f5e2d9c8b7a6f5e4d3c2b1a"
	oldChartRegistry = "-harbor-robot" // suffix of P: registry credentials outside the default path
	oldChartFeatureX = "feature-x-enabled-for-beta-users"
)

func newOldChart(t *testing.T) *oldChart {
	t.Helper()
	stack.PreCheck(t)
	cs, dyn := stack.Kube(t)
	groups, err := restmapper.GetAPIGroupResources(cs.Discovery())
	if err != nil {
		t.Fatal(err)
	}
	p := stack.Name("acc-old")
	c := &oldChart{t: t, cs: cs, dyn: dyn, mapper: restmapper.NewDiscoveryRESTMapper(groups), p: p,
		uids: map[string]types.UID{}, vault: map[string]int{}}
	t.Cleanup(c.cleanup)

	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	ghToken := "ghp_" + stack.Name("old")
	robot, robotPW := "robot$"+p, "harbor-"+stack.Name("pw")
	dockerConfig := fmt.Sprintf(`{"auths":{%q:{"username":%q,"password":%q,"auth":%q}}}`,
		testRegistryHost, robot, robotPW, b64(robot+":"+robotPW))
	mysqlPW, redisPW := "mysql-"+stack.Name("pw"), "redis-"+stack.Name("pw")
	_, mount := stack.Vault(t)

	// Vault as the installation has it: the contract's paths, the registry
	// credentials at a path of the team's choosing; no webhook secrets.
	for path, values := range map[string]map[string]any{
		render.GitHubAccessVaultPath(p):      {"username": "ci-bot", "token": ghToken},
		p + oldChartRegistry:                 {corev1.DockerConfigJsonKey: dockerConfig},
		render.AppSecretVaultPath(p, "api"):  {"DATABASE_URL": "mysql://mysql.example/api", "LOG_LEVEL": "debug"},
		render.AppSecretVaultPath(p, "web"):  {"API_URL": "https://api.shop.example.com", "FEATURE_X": oldChartFeatureX},
		render.DatabaseVaultPath(p, "mysql"): {"password": mysqlPW},
		render.DatabaseVaultPath(p, "redis"): {"password": redisPW},
	} {
		c.vault[path] = acctest.PutVault(t, path, values)
	}

	c.vars = map[string]string{
		"P": p, "R": testRegistryHost, "RP": testRegistryProject, "M": mount,
		"CHART": "idp-project-0.9.3", "API_HASH": oldChartAPIHash,
		"WEBHOOK_URL":     testWebhookBase,
		"GH_USERNAME_B64": b64("ci-bot"), "GH_TOKEN_B64": b64(ghToken),
		"DOCKERCONFIG_B64":     b64(dockerConfig),
		"API_DATABASE_URL_B64": b64("mysql://mysql.example/api"), "API_LOG_LEVEL_B64": b64("debug"),
		"WEB_API_URL_B64": b64("https://api.shop.example.com"), "WEB_FEATURE_X_B64": b64(oldChartFeatureX),
		"MYSQL_PASSWORD_B64": b64(mysqlPW), "REDIS_PASSWORD_B64": b64(redisPW),
	}

	// Without a provisioner (a default StorageClass), the volumes the
	// StatefulSets' claims bind to.
	if !hasDefaultStorageClass(t, cs) {
		c.volume("mysql", "5Gi")
		c.volume("redis", "1Gi")
	}

	for _, f := range oldChartFixtures {
		for _, obj := range c.load(f.file) {
			c.create(obj, f.manager)
		}
	}
	c.waitRunning()
	return c
}

// load reads a fixture, fills in its placeholders and splits its documents.
func (c *oldChart) load(file string) []*unstructured.Unstructured {
	c.t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "oldchart", file))
	if err != nil {
		c.t.Fatal(err)
	}
	pairs := make([]string, 0, 2*len(c.vars))
	for k, v := range c.vars {
		pairs = append(pairs, "${"+k+"}", v)
	}
	text := strings.NewReplacer(pairs...).Replace(string(raw))
	if m := regexp.MustCompile(`\$\{[A-Z0-9_]+\}`).FindString(text); m != "" {
		c.t.Fatalf("%s: placeholder %s has no value", file, m)
	}
	var out []*unstructured.Unstructured
	dec := yamlutil.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			c.t.Fatalf("%s: %v", file, err)
		}
		if len(obj.Object) > 0 {
			out = append(out, obj)
		}
	}
}

func (c *oldChart) client(obj *unstructured.Unstructured) dynamic.ResourceInterface {
	c.t.Helper()
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.t.Fatalf("%s: %v", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	return c.dyn.Resource(m.Resource)
}

// create writes obj the way manager did.
func (c *oldChart) create(obj *unstructured.Unstructured, manager string) {
	c.t.Helper()
	ctx := context.Background()
	var err error
	switch manager {
	case managerArgoCD:
		body, _ := json.Marshal(obj.Object)
		force := false
		_, err = c.client(obj).Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: manager, Force: &force})
	case managerKubectl:
		last, _ := json.Marshal(obj.Object)
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[corev1.LastAppliedConfigAnnotation] = string(last) + "\n"
		obj.SetAnnotations(ann)
		_, err = c.client(obj).Create(ctx, obj, metav1.CreateOptions{FieldManager: manager})
	default:
		_, err = c.client(obj).Create(ctx, obj, metav1.CreateOptions{FieldManager: manager})
	}
	if err != nil {
		c.t.Fatalf("creating %s %s as %s: %v", obj.GetKind(), obj.GetName(), manager, err)
	}
	c.objects = append(c.objects, obj)
}

func hasDefaultStorageClass(t *testing.T, cs *kubernetes.Clientset) bool {
	list, err := cs.StorageV1().StorageClasses().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range list.Items {
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			return true
		}
	}
	return false
}

// volume creates the PersistentVolume database d's claim binds to.
func (c *oldChart) volume(d, size string) {
	c.t.Helper()
	name := c.p + "-" + d
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: k8sresource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			ClaimRef:                      &corev1.ObjectReference{Namespace: c.p, Name: render.DatabaseClaim(c.p, d, 0)},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}},
		},
	}
	if _, err := c.cs.CoreV1().PersistentVolumes().Create(context.Background(), pv, metav1.CreateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func (c *oldChart) cleanup() {
	ctx := context.Background()
	_ = c.cs.CoreV1().Namespaces().Delete(ctx, c.p, metav1.DeleteOptions{})
	for _, d := range []string{"mysql", "redis"} {
		_ = c.cs.CoreV1().PersistentVolumes().Delete(ctx, c.p+"-"+d, metav1.DeleteOptions{})
	}
	kv, _ := stack.Vault(c.t)
	for _, path := range []string{render.WebhookSecretVaultPath(c.p, "api"), render.WebhookSecretVaultPath(c.p, "web")} {
		_ = kv.DeleteMetadata(ctx, path)
	}
	for path := range c.vault {
		_ = kv.DeleteMetadata(ctx, path)
	}
}

// waitRunning waits until the chart's workloads run (kwok makes pods
// Ready) and the claims are bound, then records what must survive adoption.
func (c *oldChart) waitRunning() {
	c.t.Helper()
	ctx := context.Background()
	poll(c.t, 90*time.Second, "the old chart's workloads to run", func() error {
		d, err := c.cs.AppsV1().Deployments(c.p).Get(ctx, "api-app", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.ReadyReplicas != 1 || d.Status.ObservedGeneration < d.Generation {
			return fmt.Errorf("Deployment api-app: %d ready", d.Status.ReadyReplicas)
		}
		for _, db := range []string{"mysql", "redis"} {
			s, err := c.cs.AppsV1().StatefulSets(c.p).Get(ctx, render.DatabaseStatefulSet(c.p, db), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if s.Status.ReadyReplicas != 1 {
				return fmt.Errorf("StatefulSet %s: %d ready", s.Name, s.Status.ReadyReplicas)
			}
			pvc, err := c.cs.CoreV1().PersistentVolumeClaims(c.p).Get(ctx, render.DatabaseClaim(c.p, db, 0), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if pvc.Status.Phase != corev1.ClaimBound {
				return fmt.Errorf("claim %s is %s", pvc.Name, pvc.Status.Phase)
			}
		}
		return nil
	})
	for _, obj := range c.objects {
		live, err := c.client(obj).Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			c.t.Fatal(err)
		}
		c.uids[objectKey(live)] = live.GetUID()
		if live.GetKind() == "Deployment" {
			c.selector = live.Object["spec"].(map[string]any)["selector"]
		}
	}
	for _, db := range []string{"mysql", "redis"} {
		pvc, err := c.cs.CoreV1().PersistentVolumeClaims(c.p).Get(ctx, render.DatabaseClaim(c.p, db, 0), metav1.GetOptions{})
		if err != nil {
			c.t.Fatal(err)
		}
		c.uids["PersistentVolumeClaim/"+c.p+"/"+pvc.Name] = pvc.UID
	}
	c.replicaSets = c.replicaSetsNow()
}

// replicaSetsNow lists the api Deployment's ReplicaSets: a new one would
// mean adoption changed its pod template and restarted the application.
func (c *oldChart) replicaSetsNow() []string {
	c.t.Helper()
	list, err := c.cs.AppsV1().ReplicaSets(c.p).List(context.Background(), metav1.ListOptions{LabelSelector: "app=api-app"})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, rs := range list.Items {
		out = append(out, rs.Name+"/"+string(rs.UID))
	}
	sort.Strings(out)
	return out
}

func objectKey(obj *unstructured.Unstructured) string {
	return engineKey(obj.GetKind(), obj.GetNamespace(), obj.GetName())
}

func engineKey(kind, ns, name string) string {
	if ns == "" {
		return kind + "/" + name
	}
	return kind + "/" + ns + "/" + name
}

func poll(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// config is what the team writes for the project they ran with the old
// chart: its YAML input translated to HCL, plus import blocks.
func (c *oldChart) config(webPort int, deleteData bool) string {
	return acctest.Config(fmt.Sprintf(`
import {
  to = idp_project.shop
  id = %[1]q
}
import {
  to = idp_application.api
  id = "%[1]s/api"
}
import {
  to = idp_application.web
  id = "%[1]s/web"
}
import {
  to = idp_database.mysql
  id = "%[1]s/mysql"
}
import {
  to = idp_database.redis
  id = "%[1]s/redis"
}

resource "idp_project" "shop" {
  name                = %[1]q
  registry_vault_path = "%[1]s%[2]s"
  delete_data         = %[4]t
}

resource "idp_application" "api" {
  project = idp_project.shop.name
  name    = "api"
  git     = { owner = "myorg", repo = "shop-api", branch = "main" }
  port    = 8080
  domains = ["api.shop.example.com", "shop.example.com"]
}

resource "idp_application" "web" {
  project = idp_project.shop.name
  name    = "web"
  git     = { owner = "myorg", repo = "shop-web", branch = "develop" }
  port    = %[3]d
  domains = ["web.shop.example.com"]
}

resource "idp_database" "mysql" {
  project     = idp_project.shop.name
  name        = "mysql"
  type        = "mysql"
  version     = "8.0"
  size        = "5Gi"
  delete_data = %[4]t
}

resource "idp_database" "redis" {
  project     = idp_project.shop.name
  name        = "redis"
  type        = "redis"
  version     = "7.2"
  size        = "1Gi"
  delete_data = %[4]t
}
`, c.p, oldChartRegistry, webPort, deleteData))
}

// adoptionPlan asserts the shape of the first plan: every resource is
// imported and updated in place (no create, delete or replace), and no
// child object the resource had is dropped. The objects that are new are
// exactly the additions: RBAC, the isolation policy, webhook secrets and
// webhook routes. And
// import read every configured attribute back from the objects, except
// those that no object of the old chart records.
type adoptionPlan struct {
	additions map[string][]string // resource address -> new `objects` keys
	changes   map[string][]string // resource address -> attributes import could not know
}

func (c adoptionPlan) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	var errs []error
	seen := map[string]bool{}
	for _, rc := range req.Plan.ResourceChanges {
		seen[rc.Address] = true
		want, ok := c.additions[rc.Address]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unexpected in the plan (%v)", rc.Address, rc.Change.Actions))
			continue
		}
		if rc.Change.Importing == nil {
			errs = append(errs, fmt.Errorf("%s: not imported", rc.Address))
		}
		if a := rc.Change.Actions; !a.Update() && !a.NoOp() {
			errs = append(errs, fmt.Errorf("%s: planned %v, want an in-place update or no-op", rc.Address, a))
		}
		before := objectsOf(rc.Change.Before)
		after := objectsOf(rc.Change.After)
		var added []string
		for k := range after {
			if v, had := before[k]; !had || v == "missing" {
				added = append(added, k)
			}
		}
		for k := range before {
			if _, kept := after[k]; !kept {
				errs = append(errs, fmt.Errorf("%s: object %s would be removed", rc.Address, k))
			}
		}
		sort.Strings(added)
		sort.Strings(want)
		if !reflect.DeepEqual(added, want) && !(len(added) == 0 && len(want) == 0) {
			errs = append(errs, fmt.Errorf("%s: new objects %v, want %v", rc.Address, added, want))
		}
		bm, _ := rc.Change.Before.(map[string]any)
		am, _ := rc.Change.After.(map[string]any)
		unknown, _ := rc.Change.AfterUnknown.(map[string]any)
		var changed []string
		for k, v := range am {
			// Unknown in part (an unpinned application's git.hash): the
			// apply decides, not import.
			if _, partly := unknown[k].(map[string]any); partly {
				continue
			}
			if k != "objects" && unknown[k] != true && !reflect.DeepEqual(bm[k], v) {
				changed = append(changed, k)
			}
		}
		sort.Strings(changed)
		if want := c.changes[rc.Address]; !reflect.DeepEqual(changed, want) && !(len(changed) == 0 && len(want) == 0) {
			errs = append(errs, fmt.Errorf("%s: import left %v different from the configuration, want only %v", rc.Address, changed, want))
		}
	}
	for addr := range c.additions {
		if !seen[addr] {
			errs = append(errs, fmt.Errorf("%s: not in the plan", addr))
		}
	}
	resp.Error = errors.Join(errs...)
}

func objectsOf(v any) map[string]string {
	out := map[string]string{}
	m, _ := v.(map[string]any)
	objs, _ := m["objects"].(map[string]any)
	for k, v := range objs {
		s, _ := v.(string)
		out[k] = s
	}
	return out
}

// checkAdopted asserts on the cluster and Vault after the first apply:
// nothing recreated, no data touched, the selector kept, the fields taken
// over from the other managers, and what only they set left alone.
func (c *oldChart) checkAdopted() resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		var errs []error
		for _, obj := range c.objects {
			live, err := c.client(obj).Get(ctx, obj.GetName(), metav1.GetOptions{})
			if err != nil {
				errs = append(errs, err)
				continue
			}
			key := objectKey(live)
			if live.GetUID() != c.uids[key] {
				errs = append(errs, fmt.Errorf("%s was recreated", key))
			}
			if !ownsApply(live) {
				errs = append(errs, fmt.Errorf("%s: %s did not take it over; managers %v", key, fieldManager, managerNames(live)))
			}
			if v := live.GetLabels()[render.LabelManagedBy]; v != render.ManagedBy {
				errs = append(errs, fmt.Errorf("%s: label %s = %q", key, render.LabelManagedBy, v))
			}
			if shared := sharedFields(live); len(shared) > 0 {
				errs = append(errs, fmt.Errorf("%s: fields we apply are still co-owned: %v", key, shared))
			}
			// What only the other managers set stays theirs, except kubectl's
			// last-applied annotation: a stale copy of the old manifest.
			if _, ok := live.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok {
				errs = append(errs, fmt.Errorf("%s: kubectl's last-applied annotation is left", key))
			}
			if obj.GetLabels()["helm.sh/chart"] != "" && live.GetLabels()["helm.sh/chart"] == "" {
				errs = append(errs, fmt.Errorf("%s: label helm.sh/chart, set by another manager only, was removed", key))
			}
		}
		for _, db := range []string{"mysql", "redis"} {
			name := render.DatabaseClaim(c.p, db, 0)
			pvc, err := c.cs.CoreV1().PersistentVolumeClaims(c.p).Get(ctx, name, metav1.GetOptions{})
			if err != nil || pvc.UID != c.uids["PersistentVolumeClaim/"+c.p+"/"+name] {
				errs = append(errs, fmt.Errorf("claim %s was recreated (err=%v)", name, err))
			}
			path := render.DatabaseVaultPath(c.p, db)
			if v := vaultVersion(c.t, path); v != c.vault[path] {
				errs = append(errs, fmt.Errorf("Vault %s is at version %d, was %d: the password was written", path, v, c.vault[path]))
			}
		}
		dep, err := c.dyn.Resource(deploymentGVR).Namespace(c.p).Get(ctx, "api-app", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if sel := dep.Object["spec"].(map[string]any)["selector"]; !reflect.DeepEqual(sel, c.selector) {
			errs = append(errs, fmt.Errorf("Deployment selector %v, was %v", sel, c.selector))
		}
		if rs := c.replicaSetsNow(); !reflect.DeepEqual(rs, c.replicaSets) {
			errs = append(errs, fmt.Errorf("the api Deployment was rolled (ReplicaSets %v, were %v)", rs, c.replicaSets))
		}
		want := render.Image(testRegistryHost, testRegistryProject, c.p, "api", oldChartAPIHash)
		if img := containerImageOf(dep); img != want {
			errs = append(errs, fmt.Errorf("the api Deployment runs %s, want %s", img, want))
		}
		// CI now deploys in the cluster: the seed-style dispatch step is gone.
		for _, a := range []string{"api", "web"} {
			tmpl, err := c.dyn.Resource(workflowTemplateGVR).Namespace(c.p).Get(ctx, render.WorkflowTemplate(c.p, a), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if strings.Contains(fmt.Sprint(tmpl.Object["spec"]), "update-config") {
				errs = append(errs, fmt.Errorf("WorkflowTemplate %s still has the update-config step", tmpl.GetName()))
			}
		}
		return errors.Join(errs...)
	}
}

// checkRemovals asserts that what tofu stopped setting is gone from
// objects that other managers had set with the same values.
func (c *oldChart) checkRemovals(webPort int32) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx := context.Background()
		var errs []error
		for name, want := range map[string][]string{
			render.AppSecret(c.p, "api"): {"DATABASE_URL"}, // made by argocd-controller
			render.AppSecret(c.p, "web"): {"API_URL"},      // made by kubectl apply
		} {
			s, err := c.cs.CoreV1().Secrets(c.p).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			var keys []string
			for k := range s.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if !reflect.DeepEqual(keys, want) {
				errs = append(errs, fmt.Errorf("Secret %s has keys %v, want %v (the key removed in Vault stayed)", name, keys, want))
			}
			// Nor is the removed value left anywhere (kubectl's annotation held it).
			if raw, _ := json.Marshal(s); bytes.Contains(raw, []byte(oldChartFeatureX)) ||
				bytes.Contains(raw, []byte(base64.StdEncoding.EncodeToString([]byte(oldChartFeatureX)))) {
				errs = append(errs, fmt.Errorf("Secret %s still holds the value removed from Vault", name))
			}
		}
		svc, err := c.cs.CoreV1().Services(c.p).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		var ports []int32
		for _, p := range svc.Spec.Ports {
			ports = append(ports, p.Port)
		}
		if len(ports) != 1 || ports[0] != webPort {
			errs = append(errs, fmt.Errorf("Service web has ports %v, want [%d] (the old port stayed)", ports, webPort))
		}
		return errors.Join(errs...)
	}
}

func containerImageOf(dep *unstructured.Unstructured) string {
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		return ""
	}
	img, _ := cs[0].(map[string]any)["image"].(string)
	return img
}

const fieldManager = "terraform-provider-idp"

var deploymentGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

func ownsApply(obj *unstructured.Unstructured) bool {
	for _, mf := range obj.GetManagedFields() {
		if mf.Manager == fieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

func managerNames(obj *unstructured.Unstructured) []string {
	var out []string
	for _, mf := range obj.GetManagedFields() {
		out = append(out, mf.Manager+"/"+string(mf.Operation))
	}
	return out
}

// sharedFields lists the fields we apply that another manager still
// co-owns (set to the same value): those would stay when we stop setting them.
func sharedFields(obj *unstructured.Unstructured) []string {
	var ours *fieldpath.Set
	sets := map[string]*fieldpath.Set{}
	for _, mf := range obj.GetManagedFields() {
		if mf.FieldsV1 == nil || mf.Subresource != "" {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(mf.FieldsV1.Raw)); err != nil {
			continue
		}
		if mf.Manager == fieldManager && mf.Operation == metav1.ManagedFieldsOperationApply {
			ours = s
		} else {
			sets[mf.Manager+"/"+string(mf.Operation)] = s
		}
	}
	if ours == nil {
		return nil
	}
	var out []string
	for m, s := range sets {
		if shared := ours.Leaves().Intersection(s.Leaves()); !shared.Empty() {
			out = append(out, fmt.Sprintf("%s: %s", m, shared.String()))
		}
	}
	sort.Strings(out)
	return out
}

func vaultVersion(t *testing.T, path string) int {
	kv, _ := stack.Vault(t)
	s, err := kv.Get(context.Background(), path)
	if err != nil || s == nil || s.VersionMetadata == nil {
		return 0
	}
	return s.VersionMetadata.Version
}

// TestAccImportOldChart adopts a project that the old chart and
// ApplicationSet made: import blocks for every resource, a first plan of
// in-place updates and additions only, an apply that keeps every object,
// volume, password and selector, an empty second plan, then later changes
// that must remove what tofu stopped setting, and ImportStateVerify.
func TestAccImportOldChart(t *testing.T) {
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "") // no GitHub: checks skipped
	start := time.Now()
	c := newOldChart(t)
	t.Logf("old chart running after %s", time.Since(start).Round(100*time.Millisecond))
	p := c.p
	key := func(kind, name string) string { return engineKey(kind, p, name) }
	vaultPut := func(path string, values map[string]any) func() {
		return func() { c.vault[path] = acctest.PutVault(t, path, values) }
	}
	importStep := func(addr, id string, ignore ...string) resource.TestStep {
		return resource.TestStep{
			ResourceName:                         addr,
			ImportState:                          true,
			ImportStateId:                        id,
			ImportStateVerify:                    true,
			ImportStateVerifyIdentifierAttribute: "id",
			// timeouts: a configuration block, not held by any object.
			ImportStateVerifyIgnore: append([]string{"timeouts"}, ignore...),
		}
	}

	// What an application adds to the old chart's objects: the webhook's
	// secret and route, its deploy identity and its catch-up.
	appAdditions := func(p, a string) []string {
		return []string{key("Secret", render.WebhookSecret(p, a)), key("IngressRoute", render.WebhookRoute(p, a)),
			key("CronWorkflow", render.CatchUpCronWorkflow(p, a)),
			key("ServiceAccount", render.DeployServiceAccount(p, a)), key("Role", render.DeployRole(p, a)), key("RoleBinding", render.DeployRole(p, a))}
	}

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: c.config(3000, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					adoptionPlan{additions: map[string][]string{
						"idp_project.shop": {key("Role", render.WorkflowRole(p)), key("RoleBinding", render.WorkflowRole(p)),
							key("NetworkPolicy", render.IsolationPolicy(p)),
							key("ServiceAccount", render.ExecutorServiceAccount(p)), key("Secret", render.ExecutorTokenSecret(p)),
							key("Role", render.ExecutorRole(p)), key("RoleBinding", render.ExecutorRole(p))},
						"idp_application.api": appAdditions(p, "api"),
						"idp_application.web": appAdditions(p, "web"),
						"idp_database.mysql":  nil,
						"idp_database.redis":  nil,
					}, changes: map[string][]string{
						// The old chart had no isolation policy, and no object
						// records where the registry credentials are in Vault.
						"idp_project.shop": {"isolation", "registry_vault_path"},
						// Never built: no IngressRoute names its domains.
						"idp_application.web": {"domains"},
					}},
					// Import read the configuration back from the objects.
					// api runs a commit CI owns: the apply keeps the one live
					// then (the state check below).
					plancheck.ExpectUnknownValue("idp_application.api", tfjsonpath.New("git").AtMapKey("hash")),
					plancheck.ExpectKnownValue("idp_application.web", tfjsonpath.New("git").AtMapKey("hash"), knownvalue.Null()),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("idp_application.api", tfjsonpath.New("git").AtMapKey("hash"), knownvalue.StringExact(oldChartAPIHash)),
					statecheck.ExpectKnownValue("idp_application.api", tfjsonpath.New("image"),
						knownvalue.StringExact(render.Image(testRegistryHost, testRegistryProject, p, "api", oldChartAPIHash))),
					statecheck.ExpectKnownValue("idp_database.mysql", tfjsonpath.New("password_version"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue("idp_database.redis", tfjsonpath.New("password_version"), knownvalue.Int64Exact(1)),
				},
				Check: c.checkAdopted(),
			},
			{
				// Later: keys removed from Vault and web's new port must
				// disappear from objects the old managers had written.
				PreConfig: func() {
					vaultPut(render.AppSecretVaultPath(p, "api"), map[string]any{"DATABASE_URL": "mysql://mysql.example/api"})()
					vaultPut(render.AppSecretVaultPath(p, "web"), map[string]any{"API_URL": "https://api.shop.example.com"})()
				},
				Config: c.config(3001, false),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.api", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("idp_application.web", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("idp_project.shop", plancheck.ResourceActionNoop),
				}},
				Check: c.checkRemovals(3001),
			},
			importStep("idp_project.shop", p),
			importStep("idp_application.api", p+"/api"),
			importStep("idp_application.web", p+"/web"),
			importStep("idp_database.mysql", p+"/mysql",
				// delete_data: a destroy-time choice that no object records.
				"delete_data"),
			importStep("idp_database.redis", p+"/redis", "delete_data"),
			{
				// Let the test's destroy delete the volumes and passwords.
				Config: c.config(3001, true),
			},
		},
	})
	t.Logf("done after %s", time.Since(start).Round(100*time.Millisecond))
}

// TestAccImportOldChart_notWhatItClaims: importing what does not exist, or
// is not what the ID claims, fails with a message saying so, and leaves
// nothing in the state (and nothing written to the cluster).
func TestAccImportOldChart_notWhatItClaims(t *testing.T) {
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	stack.PreCheck(t)
	cs, _ := stack.Kube(t)
	ctx := context.Background()
	ns := stack.Name("acc-old-bad")
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"},
	}}, metav1.CreateOptions{FieldManager: managerHelm}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	// A StatefulSet named like a database, running something else.
	sts := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":%q},"spec":{"serviceName":"cache","replicas":0,
"selector":{"matchLabels":{"app":%[1]q}},"template":{"metadata":{"labels":{"app":%[1]q}},
"spec":{"containers":[{"name":"cache","image":"memcached:1.6","ports":[{"containerPort":11211}]}]}},
"volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}`,
		render.DatabaseStatefulSet(ns, "cache"))
	// A redis database whose selector is not the chart's: it cannot change.
	session := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":%q},"spec":{"serviceName":"session","replicas":0,
"selector":{"matchLabels":{"app.kubernetes.io/name":"session"}},"template":{"metadata":{"labels":{"app.kubernetes.io/name":"session"}},
"spec":{"containers":[{"name":"session","image":"redis:7.2","ports":[{"containerPort":6379}]}]}},
"volumeClaimTemplates":[{"metadata":{"name":%q},"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}]}}`,
		render.DatabaseStatefulSet(ns, "session"), render.DatabaseVolume(ns, "session"))
	for _, body := range []string{sts, session} {
		if _, err := cs.AppsV1().RESTClient().Post().Namespace(ns).Resource("statefulsets").Param("fieldManager", managerHelm).
			Body([]byte(body)).SetHeader("Content-Type", "application/json").DoRaw(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// An application's Service without its EventSource.
	if _, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "ghost"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "ghost-app"}, Ports: []corev1.ServicePort{{Port: 8080}}},
	}, metav1.CreateOptions{FieldManager: managerHelm}); err != nil {
		t.Fatal(err)
	}
	missing := stack.Name("acc-old-none")
	cfg := acctest.Config(fmt.Sprintf(`
resource "idp_project" "p" {
  name = %[1]q
}
resource "idp_application" "a" {
  project = %[1]q
  name    = "ghost"
  git     = { owner = "myorg", repo = "ghost", branch = "main" }
  port    = 8080
}
resource "idp_database" "d" {
  project = %[1]q
  name    = "cache"
  type    = "redis"
  version = "7.2"
  size    = "1Gi"
}
resource "idp_database" "s" {
  project = %[1]q
  name    = "session"
  type    = "redis"
  version = "7.2"
  size    = "1Gi"
}
`, ns))
	bad := func(addr, id, msg string) resource.TestStep {
		return resource.TestStep{
			Config: cfg, ResourceName: addr, ImportState: true, ImportStateId: id,
			ImportStatePersist: true, // a half-imported resource would stay in the test's state
			ExpectError:        regexp.MustCompile(msg),
		}
	}
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			bad("idp_project.p", missing, `(?s)Project not found.*Namespace\s+`+missing+`\s+does\s+not\s+exist`),
			bad("idp_project.p", ns, `(?s)Not an idp project.*no\s+EventBus\s+`+render.EventBus(ns)),
			bad("idp_application.a", ns+"/ghost", `(?s)Importing application.*EventSource\s+`+ns+`/`+render.EventSource(ns, "ghost")+
				`\s+does\s+not\s+exist:\s+no\s+application\s+ghost\s+in\s+project\s+`+ns),
			bad("idp_database.d", ns+"/cache", `(?s)Importing database.*image\s+"memcached:1\.6"\s+is\s+not\s+<type>:<version>.*only\s+databases\s+of\s+those\s+types\s+can\s+be\s+imported`),
			bad("idp_database.s", ns+"/session", `(?s)Importing database.*StatefulSet\s+`+render.DatabaseStatefulSet(ns, "session")+
				`\s+selects\s+its\s+pods\s+with\s+\{"matchLabels":\{"app.kubernetes.io/name":"session"\}\}.*cannot\s+be\s+adopted\s+in\s+place`),
			bad("idp_database.d", missing+"/orders", `(?s)Importing database.*no\s+StatefulSet\s+`+render.DatabaseStatefulSet(missing, "orders")),
			{
				// The same with an import block: the plan fails, nothing is applied.
				Config: cfg[:strings.Index(cfg, `resource "idp_project"`)] + fmt.Sprintf(`
import {
  to = idp_database.d
  id = "%[1]s/cache"
}
resource "idp_database" "d" {
  project = %[1]q
  name    = "cache"
  type    = "redis"
  version = "7.2"
  size    = "1Gi"
}
`, ns),
				ExpectError: regexp.MustCompile(`(?s)Importing database.*memcached:1\.6`),
			},
			{
				Config: acctest.Config(""),
				Check: func(s *terraform.State) error {
					if n := len(s.RootModule().Resources); n != 0 {
						return fmt.Errorf("%d resources in state after failed imports", n)
					}
					nsObj, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
					if err != nil {
						return err
					}
					for _, mf := range nsObj.ManagedFields {
						if mf.Manager == fieldManager {
							return fmt.Errorf("a failed import wrote to namespace %s", ns)
						}
					}
					if _, err := cs.CoreV1().Namespaces().Get(ctx, missing, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return fmt.Errorf("namespace %s exists after a failed import (err=%v)", missing, err)
					}
					return nil
				},
			},
		},
	})
}

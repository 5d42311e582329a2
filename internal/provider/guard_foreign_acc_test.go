package provider_test

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// TestAccForeign_refused: objects someone else made (no label, no field
// manager of ours) under the names a create would write are never taken
// over. A namespace with a ConfigMap in it, named as a new project; in a
// project of ours, a Deployment, Service, Secret and IngressRoute named as
// an application's, a StatefulSet, Service and Secret named as a
// database's. Each create fails naming every such object and the import to
// use, writes nothing (not even the webhook secret in Vault), and leaves no
// state: the objects keep their resourceVersion through the later applies
// and the final destroy.
func TestAccForeign_refused(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	cs, dyn := stack.Kube(t)
	ctx := context.Background()
	foreignNS := stack.Name("acc-foreign-ns")
	project := stack.Name("acc-foreign")
	// Vault holds what a project needs, so that before the fix the create
	// of the foreign namespace's project succeeds, as reported.
	seedProjectVault(t, foreignNS)
	seedProjectVault(t, project)
	const app, db, domain = "web", "db", "web.foreign.example.com"

	// kept records each foreign object as made; unchanged compares it with
	// the live one. Not by resourceVersion: controllers write the status of
	// Deployments and StatefulSets, and the revision annotation. Every write
	// of ours leaves an entry of our field manager, and a delete a new UID.
	type object struct {
		gvr       schema.GroupVersionResource
		ns, name  string
		made      *unstructured.Unstructured
		reference string // as the error names it
	}
	var kept []*object
	keep := func(gvr schema.GroupVersionResource, kind string, o *unstructured.Unstructured) {
		ref := kind + "/" + o.GetName()
		if o.GetNamespace() != "" {
			ref = kind + "/" + o.GetNamespace() + "/" + o.GetName()
		}
		kept = append(kept, &object{gvr: gvr, ns: o.GetNamespace(), name: o.GetName(), made: o, reference: ref})
	}
	create := func(gvr schema.GroupVersionResource, kind string, body map[string]any) {
		t.Helper()
		o := &unstructured.Unstructured{Object: body}
		res := dyn.Resource(gvr)
		var made *unstructured.Unstructured
		var err error
		if ns := o.GetNamespace(); ns != "" {
			made, err = res.Namespace(ns).Create(ctx, o, metav1.CreateOptions{FieldManager: "kubectl-create"})
		} else {
			made, err = res.Create(ctx, o, metav1.CreateOptions{FieldManager: "kubectl-create"})
		}
		if err != nil {
			t.Fatal(err)
		}
		keep(gvr, kind, made)
	}
	unchanged := func(only func(*object) bool) error {
		for _, o := range kept {
			if !only(o) {
				continue
			}
			res := dyn.Resource(o.gvr)
			var live *unstructured.Unstructured
			var err error
			if o.ns != "" {
				live, err = res.Namespace(o.ns).Get(ctx, o.name, metav1.GetOptions{})
			} else {
				live, err = res.Get(ctx, o.name, metav1.GetOptions{})
			}
			if err != nil {
				return fmt.Errorf("%s: %w", o.reference, err)
			}
			var ours []string
			for _, mf := range live.GetManagedFields() {
				if strings.HasPrefix(mf.Manager, "terraform-provider-idp") {
					ours = append(ours, mf.Manager+" "+string(mf.Operation))
				}
			}
			data := func(u *unstructured.Unstructured) any { return u.Object["data"] }
			switch {
			case live.GetUID() != o.made.GetUID() || live.GetDeletionTimestamp() != nil:
				return fmt.Errorf("%s was deleted (uid %s, made as %s; being deleted: %v)", o.reference, live.GetUID(), o.made.GetUID(), live.GetDeletionTimestamp() != nil)
			case len(ours) > 0:
				return fmt.Errorf("%s was written by the provider: %v", o.reference, ours)
			case live.GetGeneration() != o.made.GetGeneration() || !maps.Equal(live.GetLabels(), o.made.GetLabels()) || !reflect.DeepEqual(data(live), data(o.made)):
				return fmt.Errorf("%s was changed: generation %d (made as %d), labels %v (made with %v), or its data",
					o.reference, live.GetGeneration(), o.made.GetGeneration(), live.GetLabels(), o.made.GetLabels())
			}
		}
		return nil
	}
	inForeignNS := func(o *object) bool { return o.ns == foreignNS || o.name == foreignNS && o.ns == "" }
	all := func(*object) bool { return true }

	gvr := func(group, version, resource string) schema.GroupVersionResource {
		return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
	}
	nsGVR, cmGVR, secretGVR, svcGVR := gvr("", "v1", "namespaces"), gvr("", "v1", "configmaps"), gvr("", "v1", "secrets"), gvr("", "v1", "services")
	depGVR, stsGVR := gvr("apps", "v1", "deployments"), gvr("apps", "v1", "statefulsets")
	meta := func(ns, name string) map[string]any {
		m := map[string]any{"name": name, "labels": map[string]any{"app": name}}
		if ns != "" {
			m["namespace"] = ns
		}
		return m
	}
	manifest := func(apiVersion, kind, ns, name string, rest map[string]any) map[string]any {
		rest["apiVersion"], rest["kind"], rest["metadata"] = apiVersion, kind, meta(ns, name)
		return rest
	}
	toMap := func(v any) map[string]any {
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(v)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	template := func(label string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": label}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.invalid/someone:1"}}},
		}
	}
	create(nsGVR, "Namespace", manifest("v1", "Namespace", "", foreignNS, map[string]any{}))
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), foreignNS, metav1.DeleteOptions{}) })
	create(cmGVR, "ConfigMap", manifest("v1", "ConfigMap", foreignNS, "precious", map[string]any{"data": map[string]any{"k": "v"}}))

	// In the project, once it exists: what the application and the
	// database would write, made by someone else.
	makeInProject := func() {
		someone := func(port int64) map[string]any {
			return map[string]any{"spec": map[string]any{
				"selector": map[string]any{"app": "someone"}, "ports": []any{map[string]any{"port": port}}}}
		}
		create(secretGVR, "Secret", manifest("v1", "Secret", project, render.AppSecret(project, app), map[string]any{"stringData": map[string]any{"k": "someone's"}}))
		create(svcGVR, "Service", manifest("v1", "Service", project, app, someone(80)))
		dep := render.Deployment(app)
		create(depGVR, "Deployment", manifest("apps/v1", "Deployment", project, dep, map[string]any{"spec": toMap(&appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": dep}}, Template: template(dep)})}))
		route := render.IngressRoute(project, app, domain)
		create(ingressRouteGVR, "IngressRoute", manifest("traefik.io/v1alpha1", "IngressRoute", project, route, map[string]any{"spec": map[string]any{
			"routes": []any{map[string]any{"match": "Host(`" + domain + "`)", "kind": "Rule",
				"services": []any{map[string]any{"name": "someone", "port": int64(80)}}}}}}))
		create(secretGVR, "Secret", manifest("v1", "Secret", project, render.DatabaseSecret(project, db), map[string]any{"stringData": map[string]any{"k": "someone's"}}))
		create(svcGVR, "Service", manifest("v1", "Service", project, render.DatabaseService(db), someone(3306)))
		sts := render.DatabaseStatefulSet(project, db)
		create(stsGVR, "StatefulSet", manifest("apps/v1", "StatefulSet", project, sts, map[string]any{"spec": toMap(&appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](0), ServiceName: "someone", Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": sts}}, Template: template(sts)})}))
	}

	projectOnly := func(name string) string {
		return acctest.Config(fmt.Sprintf("resource \"idp_project\" \"p\" {\n  name = %q\n}\n", name))
	}
	withApp := projectOnly(project) + fmt.Sprintf(`
resource "idp_application" "app" {
  project = idp_project.p.name
  name    = %q
  git     = { owner = "myorg", repo = "web", branch = "main", hash = %q }
  port    = 8080
  domains = [%q]
}
`, app, sha('a'), domain)
	withDB := projectOnly(project) + fmt.Sprintf(`
resource "idp_database" "db" {
  project = idp_project.p.name
  name    = %q
  type    = "mysql"
  version = "8.0"
  size    = "1Gi"
}
`, db)

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			return unchanged(inForeignNS)
		},
		Steps: []resource.TestStep{
			{
				// A namespace someone else made, named as a new project.
				Config:      projectOnly(foreignNS),
				ExpectError: refused("idp_project", foreignNS, "Namespace/"+foreignNS),
			},
			{
				Config: projectOnly(project),
				Check:  func(*terraform.State) error { return unchanged(inForeignNS) },
			},
			{
				PreConfig:   makeInProject,
				Config:      withApp,
				ExpectError: refused("idp_application", project+"/"+app, refsIn(project, "Secret", render.AppSecret(project, app), "Service", app, "Deployment", render.Deployment(app), "IngressRoute", render.IngressRoute(project, app, domain))...),
			},
			{
				Config:      withDB,
				ExpectError: refused("idp_database", project+"/"+db, refsIn(project, "Secret", render.DatabaseSecret(project, db), "Service", render.DatabaseService(db), "StatefulSet", render.DatabaseStatefulSet(project, db))...),
			},
			{
				// Neither refused create is in state: nothing to delete, and
				// nothing of theirs was written, in the cluster or in Vault.
				Config: projectOnly(project),
				Check: func(*terraform.State) error {
					if err := unchanged(all); err != nil {
						return err
					}
					if _, err := dyn.Resource(eventSourceGVR).Namespace(project).Get(ctx, render.EventSource(project, app), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
						return fmt.Errorf("the refused application wrote its EventSource (err=%v)", err)
					}
					kv, _ := stack.Vault(t)
					if s, err := kv.Get(ctx, render.WebhookSecretVaultPath(project, app)); err == nil && s != nil {
						return fmt.Errorf("the refused application wrote its webhook secret to Vault")
					}
					if s, err := kv.Get(ctx, render.DatabaseVaultPath(project, db)); err == nil && s != nil {
						return fmt.Errorf("the refused database wrote its password to Vault")
					}
					return nil
				},
			},
		},
	})
}

// refsIn are "Kind/ns/name" for kind, name pairs in namespace ns.
func refsIn(ns string, kindNames ...string) []string {
	var out []string
	for i := 0; i+1 < len(kindNames); i += 2 {
		out = append(out, kindNames[i]+"/"+ns+"/"+kindNames[i+1])
	}
	return out
}

// refused matches the create's error: exactly these objects, in this order,
// and the import that adopts them.
func refused(resourceType, importID string, refs ...string) *regexp.Regexp {
	sep := `[\s│]+`
	words := func(s string) string {
		parts := strings.Fields(s)
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		return strings.Join(parts, sep)
	}
	quoted := make([]string, len(refs))
	for i, r := range refs {
		quoted[i] = regexp.QuoteMeta(r)
	}
	return regexp.MustCompile(`(?s)` + words("Objects exist that are not ours") + `.*` + words("were not made by terraform-provider-idp") +
		`[^:]*:` + sep + strings.Join(quoted, sep) + sep + words("A create never takes over") + `.*` +
		words("tofu import "+resourceType+".<name> "+importID))
}

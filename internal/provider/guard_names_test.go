package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// An application and a database of the same name, created in one apply
// (in parallel): both derive Service "store" and Secret P-store-secret.
// Exactly one gets them; the other is refused at its name, naming the
// winner, and leaves nothing of its own. Then two applications whose domain
// routes meet: web + shop.example.com and web-shop + example.com both make
// P-web-shop-example-com-route.
func TestAccGuardNames_sharedNames(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	project := stack.Name("acc-names")
	seedProjectVault(t, project)
	cs, _ := stack.Kube(t)
	ctx := context.Background()
	git := `{ owner = "myorg", repo = "store", branch = "main", hash = "` + sha('5') + `" }`
	base := fmt.Sprintf(`
resource "idp_project" "p" {
  name        = %q
  delete_data = true # a database's volume may be left
}
`, project)
	appAndDB := base + fmt.Sprintf(`
resource "idp_application" "store" {
  project = idp_project.p.name
  name    = "store"
  git     = %[1]s
  port    = 8080
}

resource "idp_database" "store" {
  project = idp_project.p.name
  name    = "store"
  type    = "redis"
  version = "7.2"
  size    = "64Mi"
  delete_data = true
}
`, git)
	route := render.IngressRoute(project, "web", "shop.example.com")
	twoApps := base + fmt.Sprintf(`
resource "idp_application" "web" {
  project = idp_project.p.name
  name    = "web"
  git     = %[1]s
  port    = 8080
  domains = ["shop.example.com"]
}

resource "idp_application" "web_shop" {
  project    = idp_project.p.name
  name       = "web-shop"
  git        = %[1]s
  port       = 8080
  domains    = ["example.com"]
  depends_on = [idp_application.web]
}
`, git)
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: appAndDB,
				ExpectError: regexp.MustCompile(`(?s)Name already taken.*(Service|Secret)/` + project + `/\S+\s+already\s+belongs\s+to\s+the\s+` +
					`(application|database)\s+"store"\s+of\s+project\s+` + project + `\s+\(idp_(application|database)\)`),
			},
			{
				// The winner is whole and alone: the Service selects its pods,
				// and the loser's workload does not exist.
				PreConfig: func() {
					svc, err := cs.CoreV1().Services(project).Get(ctx, "store", metav1.GetOptions{})
					if err != nil {
						t.Fatal(err)
					}
					owner := svc.Labels[render.LabelOwner]
					dbWon := owner == render.DatabaseOwner("store")
					wantSel := render.Deployment("store")
					if dbWon {
						wantSel = render.DatabaseStatefulSet(project, "store")
					} else if owner != render.ApplicationOwner("store") {
						t.Fatalf("Service store labelled %v", svc.Labels)
					}
					if svc.Spec.Selector["app"] != wantSel {
						t.Errorf("Service store (%s) selects %v, want app=%s", owner, svc.Spec.Selector, wantSel)
					}
					if dbWon {
						_, err = cs.AppsV1().Deployments(project).Get(ctx, render.Deployment("store"), metav1.GetOptions{})
					} else {
						_, err = cs.AppsV1().StatefulSets(project).Get(ctx, render.DatabaseStatefulSet(project, "store"), metav1.GetOptions{})
					}
					if !apierrors.IsNotFound(err) {
						t.Errorf("the refused resource's workload exists (err=%v)", err)
					}
				},
				Config: base,
			},
			{
				Config: twoApps,
				ExpectError: regexp.MustCompile(`(?s)Name already taken.*IngressRoute/` + project + `/` + route +
					`\s+already\s+belongs\s+to\s+the\s+application\s+"web"\s+of\s+project`),
			},
			{
				// web keeps its route.
				PreConfig: func() {
					rt, _, err := unstructured.NestedSlice(ingressRoute(t, project, route).Object, "spec", "routes")
					if err != nil || len(rt) != 1 {
						t.Fatalf("routes of %s: %v %v", route, rt, err)
					}
					svcs, _, _ := unstructured.NestedSlice(rt[0].(map[string]any), "services")
					if len(svcs) != 1 || svcs[0].(map[string]any)["name"] != "web" {
						t.Errorf("IngressRoute %s routes to %v, want web's Service", route, svcs)
					}
				},
				Config: base,
			},
		},
	})
}

func ingressRoute(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	_, dyn := stack.Kube(t)
	gvr := schema.GroupVersionResource{Group: "traefik.io", Version: "v1alpha1", Resource: "ingressroutes"}
	obj, err := dyn.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

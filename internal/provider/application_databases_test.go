package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// An application uses a database of its project by naming the resource:
// host, port, user and database come from it, the password stays in the
// database's Secret (a secretKeyRef), and import finds the link again.
func TestAccApplication_databases(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	project := stack.Name("acc-link")
	seedProjectVault(t, project)
	cs, _ := stack.Kube(t)
	ctx := context.Background()
	config := acctest.Config(fmt.Sprintf(`
resource "idp_project" "p" {
  name = %[1]q
}

resource "idp_database" "cache" {
  project = idp_project.p.name
  name    = "session-cache"
  type    = "redis"
  version = "7.0"
  size    = "1Gi"
  delete_data = true
}

resource "idp_application" "app" {
  project   = idp_project.p.name
  name      = "api"
  git       = { owner = "myorg", repo = "api", branch = "main", hash = %[2]q }
  port      = 8080
  databases = [idp_database.cache]
}
`, project, sha('1')))

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: func(s *terraform.State) error {
					d, err := cs.AppsV1().Deployments(project).Get(ctx, render.Deployment("api"), metav1.GetOptions{})
					if err != nil {
						return err
					}
					env := map[string]corev1.EnvVar{}
					for _, e := range d.Spec.Template.Spec.Containers[0].Env {
						env[e.Name] = e
					}
					want := map[string]string{
						"SESSION_CACHE_HOST": "session-cache." + project + ".svc.cluster.local",
						"SESSION_CACHE_PORT": "6379",
						"SESSION_CACHE_URL":  "redis://:$(SESSION_CACHE_PASSWORD)@$(SESSION_CACHE_HOST):$(SESSION_CACHE_PORT)/$(SESSION_CACHE_DATABASE)",
					}
					for k, v := range want {
						if env[k].Value != v {
							return fmt.Errorf("%s = %q, want %q", k, env[k].Value, v)
						}
					}
					ref := env["SESSION_CACHE_PASSWORD"].ValueFrom
					if ref == nil || ref.SecretKeyRef == nil || ref.SecretKeyRef.Name != render.DatabaseSecret(project, "session-cache") || env["SESSION_CACHE_PASSWORD"].Value != "" {
						return fmt.Errorf("SESSION_CACHE_PASSWORD is not a reference to the database's Secret: %+v", env["SESSION_CACHE_PASSWORD"])
					}
					kv, _ := stack.Vault(t)
					pw, err := kv.Get(ctx, render.DatabaseVaultPath(project, "session-cache"))
					if err != nil {
						return err
					}
					return checkNoSecretInState(pw.Data["password"].(string))(s)
				},
			},
			{
				// Without the database, the variables go.
				Config: config[:len(config)-len("  databases = [idp_database.cache]\n}\n")] + "}\n",
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					d, err := cs.AppsV1().Deployments(project).Get(ctx, render.Deployment("api"), metav1.GetOptions{})
					if err != nil {
						return err
					}
					if env := d.Spec.Template.Spec.Containers[0].Env; len(env) != 0 {
						return fmt.Errorf("variables left: %v", env)
					}
					return nil
				},
			},
			{
				Config: config,
			},
			{
				ResourceName:                         "idp_application.app",
				ImportState:                          true,
				ImportStateId:                        project + "/api",
				ImportStateVerify:                    true,
				ImportStateVerifyIdentifierAttribute: "id",
				ImportStateVerifyIgnore:              []string{"timeouts", "build_on_create"},
			},
		},
	})
}

func TestAccApplication_databasesInvalid(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	for _, c := range []struct{ databases, err string }{
		{`[{ project = "other", name = "x", type = "redis", port = 6379 }]`, `(?s)Database of another project.*database x is in project other`},
		{`[{ project = "shop", name = "x" }]`, `(?s)Incomplete database.*databases = \[idp_database.orders\]`},
		{`[{ project = "shop", name = "kubernetes", type = "redis", port = 6379 }]`, `(?s)Database name taken by Kubernetes.*give the database\s+another\s+name`},
		{`[{ project = "shop", name = "x", type = "oracle", port = 1 }]`, `(?s)databases.*value must be one of`},
	} {
		acctest.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: acctest.ProviderFactories,
			Steps: []resource.TestStep{{
				Config: acctest.Config(`
resource "idp_application" "app" {
  project   = "shop"
  name      = "api"
  git       = { owner = "myorg", repo = "api", branch = "main" }
  port      = 8080
  databases = ` + c.databases + `
}
`),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(c.err),
			}},
		})
	}
}

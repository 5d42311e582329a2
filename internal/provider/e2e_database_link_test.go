package provider_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// An application built by CI uses a real redis of its project through
// `databases`, and a password rotation in Vault reaches the server, the
// database's pods and the application's pods, with the data kept.
func TestAccE2E_appUsesDatabase(t *testing.T) {
	owner, repo := "acme", "shop"
	_, project := e2eRepo(t, "e2edb", owner, repo, "v1")
	ns, domain := render.Namespace(project), e2eDomain(project, "app")
	kv, _ := stack.Vault(t)
	eng := stack.Engine(t)
	ctx := context.Background()
	config := acctest.Config(fmt.Sprintf(`
resource "idp_project" "p" {
  name              = %[1]q
  eventbus_replicas = 3
  annotations       = %[2]s
}

resource "idp_database" "cache" {
  project     = idp_project.p.name
  name        = "cache"
  type        = "redis"
  version     = "7.0"
  size        = "1Gi"
  delete_data = true
}

resource "idp_application" "app" {
  project         = idp_project.p.name
  name            = "app"
  git             = { owner = %[3]q, repo = %[4]q, branch = "main" }
  port            = 8080
  domains         = [%[5]q]
  build_on_create = true
  databases       = [idp_database.cache]
}
`, project, stack.RealNodeAnnotations, owner, repo, domain))
	// redis answers PING with password pw, as a client in the pod would.
	ping := func(pw string) string {
		out, err := eng.Exec(ctx, ns, render.DatabasePod(project, "cache", 0), "cache",
			[]string{"sh", "-c", `REDISCLI_AUTH="$(cat)" redis-cli --no-auth-warning PING`}, pw, pw)
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(out)
	}
	// serves waits until the application answers want at path.
	serves := func(path, want string) {
		t.Helper()
		deadline := time.Now().Add(4 * time.Minute)
		for {
			got, err := stack.ServingPath(ctx, domain, path)
			if err == nil && got == want {
				return
			}
			if time.Now().After(deadline) {
				dumpNamespace(t, ns)
				t.Fatalf("%s%s answered %q (err %v), want %q", domain, path, got, err, want)
			}
			time.Sleep(2 * time.Second)
		}
	}
	var oldPassword string

	acctest.Test(t, resource.TestCase{
		PreCheck:                 func() { stack.RealNode(t) },
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// The app reaches redis with what its environment holds.
				Config: config,
				Check: func(*terraform.State) error {
					start := time.Now()
					waitServing(t, ns, domain, "v1", start)
					serves("/redis/greeting?set=hello", "OK")
					serves("/redis/greeting", "hello")
					t.Logf("app serving and writing to redis: %s after apply", time.Since(start).Round(time.Second))
					s, err := kv.Get(ctx, render.DatabaseVaultPath(project, "cache"))
					if err != nil {
						return err
					}
					oldPassword = s.Data["password"].(string)
					if got := ping(oldPassword); got != "PONG" {
						return fmt.Errorf("redis refuses the password in Vault: %s", got)
					}
					return nil
				},
			},
			{
				// Rotation: the server takes the new password, the old one
				// stops working, the app restarts onto the new one, and the
				// key written before is still there.
				PreConfig: func() {
					acctest.PutVault(t, render.DatabaseVaultPath(project, "cache"), map[string]any{"password": stack.Name("rotated-pw-")})
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_database.cache", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					start := time.Now()
					s, err := kv.Get(ctx, render.DatabaseVaultPath(project, "cache"))
					if err != nil {
						return err
					}
					if got := ping(s.Data["password"].(string)); got != "PONG" {
						return fmt.Errorf("redis refuses the rotated password: %s", got)
					}
					if got := ping(oldPassword); got == "PONG" {
						return fmt.Errorf("redis still accepts the old password")
					}
					serves("/redis/greeting", "hello")
					t.Logf("after rotation, the app reads the key written before: %s after apply", time.Since(start).Round(time.Second))
					return nil
				},
			},
		},
	})
}

package faults_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Cleanup at scale: 50 projects, each with an application, and 10 with a
// database, applied and destroyed in one run. Nothing of ours stays in the
// cluster; in Vault only what delete_data says stays (the passwords of
// databases with delete_data = false, and the credentials the platform team
// wrote, which are theirs).
//
// Not parallel: go test runs it alone, before the parallel tests. Its 50
// EventBuses, EventSources and Sensors fill the one Argo Events
// controller's queue for minutes (controller-runtime's client: 20
// requests a second); beside it, the real-node tests' EventBuses and CI
// came up minutes late (two full runs on 2026-12-06).
func TestFaultScale_cleanup(t *testing.T) {
	const projects, every = 50, 5
	prefix := stack.Name("f-scale")
	var names []string
	for i := range projects {
		p := fmt.Sprintf("%s-%02d", prefix, i)
		names = append(names, p)
		hclProject(t, p) // seeds Vault
	}
	config := fmt.Sprintf(`
locals {
  projects  = toset([%s])
  databases = { for i, p in tolist(local.projects) : p => i %% 2 == 0 if i %% %d == 0 }
}

resource "idp_project" "p" {
  for_each    = local.projects
  name        = each.key
  delete_data = true
}

resource "idp_application" "a" {
  for_each = idp_project.p
  project  = each.value.name
  name     = "api"
  git      = { owner = "myorg", repo = each.key, branch = "main" }
  port     = 8080
}

resource "idp_database" "d" {
  for_each    = local.databases
  project     = idp_project.p[each.key].name
  name        = "db"
  type        = "redis"
  version     = "7.0"
  size        = "1Gi"
  delete_data = each.value
}
`, `"`+strings.Join(names, `", "`)+`"`, every)
	// Most of a destroy is waiting for namespaces to go: more at once.
	w := acctest.NewTofu(t, "TF_CLI_ARGS_apply=-parallelism=25", "TF_CLI_ARGS_destroy=-parallelism=25")
	w.Write(config)
	cleanup(t, w)
	start := time.Now()
	w.Apply()
	t.Logf("applied %d projects in %s", projects, time.Since(start).Round(time.Second))
	start = time.Now()
	w.Destroy()
	t.Logf("destroyed them in %s", time.Since(start).Round(time.Second))

	cs, _ := stack.Kube(t)
	left := map[string]bool{}
	for _, p := range names {
		left[p] = true
	}
	deadline := time.Now().Add(3 * time.Minute)
	for len(left) > 0 && time.Now().Before(deadline) {
		for p := range left {
			if _, err := cs.CoreV1().Namespaces().Get(context.Background(), p, metav1.GetOptions{}); err != nil {
				delete(left, p)
			}
		}
		time.Sleep(2 * time.Second)
	}
	orphans := 0
	for p := range left {
		objs := ours(t, "", p)
		orphans += 1 + len(objs)
		t.Errorf("namespace %s still exists 3 minutes after destroy, with %v", p, objs)
	}
	for i, p := range names {
		if s := vaultSecret(t, render.WebhookSecretVaultPath(p, "api")); s != nil {
			orphans++
			t.Errorf("the webhook secret of %s/api stayed in Vault", p)
		}
		pw := vaultSecret(t, render.DatabaseVaultPath(p, "db"))
		switch {
		case i%every != 0 && pw != nil:
			t.Errorf("%s has no database, but Vault has a password for one", p)
		case i%every == 0 && i%2 == 0 && pw != nil:
			orphans++
			t.Errorf("the password of %s/db (delete_data = true) stayed in Vault", p)
		case i%every == 0 && i%2 != 0 && pw == nil:
			t.Errorf("the password of %s/db (delete_data = false) was deleted", p)
		}
		if vaultSecret(t, render.GitHubAccessVaultPath(p)) == nil {
			t.Errorf("the platform team's GitHub credentials of %s were deleted", p)
		}
	}
	injected(1)
	converged(orphans)
}

package provider_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Project isolation on the real node, where kube-router enforces
// NetworkPolicy, with the stack's real Traefik, which runs on the host (a
// host-network ingress: its traffic comes from the host's address, not
// from a pod in a namespace). While the provider's isolation.allowed_cidrs
// does not admit that address, Traefik cannot reach the running EventSource
// (so something really enforces the policy); once it does, GitHub's
// webhooks get through. Blocked first: an enforcer keeps connections that
// were established before a policy change (Traefik pools them).
func TestAccE2E_isolationAdmitsIngress(t *testing.T) {
	stack.RealNode(t)
	providerTestEnv(t)
	gh := acctest.NewGitHubOn(t, stack.HostIP())
	gh.AddRepo("myorg", "iso", true)
	gh.SetBranch("myorg", "iso", "main", strings.Repeat("1", 40))
	traefik := os.Getenv("IDP_STACK_TRAEFIK_URL")
	t.Setenv("IDP_WEBHOOK_BASE_URL", traefik)
	hostCIDR := stack.HostIP() + "/32"
	project, app := stack.Name("acc-isol"), "api"
	seedProjectVault(t, project)
	acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": gh.Token})
	config := func(cidrs string) string {
		return acctest.Config(fmt.Sprintf(`
provider "idp" {
  isolation {
    allowed_cidrs = [%s]
  }
}

resource "idp_project" "p" {
  name        = %q
  annotations = %s
}

resource "idp_application" "app" {
  project         = idp_project.p.name
  name            = %q
  git             = { owner = "myorg", repo = "iso", branch = "main" }
  port            = 8080
  build_on_create = false
}
`, cidrs, project, stack.RealNodeAnnotations, app))
	}
	url := traefik + "/" + project + "-" + app
	// reached: the EventSource answered (whatever it thinks of an unsigned
	// body). Traefik itself answers 404 (no route yet), 503 (no ready
	// endpoint), 502 (the connection was refused: kube-router rejects) or
	// 504.
	reached := func() (bool, string) {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "ping")
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusNotFound, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return false, resp.Status
		}
		return true, resp.Status
	}
	waitFor := func(want bool, within time.Duration) resource.TestCheckFunc {
		return func(*terraform.State) error {
			// Blocked is a 502 (refused) five times in a row, seconds after
			// the EventSource registered its hook (it listens by then).
			need, n := 1, 0
			if !want {
				need = 5
			}
			deadline, last := time.Now().Add(within), ""
			for time.Now().Before(deadline) {
				got, status := reached()
				if n = n + 1; got != want || (!want && !strings.HasPrefix(status, "502")) {
					n = 0
				}
				if n >= need {
					t.Logf("POST %s through Traefik: %s (reached=%v)", url, status, got)
					return nil
				}
				last = status
				time.Sleep(time.Second)
			}
			return fmt.Errorf("POST %s through Traefik: still %q after %s, want reached=%v", url, last, within, want)
		}
	}
	hookUp := func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		_, err := gh.WaitHook(ctx, "myorg", "iso") // the EventSource runs
		return err
	}

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(""), Check: resource.ComposeTestCheckFunc(hookUp, waitFor(false, time.Minute))},
			{Config: config(fmt.Sprintf("%q", hostCIDR)), Check: waitFor(true, time.Minute)},
		},
	})
}

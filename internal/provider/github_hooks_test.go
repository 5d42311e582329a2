package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// GitHub's hook always signs with the secret in Vault: Argo Events reuses a
// hook with the webhook URL as it finds it, so a hook left without a secret
// (the old chart's, as after an import) or with an old one (after a destroy
// and re-create, or a rotation) would make every push fail its signature.
// A rotation also restarts the EventSource pod, which reads the secret
// once. The provider has no GitHub token: the hook is kept with the
// project's, the one CI uses.
func TestAccApplication_hookFollowsVault(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	gh := acctest.NewGitHub(t)
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("IDP_GITHUB_SYNC_HOOKS", "true")
	gh.AddRepo("myorg", "my-api", true)
	gh.SetBranch("myorg", "my-api", "main", sha('1'))
	project, app := stack.Name("acc-hook"), "api"
	seedProjectVault(t, project)
	acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": gh.Token})
	_, dyn := stack.Kube(t)
	ctx := context.Background()
	kv, _ := stack.Vault(t)
	url := testWebhookBase + "/" + project + "-" + app
	client, err := github.NewClient(nil).WithAuthToken(gh.Token).WithEnterpriseURLs(gh.URL+"api/v3/", gh.URL+"api/uploads/")
	if err != nil {
		t.Fatal(err)
	}
	staleHook := func(secret string) func() {
		return func() {
			cfg := &github.HookConfig{URL: github.String(url), ContentType: github.String("json")}
			if secret != "" {
				cfg.Secret = github.String(secret)
			}
			if _, _, err := client.Repositories.CreateHook(ctx, "myorg", "my-api", &github.Hook{Config: cfg, Events: []string{"push"}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	config := func(rotation string, withApp bool) string {
		c := appConfig(project, app, `owner = "myorg", repo = "my-api", branch = "main"`, `  build_on_create = false
  webhook_secret_rotation = "`+rotation+`"`)
		if !withApp {
			c = acctest.Config(fmt.Sprintf("resource \"idp_project\" \"p\" {\n  name = %q\n}\n", project))
		}
		return c
	}
	// hookSigns checks the one hook for url carries Vault's secret, and
	// the EventSource pod template the version it must run with.
	hookSigns := func(version int) resource.TestCheckFunc {
		return func(*terraform.State) error {
			s, err := kv.Get(ctx, render.WebhookSecretVaultPath(project, app))
			if err != nil {
				return err
			}
			var found []acctest.WebHook
			for _, h := range gh.Hooks("myorg", "my-api") {
				if h.URL == url {
					found = append(found, h)
				}
			}
			if len(found) != 1 || found[0].Secret != s.Data["secret"] || !found[0].Active {
				return fmt.Errorf("%d hooks for %s; want one, active, with Vault's secret", len(found), url)
			}
			if s.VersionMetadata.Version != version {
				return fmt.Errorf("webhook secret at version %d, want %d", s.VersionMetadata.Version, version)
			}
			es, err := dyn.Resource(eventSourceGVR).Namespace(project).Get(ctx, render.EventSource(project, app), metav1.GetOptions{})
			if err != nil {
				return err
			}
			v, _, _ := unstructured.NestedString(es.Object, "spec", "template", "metadata", "annotations", render.AnnotationVaultVersion)
			if v != fmt.Sprint(version) {
				return fmt.Errorf("EventSource pods run with webhook secret version %q, want %d", v, version)
			}
			return nil
		}
	}

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// A hook without a secret exists (the old chart's): it is
				// reused and given the secret, not duplicated.
				PreConfig: staleHook(""),
				Config:    config("1", true),
				Check:     hookSigns(1),
			},
			{
				// Rotation: GitHub and the EventSource pod follow at once.
				Config: config("2", true),
				Check:  hookSigns(2),
			},
			{
				// Destroy removes the hook with the application.
				Config: config("2", false),
				Check: func(*terraform.State) error {
					if hooks := gh.Hooks("myorg", "my-api"); len(hooks) != 0 {
						return fmt.Errorf("%d hooks left after destroy", len(hooks))
					}
					return nil
				},
			},
			{
				// Re-create, with a hook left from before signing with an old
				// secret: it gets the new one.
				PreConfig: staleHook("an-old-secret"),
				Config:    config("2", true),
				Check:     hookSigns(1),
			},
		},
	})
}

// The apply ends once CI listens: the EventSource has registered GitHub's
// hook (then re-signed with Vault's secret), else it fails saying so. On
// kwok no EventSource pod runs, so no hook comes unless the test makes one
// as the EventSource would. Where tofu cannot reach GitHub,
// github.sync_hooks = false skips the hook.
func TestAccApplication_hookCheck(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	gh := acctest.NewGitHub(t)
	t.Setenv("GITHUB_TOKEN", "")
	t.Setenv("IDP_GITHUB_SYNC_HOOKS", "true")
	gh.AddRepo("myorg", "my-api", true)
	gh.SetBranch("myorg", "my-api", "main", sha('1'))
	project := stack.Name("acc-hookchk")
	seedProjectVault(t, project)
	_, dyn := stack.Kube(t)
	ctx := context.Background()
	kv, _ := stack.Vault(t)
	url := func(app string) string { return testWebhookBase + "/" + project + "-" + app }
	config := func(apps ...string) string {
		c := fmt.Sprintf("resource \"idp_project\" \"p\" {\n  name = %q\n}\n", project)
		for _, a := range apps {
			c += fmt.Sprintf(`
resource "idp_application" %[1]q {
  project         = idp_project.p.name
  name            = %[1]q
  git             = { owner = "myorg", repo = "my-api", branch = "main" }
  port            = 8080
  build_on_create = false
  timeouts {
    create = "15s"
  }
}
`, a)
		}
		return acctest.Config(c)
	}
	hooksFor := func(app string) []acctest.WebHook {
		var found []acctest.WebHook
		for _, h := range gh.Hooks("myorg", "my-api") {
			if h.URL == url(app) {
				found = append(found, h)
			}
		}
		return found
	}
	// registerLater registers app's hook, without a secret, as its
	// EventSource pod would: a moment after the apply created the
	// EventSource, so only the apply's wait can find it.
	registerLater := func(app string) {
		client, err := github.NewClient(nil).WithAuthToken(gh.Token).WithEnterpriseURLs(gh.URL+"api/v3/", gh.URL+"api/uploads/")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for range 600 {
				if _, err := dyn.Resource(eventSourceGVR).Namespace(project).Get(ctx, render.EventSource(project, app), metav1.GetOptions{}); err == nil {
					time.Sleep(3 * time.Second)
					cfg := &github.HookConfig{URL: github.String(url(app)), ContentType: github.String("json")}
					if _, _, err := client.Repositories.CreateHook(ctx, "myorg", "my-api", &github.Hook{Config: cfg, Events: []string{"push"}}); err != nil {
						t.Errorf("registering the hook: %v", err)
					}
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Errorf("the apply never created EventSource %s", render.EventSource(project, app))
		}()
	}

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{
				// GitHub refuses CI's token: the hook cannot be kept, so
				// the apply fails at once, naming the token.
				PreConfig: func() {
					acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": "ghp_revoked"})
				},
				Config: config("api"),
				ExpectError: regexp.MustCompile(`(?s)GitHub webhook not updated.*token\s+was\s+rejected\s+\(401\):\s+check\s+Vault\s+\S+/` +
					regexp.QuoteMeta(render.GitHubAccessVaultPath(project)) + `,\s+key\s+token`),
			},
			{
				// No hook ever comes: the apply fails within its timeout,
				// naming the repository and what to check.
				PreConfig: func() {
					acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": gh.Token})
				},
				Config: config("api"),
				ExpectError: regexp.MustCompile(`(?s)GitHub webhook not ready.*hook\s+not\s+registered:\s+myorg/my-api\s+has\s+no\s+push\s+webhook` +
					`.*EventSource\s+registers\s+it.*github\.sync_hooks\s+=\s+false`),
			},
			{
				// The hook comes while the apply waits: it is found and
				// signs with Vault's secret.
				PreConfig: func() { registerLater("web") },
				Config:    config("web"),
				Check: func(*terraform.State) error {
					s, err := kv.Get(ctx, render.WebhookSecretVaultPath(project, "web"))
					if err != nil {
						return err
					}
					if found := hooksFor("web"); len(found) != 1 || found[0].Secret != s.Data["secret"] || !found[0].Active {
						return fmt.Errorf("%d hooks for %s; want one, active, with Vault's secret", len(found), url("web"))
					}
					return nil
				},
			},
			{
				// Hooks turned off: the application that failed above is
				// created without one.
				PreConfig: func() { t.Setenv("IDP_GITHUB_SYNC_HOOKS", "false") },
				Config:    config("web", "api"),
				Check: func(*terraform.State) error {
					if n := len(hooksFor("api")); n != 0 {
						return fmt.Errorf("%d hooks for %s", n, url("api"))
					}
					return nil
				},
			},
		},
	})
}

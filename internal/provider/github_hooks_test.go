package provider_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// GitHub's hook always signs with the secret in Vault: Argo Events reuses a
// hook with the webhook URL as it finds it, so a hook left without a secret
// (the old chart's, as after an import) or with an old one (after a destroy
// and re-create, or a rotation) would make every push fail its signature.
// A rotation also restarts the EventSource pod, which reads the secret
// once.
func TestAccApplication_hookFollowsVault(t *testing.T) {
	acctest.PreCheck(t)
	providerTestEnv(t)
	gh := acctest.NewGitHub(t)
	gh.AddRepo("myorg", "my-api", true)
	gh.SetBranch("myorg", "my-api", "main", sha('1'))
	project, app := acctest.Name("acc-hook"), "api"
	seedProjectVault(t, project)
	acctest.PutVault(t, render.GitHubAccessVaultPath(project), map[string]any{"username": "ci-bot", "token": gh.Token})
	_, dyn := acctest.Kube(t)
	ctx := context.Background()
	kv, _ := acctest.Vault(t)
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

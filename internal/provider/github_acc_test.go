package provider_test

import (
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// The plan checks the repository with the token the project's EventSource
// will register the webhook with (Vault's), not the provider's: a revoked
// CI token fails the plan even though the provider's token works, and a
// good CI token passes even though the provider's is wrong.
func TestAccApplication_githubCheckUsesCIToken(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	gh := acctest.NewGitHub(t)
	gh.AddRepo("myorg", "my-api", true)
	gh.SetBranch("myorg", "my-api", "main", sha('1'))
	project := stack.Name("acc-citok")
	config := appConfig(project, "api", `owner = "myorg", repo = "my-api", branch = "main"`, "")
	vaultPath := render.GitHubAccessVaultPath(project)

	acctest.PutVault(t, vaultPath, map[string]any{"username": "ci-bot", "token": "ghp_revoked"})
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{Config: config, PlanOnly: true,
			ExpectError: regexp.MustCompile(`(?s)git.*token was rejected \(401\): check Vault\s+\S+/` + regexp.QuoteMeta(vaultPath) + `,\s+key\s+token`)}},
	})

	acctest.PutVault(t, vaultPath, map[string]any{"username": "ci-bot", "token": gh.Token})
	t.Setenv("GITHUB_TOKEN", "ghp_wrong")
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps:                    []resource.TestStep{{Config: config, PlanOnly: true, ExpectNonEmptyPlan: true}},
	})
}

// A GitHub token created in the same apply is unknown at plan: the check is
// skipped (not failed), and whether the first build runs is decided at
// apply, when the token is known.
func TestAccApplication_githubTokenUnknownAtPlan(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	acctest.NewGitHub(t)
	t.Setenv("GITHUB_TOKEN", "")
	project := stack.Name("acc-ghunk")
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: acctest.Config(`
resource "terraform_data" "token" {
  input = "ghp_not-a-real-token" # a token in the configuration lands in plans and logs
}
provider "idp" {
  github {
    token = terraform_data.token.output
  }
}
`) + // no such repository: the check would fail if it ran
				appConfig(project, "api", `owner = "myorg", repo = "nope", branch = "main"`, "")[len(acctest.Config("")):],
			PlanOnly: true, ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
				plancheck.ExpectUnknownValue("idp_application.app", tfjsonpath.New("build_on_create")),
			}},
		}},
	})
}

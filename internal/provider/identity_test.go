package provider_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Resource identity: every resource records {project, name} ({name} for a
// project) on create, keeps it through updates and refreshes, and an import
// block that names only the identity adopts the resource with an empty
// plan. Runs with OpenTofu 1.12 (import blocks take `identity` since 1.12.0)
// as well as Terraform 1.12+.
func TestAccIdentity(t *testing.T) {
	stack.PreCheck(t)
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "")
	p := stack.Name("acc-ident")
	seedProjectVault(t, p)
	config := func(port int, deleteData bool) string {
		return acctest.Config(fmt.Sprintf(`
resource "idp_project" "p" {
  name = %[1]q
}

resource "idp_database" "db" {
  project     = idp_project.p.name
  name        = "cache"
  type        = "redis"
  version     = "7.0"
  size        = "1Gi"
  delete_data = %[3]t
}

resource "idp_application" "app" {
  project  = idp_project.p.name
  name    = "api"
  git     = { owner = "myorg", repo = "api", branch = "main" }
  port    = %[2]d
}
`, p, port, deleteData))
	}
	identities := func() []statecheck.StateCheck {
		return []statecheck.StateCheck{
			statecheck.ExpectIdentity("idp_project.p", map[string]knownvalue.Check{"name": knownvalue.StringExact(p)}),
			statecheck.ExpectIdentity("idp_application.app", map[string]knownvalue.Check{
				"project": knownvalue.StringExact(p), "name": knownvalue.StringExact("api")}),
			statecheck.ExpectIdentity("idp_database.db", map[string]knownvalue.Check{
				"project": knownvalue.StringExact(p), "name": knownvalue.StringExact("cache")}),
			statecheck.ExpectIdentityValueMatchesState("idp_application.app", tfjsonpath.New("name")),
			statecheck.ExpectIdentityValueMatchesState("idp_database.db", tfjsonpath.New("project")),
		}
	}
	// The same ids in every step: an update keeps what identifies it.
	sameID := map[string]interface {
		AddStateValue(string, tfjsonpath.Path) statecheck.StateCheck
	}{}
	for _, addr := range []string{"idp_project.p", "idp_application.app", "idp_database.db"} {
		sameID[addr] = statecheck.CompareValue(compare.ValuesSame())
	}
	withSameIDs := func(checks []statecheck.StateCheck) []statecheck.StateCheck {
		for addr, c := range sameID {
			checks = append(checks, c.AddStateValue(addr, tfjsonpath.New("id")))
		}
		return checks
	}
	importByIdentity := func(addr string) resource.TestStep {
		return resource.TestStep{
			// delete_data is a destroy-time choice no object records: the
			// configuration the import is planned with leaves it at false.
			Config:          config(8081, addr != "idp_database.db"),
			ResourceName:    addr,
			ImportState:     true,
			ImportStateKind: resource.ImportBlockWithResourceIdentity,
			// The import plan must be a no-op: everything the configuration
			// says was read back from the cluster.
			ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop),
			}},
		}
	}

	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(8080, true), ConfigStateChecks: withSameIDs(identities())},
			{
				// An in-place update and a refresh keep each identity.
				Config: config(8081, true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("idp_application.app", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: withSameIDs(identities()),
			},
			importByIdentity("idp_project.p"),
			importByIdentity("idp_application.app"),
			importByIdentity("idp_database.db"),
			{
				// An identity naming nothing fails at import, saying what is
				// missing; the name rules of `id` hold for identities too.
				Config: config(8081, true) + fmt.Sprintf(`
import {
  to       = idp_application.other
  identity = { project = %[1]q, name = "nope" }
}
resource "idp_application" "other" {
  project = %[1]q
  name    = "nope"
  git     = { owner = "myorg", repo = "api", branch = "main" }
  port    = 8080
}
`, p),
				ExpectError: regexp.MustCompile(`(?s)Importing application .*/nope.*nope-github-eventsource\s+does\s+not\s+exist`),
			},
			{
				Config: config(8081, true) + `
import {
  to       = idp_project.other
  identity = { name = "Not_A_Name" }
}
resource "idp_project" "other" {
  name = "not-a-name"
}
`,
				ExpectError: regexp.MustCompile(`"Not_A_Name" is not a project name`),
			},
		},
	})
}

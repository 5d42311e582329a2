package provider_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
)

// echoConfig adds the echo provider (terraform-plugin-testing's stand-in
// for a consumer of ephemeral values: it stores the data it is configured
// with in echo.test's state, so the test can see what it got) to a
// configuration and its required_providers.
func echoConfig(hcl, data string) (string, map[string]func() (tfprotov6.ProviderServer, error)) {
	factories := map[string]func() (tfprotov6.ProviderServer, error){"echo": echoprovider.NewProviderServer()}
	for k, v := range acctest.ProviderFactories {
		factories[k] = v
	}
	config := acctest.Config(hcl + fmt.Sprintf(`
provider "echo" {
  data = %s
}

resource "echo" "test" {}
`, data))
	return strings.Replace(config, `idp = { source = "idpkit/idp" }`, fmt.Sprintf(`idp = { source = "idpkit/idp" }
    echo = { source = %q }`, os.Getenv("TF_ACC_PROVIDER_NAMESPACE")+"/echo"), 1), factories
}

// TestAccDatabaseCredentials_ephemeral hands a database's credentials to
// another provider in the run that creates the database, in the two ways
// the docs show: project and name taken from the database (Terraform opens
// the ephemeral resource during plan, before the database exists; OpenTofu
// waits for it), and with version = password_version as well (both tools
// wait). Either way the plan shows the credentials as known after apply,
// the apply hands over the password Vault holds, and the next plan is
// empty. The consumer gets a hash of the password: only the test (and the
// consumer) ever sees the password itself.
func TestAccDatabaseCredentials_ephemeral(t *testing.T) {
	for _, tc := range []struct{ name, extra string }{
		{"references", ""},
		{"password_version", "  version = idp_database.test.password_version\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newDBEnv(t, "orders")
			config, factories := echoConfig(fmt.Sprintf(`
resource "idp_database" "test" {
  project = %q
  name    = %q
  type    = "postgres"
  version = "16"
  size    = "1Gi"
}

ephemeral "idp_database_credentials" "test" {
  project = idp_database.test.project
  name    = idp_database.test.name
%s}
`, e.project, e.name, tc.extra), `{
    host                = ephemeral.idp_database_credentials.test.host
    port                = ephemeral.idp_database_credentials.test.port
    type                = ephemeral.idp_database_credentials.test.type
    username            = ephemeral.idp_database_credentials.test.username
    database            = ephemeral.idp_database_credentials.test.database
    version             = ephemeral.idp_database_credentials.test.version
    password_vault_path = ephemeral.idp_database_credentials.test.password_vault_path
    password_sha256     = sha256(ephemeral.idp_database_credentials.test.password)
  }`)
			data := func(k string) tfjsonpath.Path { return tfjsonpath.New("data").AtMapKey(k) }
			acctest.ParallelTest(t, resource.TestCase{
				ProtoV6ProviderFactories: factories,
				TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
				Steps: []resource.TestStep{{
					Config: config,
					ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("idp_database.test", plancheck.ResourceActionCreate),
						// Known after apply: the consumer waits for the database.
						plancheck.ExpectUnknownValue("echo.test", tfjsonpath.New("data")),
					}},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue("echo.test", data("host"), knownvalue.StringExact("orders."+e.project+".svc.cluster.local")),
						statecheck.ExpectKnownValue("echo.test", data("port"), knownvalue.Int64Exact(5432)),
						statecheck.ExpectKnownValue("echo.test", data("type"), knownvalue.StringExact("postgres")),
						statecheck.ExpectKnownValue("echo.test", data("username"), knownvalue.StringExact("orders_user")),
						statecheck.ExpectKnownValue("echo.test", data("database"), knownvalue.StringExact("orders_db")),
						statecheck.ExpectKnownValue("echo.test", data("version"), knownvalue.Int64Exact(1)),
						statecheck.ExpectKnownValue("echo.test", data("password_vault_path"), knownvalue.StringExact(e.vaultPath())),
						statecheck.ExpectKnownValue("echo.test", data("password_sha256"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
					},
					Check: func(s *terraform.State) error {
						pw, _ := e.vault()
						sum := sha256.Sum256([]byte(pw))
						if got := s.RootModule().Resources["echo.test"].Primary.Attributes["data.password_sha256"]; got != hex.EncodeToString(sum[:]) {
							return fmt.Errorf("the ephemeral resource did not return the password Vault holds")
						}
						return checkNoSecretInState(pw)(s)
					},
				}},
			})
		})
	}
}

// TestAccDatabaseCredentials_notFound: a database that does not exist and
// that the configuration does not create fails the plan at the ephemeral
// block, saying how to read one the configuration creates.
func TestAccDatabaseCredentials_notFound(t *testing.T) {
	e := newDBEnv(t, "orders")
	config, factories := echoConfig(fmt.Sprintf(`
ephemeral "idp_database_credentials" "test" {
  project = %q
  name    = %q
}
`, e.project, e.name), `{ host = ephemeral.idp_database_credentials.test.host }`)
	acctest.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		Steps: []resource.TestStep{{
			Config:      config,
			ExpectError: regexp.MustCompile(`(?s)Database not found.*there is no database ` + e.project + `/orders.*project\s+=\s+idp_database.<x>.project`),
		}},
	})
}

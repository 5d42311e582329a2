package provider_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/echoprovider"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
)

// TestAccDatabaseCredentials_ephemeral hands a database's password to
// another provider (echo, which stores what it gets so the test can see it)
// in the same run that creates the database; idp_database's own state holds
// no password.
func TestAccDatabaseCredentials_ephemeral(t *testing.T) {
	e := newDBEnv(t, "orders")
	factories := map[string]func() (tfprotov6.ProviderServer, error){"echo": echoprovider.NewProviderServer()}
	for k, v := range acctest.ProviderFactories {
		factories[k] = v
	}
	ns := os.Getenv("TF_ACC_PROVIDER_NAMESPACE")
	config := strings.Replace(acctest.Config(fmt.Sprintf(`
resource "idp_database" "test" {
  project = %q
  name    = %q
  type    = "postgres"
  version = "16"
  size    = "1Gi"
}

# version is unknown until the database exists, which defers the read.
ephemeral "idp_database_credentials" "test" {
  project = idp_database.test.project
  name    = idp_database.test.name
  version = idp_database.test.password_version
}

provider "echo" {
  data = ephemeral.idp_database_credentials.test
}

resource "echo" "test" {}
`, e.project, e.name)), `idp = { source = "idpkit/idp" }`, fmt.Sprintf(`idp = { source = "idpkit/idp" }
    echo = { source = %q }`, ns+"/echo"), 1)

	acctest.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: factories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_10_0)},
		Steps: []resource.TestStep{{
			Config: config,
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("host"), knownvalue.StringExact("orders."+e.project+".svc.cluster.local")),
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("port"), knownvalue.Int64Exact(5432)),
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("type"), knownvalue.StringExact("postgres")),
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("username"), knownvalue.StringExact("orders_user")),
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("database"), knownvalue.StringExact("orders_db")),
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("version"), knownvalue.Int64Exact(1)),
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("password_vault_path"), knownvalue.StringExact(e.vaultPath())),
				statecheck.ExpectKnownValue("echo.test", tfjsonpath.New("data").AtMapKey("password"), knownvalue.StringRegexp(regexp.MustCompile(`^[A-Za-z0-9]{32}$`))),
			},
			Check: func(s *terraform.State) error {
				pw, _ := e.vault()
				if got := s.RootModule().Resources["echo.test"].Primary.Attributes["data.password"]; got != pw {
					return fmt.Errorf("the ephemeral resource did not return the Vault password")
				}
				// Only echo (a test stand-in for a consumer) may hold it.
				db := &terraform.State{Modules: []*terraform.ModuleState{{Path: []string{"root"},
					Resources: map[string]*terraform.ResourceState{"idp_database.test": s.RootModule().Resources["idp_database.test"]}}}}
				return checkNoSecretInState(pw)(db)
			},
		}},
	})
}

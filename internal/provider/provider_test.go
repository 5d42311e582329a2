package provider_test

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/provider"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// The schema is valid and every secret-bearing setting is sensitive.
func TestProviderSchema(t *testing.T) {
	srv, err := providerserver.NewProtocol6WithError(provider.New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	sensitive := map[string]bool{}
	for _, b := range resp.Provider.Block.BlockTypes {
		for _, a := range b.Block.Attributes {
			if a.Sensitive {
				sensitive[b.TypeName+"."+a.Name] = true
			}
		}
	}
	for _, want := range []string{"kubernetes.token", "kubernetes.client_key", "vault.token", "github.token"} {
		if !sensitive[want] {
			t.Errorf("%s is not marked sensitive", want)
		}
	}
	if _, ok := resp.ResourceSchemas["idp_project"]; !ok {
		t.Error("idp_project is not registered")
	}
}

// Provider settings unknown at plan time (a cluster created in the same
// apply) must not fail the plan, and the plan must not contact anything:
// the host here does not exist.
func TestAccProvider_unknownConfigAtPlan(t *testing.T) {
	stack.PreCheck(t)
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config: acctest.Config(`
resource "terraform_data" "cluster" {
  input = "https://192.0.2.1:6443"
}
provider "idp" {
  kubernetes {
    host  = terraform_data.cluster.output
    token = terraform_data.cluster.id
  }
  vault {
    address = terraform_data.cluster.output
  }
}
resource "idp_project" "p" {
  name = "plan-only"
}
`),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
		}},
	})
}

// A setting that is missing when it is needed names the attribute and its
// environment variable, and nothing reaches the cluster.
func TestAccProvider_missingSetting(t *testing.T) {
	stack.PreCheck(t)
	t.Setenv("VAULT_ADDR", "")
	acctest.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: acctest.ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      projectConfig(stack.Name("acc-noaddr"), ""),
			ExpectError: regexp.MustCompile(`(?s)Vault is not configured.*vault\.address\s+is\s+not\s+set.*vault\s+\{\s+address\s+=\s+\.\.\.\s+\}.*VAULT_ADDR`),
		}},
	})
}

// A malformed setting fails the plan at its attribute, before anything is
// contacted, wherever it comes from.
func TestAccProvider_invalidSetting(t *testing.T) {
	stack.PreCheck(t)
	for _, tc := range []struct{ env, value, err string }{
		{"GITHUB_BASE_URL", "github.example.com",
			`(?s)Invalid provider setting github\.base_url.*environment\s+variable\s+GITHUB_BASE_URL.*"github\.example\.com"\s+is\s+not\s+an\s+http://\s+or\s+https://\s+URL`},
		{"IDP_WEBHOOK_BASE_URL", "https://hooks.example.com/github",
			`(?s)Invalid provider setting webhook_base_url.*has\s+a\s+path\s+\(/github\).*such\s+as\s+https://hooks\.example\.com`},
		{"IDP_ISOLATION_ALLOWED_CIDRS", "10.0.0.0/24, 10.200.0.1",
			`(?s)Invalid provider setting isolation\.allowed_cidrs.*IDP_ISOLATION_ALLOWED_CIDRS.*"10\.200\.0\.1"\s+is\s+not\s+a\s+CIDR`},
		{"IDP_GITHUB_SYNC_HOOKS", "yes",
			`(?s)Invalid provider setting github\.sync_hooks.*IDP_GITHUB_SYNC_HOOKS.*"yes"\s+is\s+not\s+a\s+boolean`},
		{"IDP_ISOLATION_ALLOWED_NAMESPACES", "traefik,Kube_System",
			`(?s)Invalid provider setting isolation\.allowed_namespaces.*"Kube_System"\s+is\s+not\s+a\s+namespace\s+name`},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			acctest.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: acctest.ProviderFactories,
				Steps: []resource.TestStep{{
					Config:      projectConfig(stack.Name("acc-badurl"), ""),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(tc.err),
				}},
			})
		})
	}
}

// Package acctest is the tofu acceptance runner for tests against the local
// stack (make stack-up): Test (terraform-plugin-testing with the provider
// in-process), Tofu (tofu as its own process with the provider binary, for
// CLI workflows and faults), the secret scan around both, and the fake
// GitHub's test helpers. Clients of the stack itself are internal/stack's.
package acctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/idpkit/terraform-provider-idp/internal/provider"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// ProviderFactories serves the provider in-process to tofu.
var ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"idp": providerserver.NewProtocol6WithError(provider.New("test")()),
}

// ProviderSource is the terraform block every test configuration starts
// with, so tests use the same source address users write.
const ProviderSource = `
terraform {
  required_providers {
    idp = { source = "idpkit/idp" }
  }
}
`

// Config prefixes a test configuration with ProviderSource.
func Config(hcl string) string { return ProviderSource + hcl }

func init() {
	// A CLI config path that does not exist makes tofu print a warning
	// before its version, which terraform-plugin-testing cannot parse.
	if f := os.Getenv("TF_CLI_CONFIG_FILE"); f != "" {
		if _, err := os.Stat(f); err != nil {
			os.Unsetenv("TF_CLI_CONFIG_FILE")
		}
	}
	// The stack has no GitHub, and projects' Vault tokens are made up: applies
	// must not ask github.com for their hooks. Tests whose fake GitHub has
	// the hooks turn this on (t.Setenv).
	if _, ok := os.LookupEnv("IDP_GITHUB_SYNC_HOOKS"); !ok {
		os.Setenv("IDP_GITHUB_SYNC_HOOKS", "false")
	}
	// terraform-plugin-testing registers the in-process provider under a
	// registry host; tofu resolves "idpkit/idp" to registry.opentofu.org.
	if os.Getenv("TF_ACC_PROVIDER_NAMESPACE") == "" {
		os.Setenv("TF_ACC_PROVIDER_NAMESPACE", "idpkit")
	}
	if os.Getenv("TF_ACC_PROVIDER_HOST") == "" {
		host := "registry.terraform.io"
		if strings.Contains(filepath.Base(os.Getenv("TF_ACC_TERRAFORM_PATH")), "tofu") {
			host = "registry.opentofu.org"
		}
		os.Setenv("TF_ACC_PROVIDER_HOST", host)
	}
}

// PutVault writes a secret to the stack's Vault and returns its version.
func PutVault(t *testing.T, path string, values map[string]any) int {
	t.Helper()
	for k, v := range values {
		if s, ok := v.(string); ok && k != "username" && k != "user" {
			Secret(t, s) // user names are not secret
		}
	}
	kv, _ := stack.Vault(t)
	s, err := kv.Put(t.Context(), path, values)
	if err != nil {
		t.Fatalf("writing Vault secret %s: %v", path, err)
	}
	return s.VersionMetadata.Version
}

// Package acctest is the shared harness for tests that run against the real
// local stack (make stack-up): tofu as the Terraform binary, kube-apiserver
// with kwok nodes, and a Vault dev server. It never fakes any of them.
package acctest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	sdkacctest "github.com/hashicorp/terraform-plugin-testing/helper/acctest"
	vaultapi "github.com/hashicorp/vault/api"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/provider"
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

// PreCheck skips unless acceptance tests were asked for (TF_ACC) and fails
// when the stack's environment (.stack/env) is missing.
func PreCheck(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 and source .stack/env (make test does both)")
	}
	for _, env := range []string{"KUBECONFIG", "VAULT_ADDR", "VAULT_TOKEN", "IDP_VAULT_KV_MOUNT", "TF_ACC_TERRAFORM_PATH"} {
		if os.Getenv(env) == "" {
			t.Fatalf("%s is not set: run `make stack-up` and `. .stack/env`", env)
		}
	}
}

// RESTConfig is the stack's admin kubeconfig.
func RESTConfig(t *testing.T) *rest.Config {
	t.Helper()
	PreCheck(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatalf("loading KUBECONFIG: %v", err)
	}
	return cfg
}

// Kube returns typed and dynamic clients for asserting on live objects.
func Kube(t *testing.T) (*kubernetes.Clientset, dynamic.Interface) {
	t.Helper()
	cfg := RESTConfig(t)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs, dyn
}

// Vault returns a client for the stack's Vault dev server and its KV mount.
func Vault(t *testing.T) (*vaultapi.KVv2, string) {
	t.Helper()
	PreCheck(t)
	c, err := vaultapi.NewClient(&vaultapi.Config{Address: os.Getenv("VAULT_ADDR")})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(os.Getenv("VAULT_TOKEN"))
	mount := os.Getenv("IDP_VAULT_KV_MOUNT")
	return c.KVv2(mount), mount
}

// Engine returns an engine connected to the stack, as the provider builds it.
func Engine(t *testing.T) *engine.Engine {
	t.Helper()
	return engine.New(EngineOptions(t))
}

// EngineOptions are Engine's options, for tests that change some.
func EngineOptions(t *testing.T) engine.Options {
	t.Helper()
	cfg := RESTConfig(t)
	return engine.Options{
		Kubernetes: func() (*rest.Config, error) { return cfg, nil },
		Vault: func() (*engine.VaultConfig, error) {
			return &engine.VaultConfig{Address: os.Getenv("VAULT_ADDR"), Token: os.Getenv("VAULT_TOKEN"), Mount: os.Getenv("IDP_VAULT_KV_MOUNT")}, nil
		},
	}
}

// Name returns a unique, valid object name with prefix, for tests that
// share one cluster.
func Name(prefix string) string {
	return prefix + "-" + strings.ToLower(sdkacctest.RandString(6))
}

// PutVault writes a secret to the stack's Vault and returns its version.
func PutVault(t *testing.T, path string, values map[string]any) int {
	t.Helper()
	for k, v := range values {
		if s, ok := v.(string); ok && k != "username" && k != "user" {
			Secret(t, s) // user names are not secret
		}
	}
	kv, _ := Vault(t)
	s, err := kv.Put(t.Context(), path, values)
	if err != nil {
		t.Fatalf("writing Vault secret %s: %v", path, err)
	}
	return s.VersionMetadata.Version
}

// Package stack is the client of the local stack (make stack-up) for tests
// and the stack's programs: its environment (.stack/env), Kubernetes, Vault
// and engine clients, the real node and Traefik, private instances of its
// servers, CRDs and the test application. It never fakes any of them, and
// imports neither the provider nor testing: helpers that fail a test take
// T, which *testing.T satisfies, so make demo links this package without
// the testing package. Driving tofu is internal/acctest's.
package stack

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
)

// T is the part of *testing.T the helpers use.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Cleanup(func())
	TempDir() string
}

// PreCheck skips unless acceptance tests were asked for (TF_ACC) and fails
// when the stack's environment (.stack/env) is missing.
func PreCheck(t T) {
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

// HostIP is the address pods reach the host at (IDP_STACK_HOST_IP), or
// 127.0.0.1 outside the stack.
func HostIP() string {
	if ip := os.Getenv("IDP_STACK_HOST_IP"); ip != "" {
		return ip
	}
	return "127.0.0.1"
}

// RESTConfig is the stack's admin kubeconfig.
func RESTConfig(t T) *rest.Config {
	t.Helper()
	PreCheck(t)
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		t.Fatalf("loading KUBECONFIG: %v", err)
	}
	return cfg
}

// Kube returns typed and dynamic clients for asserting on live objects.
func Kube(t T) (*kubernetes.Clientset, dynamic.Interface) {
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
func Vault(t T) (*vaultapi.KVv2, string) {
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
func Engine(t T) *engine.Engine {
	t.Helper()
	return engine.New(EngineOptions(t))
}

// EngineOptions are Engine's options, for tests that change some.
func EngineOptions(t T) engine.Options {
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
// share one cluster: prefix, "-" and 6 random lowercase letters and digits.
func Name(prefix string) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return prefix + "-" + string(b)
}

// ModuleRoot is the repository's root directory (go env GOMOD).
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return "", fmt.Errorf("finding the module root (go env GOMOD): %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

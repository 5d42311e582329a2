package faults_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
)

// Services down: an apply that needs a service that is down, sealed or
// refuses us fails with an error that names the service and what to do,
// leaves state and the cluster as they were, and the apply after the
// service is back converges.

// failsCleanly applies w's configuration while a service is broken: the
// apply must fail with an error matching want, state must still hold
// exactly what it held, and the namespace no object more or less.
func failsCleanly(t *testing.T, w *acctest.Tofu, namespace string, want *regexp.Regexp) {
	t.Helper()
	before, live := w.StateObjects(), ours(t, namespace)
	out, err := w.Run(applyArgs...)
	injected(1)
	if err == nil {
		t.Fatalf("apply succeeded with the service broken:\n%s", out)
	}
	// tofu wraps diagnostics at 78 columns.
	if !want.MatchString(strings.Join(strings.Fields(out), " ")) {
		t.Fatalf("the error does not match %s:\n%s", want, out)
	}
	t.Logf("tofu said:\n%s", errorPart(out))
	if after := w.StateObjects(); !sameState(before, after) {
		t.Fatalf("state changed by the failed apply: before %v, after %v", before, after)
	}
	if after := ours(t, namespace); !slices.Equal(live, after) {
		t.Fatalf("the failed apply changed the cluster: before %v, after %v", live, after)
	}
}

func errorPart(out string) string {
	if i := regexp.MustCompile(`(?m)^│ Error: `).FindStringIndex(out); i != nil {
		return out[i[0]:]
	}
	return out
}

func sameState(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := b[k]
		slices.Sort(v)
		slices.Sort(w)
		if !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

func TestFaultServices_vault(t *testing.T) {
	t.Parallel()
	v := acctest.StartVault(t)
	p := acctest.Name("f-vault")
	w := acctest.NewTofu(t, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.Token)
	config := hclProjectWith(p, func(path string, values map[string]any) { v.Put(path, values) })
	w.Write(config)
	cleanup(t, w)
	w.Apply()

	t.Run("stopped", func(t *testing.T) {
		config += hclApp("a1", commit('a'), "")
		w.Write(config)
		v.Stop()
		func() {
			defer v.Start()
			failsCleanly(t, w, p, regexp.MustCompile(`(?s)Vault at `+regexp.QuoteMeta(v.Addr)+` is not reachable.*check that it runs`))
		}()
		converge(t, w, p)
	})
	t.Run("sealed", func(t *testing.T) {
		config += hclDatabase("d1", "")
		w.Write(config)
		v.Seal()
		func() {
			defer v.Unseal()
			failsCleanly(t, w, p, regexp.MustCompile(`(?s)Vault at \S+ is sealed: unseal it`))
		}()
		converge(t, w, p)
	})
	t.Run("read-only token", func(t *testing.T) {
		// An application writes its webhook secret before any object; a
		// database claims its names first (an application of the same
		// name shares its Vault path), then writes its password.
		config += hclApp("a2", commit('a'), "") + hclDatabase("d2", "")
		w.Write(config)
		env := w.Env
		w.Env = append(slices.Clone(env), "VAULT_TOKEN="+v.ReadOnlyToken())
		func() {
			defer func() { w.Env = env }()
			failsCleanly(t, w, p, regexp.MustCompile(`(?s)Vault at \S+ answered permission denied: the token.*needs a policy.*"create and update"`))
		}()
		converge(t, w, p)
	})
}

package faults_test

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/fakegithub"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Services down: an apply that needs a service that is down, sealed or
// refuses us fails with an error that names the service and what to do,
// leaves state and the cluster as they were, and the apply after the
// service is back converges.

// failsCleanly applies w's configuration while breakIt has broken a
// service, then restores it: the apply must have failed with an error
// matching want, state must still hold exactly what it held, and the
// namespace (on kubeconfig's cluster, "": the stack's) no object more or less.
func failsCleanly(t *testing.T, w *acctest.Tofu, kubeconfig, namespace string, want *regexp.Regexp, breakIt, restore func()) {
	t.Helper()
	before, live := w.StateObjects(), ours(t, kubeconfig, namespace)
	breakIt()
	out, err := func() (string, error) {
		defer restore()
		return w.Run(applyArgs...)
	}()
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
	if after := ours(t, kubeconfig, namespace); !slices.Equal(live, after) {
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
	v := stack.StartVault(t)
	p := stack.Name("f-vault")
	w := acctest.NewTofu(t, "VAULT_ADDR="+v.Addr, "VAULT_TOKEN="+v.Token)
	config := hclProjectWith(p, func(path string, values map[string]any) { v.Put(path, values) })
	w.Write(config)
	cleanup(t, w)
	w.Apply()

	t.Run("stopped", func(t *testing.T) {
		config += hclApp("a1", commit('a'), "")
		w.Write(config)
		failsCleanly(t, w, "", p, regexp.MustCompile(`Vault at `+regexp.QuoteMeta(v.Addr)+` is not reachable.*check that it runs`), v.Stop, v.Start)
		converge(t, w, p)
	})
	t.Run("sealed", func(t *testing.T) {
		config += hclDatabase("d1", "")
		w.Write(config)
		failsCleanly(t, w, "", p, regexp.MustCompile(`Vault at \S+ is sealed: unseal it`), v.Seal, v.Unseal)
		converge(t, w, p)
	})
	t.Run("read-only token", func(t *testing.T) {
		// An application writes its webhook secret before any object; a
		// database claims its names first (an application of the same
		// name shares its Vault path), then writes its password.
		config += hclApp("a2", commit('a'), "") + hclDatabase("d2", "")
		w.Write(config)
		env, readOnly := w.Env, v.ReadOnlyToken()
		failsCleanly(t, w, "", p, regexp.MustCompile(`Vault at \S+ answered permission denied: the token.*needs a policy.*"create and update"`),
			func() { w.Env = append(slices.Clone(env), "VAULT_TOKEN="+readOnly) }, func() { w.Env = env })
		converge(t, w, p)
	})
}

func TestFaultServices_apiServer(t *testing.T) {
	t.Parallel()
	s := stack.StartAPIServer(t)
	p := stack.Name("f-kube")
	// The private API server runs no Argo Events controller to wait for.
	w := acctest.NewTofu(t, "KUBECONFIG="+s.Kubeconfig, "KUBE_CONFIG_PATH="+s.Kubeconfig, "IDP_WAIT_FOR_CI=false")
	// Applications without a commit: this cluster runs no controllers
	// that would roll a Deployment out.
	config := hclProject(t, p)
	w.Write(config)
	cleanup(t, w)
	w.Apply()

	t.Run("stopped", func(t *testing.T) {
		config += hclApp("a1", "", "")
		w.Write(config)
		failsCleanly(t, w, s.Kubeconfig, p, regexp.MustCompile(`Kubernetes API server at `+regexp.QuoteMeta(s.URL)+` is not reachable.*check that it runs`),
			s.Stop, s.Start)
		convergeOn(t, w, s.Kubeconfig, p)
	})
	// Restarted mid-apply (etcd keeps the data): the apply held after its
	// first object, the server stopped and started, the apply goes on. It
	// may succeed or fail (with the server named); the next one converges.
	for _, point := range []string{engine.FaultObjectWritten, engine.FaultApplyHalf} {
		t.Run("restarted at "+point, func(t *testing.T) {
			app := "r" + strings.ReplaceAll(point, "-", "")[:6]
			config += hclApp(app, "", "")
			w.Write(config)
			held := w.PauseAt(point, applyArgs...)
			injected(1)
			t.Logf("held at %s; restarting the API server", held.Where)
			s.Stop()
			s.Start()
			out, err := held.Resume()
			if err != nil && !strings.Contains(strings.Join(strings.Fields(out), " "), "Kubernetes API server") {
				t.Logf("the apply across the restart failed:\n%s", errorPart(out))
			}
			t.Logf("the apply across the restart: err=%v", err)
			convergeOn(t, w, s.Kubeconfig, p)
		})
	}
}

func TestFaultServices_github(t *testing.T) {
	t.Parallel()
	gh, err := fakegithub.Start("127.0.0.1") // NewGitHub sets the environment, which parallel tests may not
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gh.Close)
	gh.AddRepo("myorg", "api", true)
	gh.SetBranch("myorg", "api", "main", commit('1'))
	p := stack.Name("f-gh")
	w := acctest.NewTofu(t, "GITHUB_TOKEN="+gh.Token, "GITHUB_BASE_URL="+gh.URL)
	acctest.PutVault(t, render.GitHubAccessVaultPath(p), map[string]any{"username": "ci-bot", "token": gh.Token})
	acctest.PutVault(t, render.RegistryVaultPath(p), map[string]any{"username": "robot", "password": stack.Name("pw")})
	project := fmt.Sprintf("resource \"idp_project\" \"p\" {\n  name = %q\n}\n", p)
	app := func(name string) string {
		return fmt.Sprintf(`
resource "idp_application" %[1]q {
  project         = idp_project.p.name
  name            = %[1]q
  git             = { owner = "myorg", repo = "api", branch = "main" }
  port            = 8080
  build_on_create = false
}
`, name)
	}
	config := project
	w.Write(config)
	cleanup(t, w)
	w.Apply()

	// The plan checks a new application's repository with GitHub: an
	// outage fails the plan, before anything is applied.
	t.Run("500", func(t *testing.T) {
		config += app("a1")
		w.Write(config)
		failsCleanly(t, w, "", p, regexp.MustCompile(`GitHub \(\S+\) answered 500 Internal Server Error: GitHub is failing`),
			func() { gh.Fail(http.StatusInternalServerError) }, func() { gh.Fail(0) })
		converge(t, w, p)
	})
	t.Run("timeout", func(t *testing.T) {
		config += app("a2")
		w.Write(config)
		failsCleanly(t, w, "", p, regexp.MustCompile(`GitHub \(\S+\) did not answer within 15s.*check github.base_url`),
			func() { gh.Hang(true) }, func() { gh.Hang(false) })
		converge(t, w, p)
	})
}

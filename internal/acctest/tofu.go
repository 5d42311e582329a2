package acctest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Running tofu as users do: its own process, with this provider built into
// a binary it starts (dev_overrides, as scripts/dev-provider.sh does), so a
// test can kill both mid-apply. terraform-plugin-testing serves the
// provider inside the test process, which a kill would take along.

var (
	providerOnce sync.Once
	providerDir  string
	providerErr  error
)

// ProviderBinary builds this provider once per test process into dir
// (RemoveProviderBinary removes it) and returns the tofu CLI config whose
// dev_overrides point at it.
func ProviderBinary(t *testing.T) string {
	t.Helper()
	providerOnce.Do(func() {
		providerDir, providerErr = os.MkdirTemp("", "idp-provider-")
		if providerErr != nil {
			return
		}
		root, err := stack.ModuleRoot()
		if err != nil {
			providerErr = err
			return
		}
		bin := filepath.Join(providerDir, "bin")
		// With the fault points (engine/fault.go), which only this tag
		// compiles in: KillAt and PauseAt arm them; without IDP_FAULT the
		// binary behaves as a release build.
		cmd := exec.Command("go", "build", "-tags", "idpfault", "-o", filepath.Join(bin, "terraform-provider-idp"), ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			providerErr = fmt.Errorf("building the provider: %v\n%s", err, out)
			return
		}
		rc := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "registry.opentofu.org/idpkit/idp" = %q
    "registry.terraform.io/idpkit/idp" = %q
  }
  direct {}
}
`, bin, bin)
		providerErr = os.WriteFile(filepath.Join(providerDir, "tofurc"), []byte(rc), 0o644)
	})
	if providerErr != nil {
		t.Fatal(providerErr)
	}
	return filepath.Join(providerDir, "tofurc")
}

// RemoveProviderBinary removes what ProviderBinary built (from TestMain).
func RemoveProviderBinary() {
	if providerDir != "" {
		os.RemoveAll(providerDir)
	}
}

// Tofu is one working directory with its own state, run by the tofu
// binary the stack uses (TF_ACC_TERRAFORM_PATH).
type Tofu struct {
	t   *testing.T
	Dir string
	Env []string // added to the test's environment (provider settings)
}

// NewTofu returns an empty working directory.
func NewTofu(t *testing.T, env ...string) *Tofu {
	t.Helper()
	stack.PreCheck(t)
	rc := ProviderBinary(t)
	base := []string{"TF_CLI_CONFIG_FILE=" + rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1"}
	return &Tofu{t: t, Dir: t.TempDir(), Env: append(append(base, scanEnv(t)...), env...)}
}

// Write replaces the configuration (main.tf), prefixed with ProviderSource.
func (w *Tofu) Write(hcl string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.Dir, "main.tf"), []byte(Config(hcl)), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

// binary is the tool's name (tofu, or terraform in make test's second run),
// for messages.
func (w *Tofu) binary() string { return filepath.Base(os.Getenv("TF_ACC_TERRAFORM_PATH")) }

// WriteFile writes a file of the working directory as is (a second
// configuration file, a query).
func (w *Tofu) WriteFile(name, content string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.Dir, name), []byte(content), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

func (w *Tofu) command(ctx context.Context, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Getenv("TF_ACC_TERRAFORM_PATH"), args...)
	cmd.Dir = w.Dir
	cmd.Env = append(append(os.Environ(), w.Env...), extraEnv...)
	// Its own process group: a kill takes tofu and the provider it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// Run runs tofu with args and returns its combined output.
func (w *Tofu) Run(args ...string) (string, error) {
	w.t.Helper()
	// Not the test's context: cleanups (a destroy) run after it ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := w.command(ctx, nil, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	w.t.Logf("%s %s: %.1fs", w.binary(), args[0], time.Since(start).Seconds())
	return out.String(), err
}

// Output runs tofu with args and returns what it printed on stdout alone
// (`output -raw`, `show -json`); the test fails unless it succeeds.
func (w *Tofu) Output(args ...string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := w.command(ctx, nil, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	w.t.Logf("%s %s: %.1fs", w.binary(), strings.Join(args, " "), time.Since(start).Seconds())
	if err != nil {
		w.t.Fatalf("%s %s failed: %v\n%s\n%s", w.binary(), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// JSON runs tofu with args (`show -json`, `output -json`) and decodes what
// it printed into v: all of stdout, or else its last line that decodes
// (tofu may warn about dev_overrides first).
func (w *Tofu) JSON(v any, args ...string) {
	w.t.Helper()
	out := w.Output(args...)
	err := json.Unmarshal([]byte(out), v)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; err != nil && i >= 0; i-- {
		if json.Valid([]byte(lines[i])) {
			err = json.Unmarshal([]byte(lines[i]), v)
			break
		}
	}
	if err != nil {
		w.t.Fatalf("parsing tofu %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Apply runs `tofu apply` and fails the test unless it succeeds.
func (w *Tofu) Apply() string {
	w.t.Helper()
	out, err := w.Run("apply", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		w.t.Fatalf("tofu apply failed: %v\n%s", err, out)
	}
	return out
}

// Destroy runs `tofu destroy` and fails the test unless it succeeds.
func (w *Tofu) Destroy() string {
	w.t.Helper()
	out, err := w.Run("destroy", "-auto-approve", "-input=false", "-no-color")
	if err != nil {
		w.t.Fatalf("tofu destroy failed: %v\n%s", err, out)
	}
	return out
}

// PlanChanges runs `tofu plan` and returns its output and whether it
// plans any change (-detailed-exitcode 2).
func (w *Tofu) PlanChanges() (string, bool) {
	w.t.Helper()
	out, err := w.Run("plan", "-input=false", "-no-color", "-detailed-exitcode")
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, false
	case errors.As(err, &exit) && exit.ExitCode() == 2:
		return out, true
	default:
		w.t.Fatalf("tofu plan failed: %v\n%s", err, out)
		return out, false
	}
}

// KillAt runs tofu with args and the fault point armed (engine/fault.go:
// "<point>[#<n>|@<where>]"), waits until the provider reports it reached
// the point, and kills tofu's process group (tofu and the provider) with
// SIGKILL. It returns where the point was reached; the test fails when
// tofu ends without reaching it, so a point that is never hit cannot pass.
func (w *Tofu) KillAt(point string, args ...string) string {
	w.t.Helper()
	p := w.PauseAt(point, args...)
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	if err := <-p.done; err == nil {
		w.t.Fatalf("tofu finished before it was killed at %s:\n%s", point, p.out.String())
	}
	return p.Where
}

// Paused is a tofu run held at a fault point (PauseAt).
type Paused struct {
	Where  string // the point and the object or path it was reached at
	cmd    *exec.Cmd
	marker string
	out    *bytes.Buffer
	done   chan error
}

// PauseAt runs tofu with args and the fault point armed, and returns once
// the provider holds there; Resume lets it go on. The test fails when tofu
// ends without reaching the point.
func (w *Tofu) PauseAt(point string, args ...string) *Paused {
	w.t.Helper()
	p := &Paused{marker: filepath.Join(w.t.TempDir(), "fault"), out: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd = w.command(context.Background(), []string{"IDP_FAULT=" + point + "=" + p.marker}, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	deadline := time.After(5 * time.Minute)
	for {
		if b, err := os.ReadFile(p.marker); err == nil && len(b) > 0 {
			p.Where = strings.TrimSpace(string(b))
			return p
		}
		select {
		case err := <-p.done:
			w.t.Fatalf("tofu %s ended (%v) without reaching fault point %s:\n%s", strings.Join(args, " "), err, point, p.out.String())
		case <-deadline:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			w.t.Fatalf("fault point %s not reached in 5 minutes (%v):\n%s", point, <-p.done, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Resume lets the paused run go on and returns its output once tofu ends.
func (p *Paused) Resume() (string, error) {
	if err := os.WriteFile(p.marker+".release", nil, 0o600); err != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	err := <-p.done
	return p.out.String(), err
}

// StateObjects reads the state (tofu show -json) and returns each
// resource's address with its `objects` keys ("Kind/namespace/name").
func (w *Tofu) StateObjects() map[string][]string {
	w.t.Helper()
	var state struct {
		Values *struct {
			RootModule struct {
				Resources []struct {
					Address string         `json:"address"`
					Mode    string         `json:"mode"`
					Values  map[string]any `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	w.JSON(&state, "show", "-json", "-no-color")
	res := map[string][]string{}
	if state.Values == nil {
		return res
	}
	for _, r := range state.Values.RootModule.Resources {
		if r.Mode != "managed" {
			continue
		}
		objs, _ := r.Values["objects"].(map[string]any)
		keys := make([]string, 0, len(objs))
		for k := range objs {
			keys = append(keys, k)
		}
		res[r.Address] = keys
	}
	return res
}

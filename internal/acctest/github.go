package acctest

import (
	"testing"

	"github.com/idpkit/terraform-provider-idp/internal/fakegithub"
)

// The fake GitHub lives in internal/fakegithub, which programs outside
// tests (make demo) link without the testing package; these are its test
// helpers and its types under their old names.
type (
	GitHub      = fakegithub.GitHub
	WebHook     = fakegithub.WebHook
	Delivery    = fakegithub.Delivery
	Dispatch    = fakegithub.Dispatch
	PushOptions = fakegithub.PushOptions
	Signing     = fakegithub.Signing
)

// Signing modes of PushOptions.
const (
	SignValid = fakegithub.SignValid
	SignWrong = fakegithub.SignWrong
	SignNone  = fakegithub.SignNone
)

// NewGitHub starts a fake GitHub on 127.0.0.1 and points the provider at it
// through GITHUB_BASE_URL and GITHUB_TOKEN for the rest of the test. Use
// NewGitHubOn(t, stack.HostIP()) when pods (Argo Events, kaniko) must
// reach it too.
func NewGitHub(t *testing.T) *GitHub {
	t.Helper()
	return NewGitHubOn(t, "127.0.0.1")
}

// NewGitHubOn is NewGitHub listening on host (an IP of this machine) on a
// free port.
func NewGitHubOn(t *testing.T, host string) *GitHub {
	t.Helper()
	g, err := fakegithub.Start(host)
	if err != nil {
		t.Fatal(err)
	}
	// Close waits for pings still in flight before the server (and the
	// test's receivers, closed by cleanups registered later, which run
	// first) goes away.
	t.Cleanup(g.Close)
	Secret(t, g.Token)
	t.Setenv("GITHUB_BASE_URL", g.URL)
	t.Setenv("GITHUB_TOKEN", g.Token)
	return g
}

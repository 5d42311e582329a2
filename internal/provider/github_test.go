package provider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

// githubTestData is provider data whose GitHub is srv and which has no
// Vault: the check uses the provider's token.
func githubTestData(srv *httptest.Server, token value) *ProviderData {
	return newProviderData(config{"github.token": token, "github.base_url": {val: srv.URL + "/api/v3/"}})
}

func strs(v ...string) []types.String {
	out := make([]types.String, len(v))
	for i, s := range v {
		out[i] = types.StringValue(s)
	}
	return out
}

// A GitHub that accepts the connection and never answers fails the plan
// within the check's timeout, with an error that names GitHub and says what
// to do, instead of hanging the plan.
func TestCheckRepository_timeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	defer func(d time.Duration) { githubCheckTimeout = d }(githubCheckTimeout)
	githubCheckTimeout = 300 * time.Millisecond

	d := githubTestData(srv, value{val: "ghp_test"})
	a := strs("shop", "myorg", "my-api", "main")
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- d.checkRepository(context.Background(), a[0], a[1], a[2], a[3]) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("check passed against a GitHub that never answers")
		}
		for _, want := range []string{"GitHub (" + srv.URL, "did not answer within 300ms", "myorg/my-api", "github.base_url", "GITHUB_TOKEN"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "ghp_test") {
			t.Errorf("error %q shows the token", err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("check took %s, want about %s", el, githubCheckTimeout)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("check still waiting for GitHub after 5s: no timeout")
	}
}

// Unknown at plan (a token or server created in the same apply, or an
// unknown project or repository): the check is skipped without contacting
// GitHub, and without an error.
func TestCheckRepository_unknownSkips(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
	}))
	defer srv.Close()
	known := strs("shop", "myorg", "my-api", "main")
	for name, tc := range map[string]struct {
		cfg  config
		args []types.String
	}{
		"token":     {config{"github.token": {unknown: true}, "github.base_url": {val: srv.URL}}, known},
		"base_url":  {config{"github.token": {val: "t"}, "github.base_url": {unknown: true}}, known},
		"vault":     {config{"github.token": {val: "t"}, "github.base_url": {val: srv.URL}, "vault.address": {unknown: true}}, known},
		"project":   {config{"github.token": {val: "t"}, "github.base_url": {val: srv.URL}}, append([]types.String{types.StringUnknown()}, known[1:]...)},
		"branch":    {config{"github.token": {val: "t"}, "github.base_url": {val: srv.URL}}, append(known[:3:3], types.StringUnknown())},
		"no token":  {config{"github.base_url": {val: srv.URL}}, known},
		"no branch": {config{"github.token": {val: "t"}, "github.base_url": {val: srv.URL}}, append(known[:3:3], types.StringNull())},
	} {
		t.Run(name, func(t *testing.T) {
			d := newProviderData(tc.cfg)
			if err := d.checkRepository(context.Background(), tc.args[0], tc.args[1], tc.args[2], tc.args[3]); err != nil {
				t.Errorf("check failed: %v", err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("GitHub was called %d times", n)
	}
	// The same server is called, and fails the check, once all is known.
	d := githubTestData(srv, value{val: "t"})
	if err := d.checkRepository(context.Background(), known[0], known[1], known[2], known[3]); err == nil ||
		!strings.Contains(err.Error(), "rejected (401): check github.token / GITHUB_TOKEN") {
		t.Errorf("known inputs: got %v, want the 401 explained", err)
	}
}

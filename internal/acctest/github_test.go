package acctest_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

func TestGitHubListensOnHost(t *testing.T) {
	t.Setenv("IDP_STACK_HOST_IP", "127.0.0.2")
	if got := stack.HostIP(); got != "127.0.0.2" {
		t.Fatalf("HostIP %q", got)
	}
	g := acctest.NewGitHubOn(t, stack.HostIP())
	u, err := url.Parse(g.URL)
	if err != nil || u.Hostname() != "127.0.0.2" || !strings.HasSuffix(g.URL, "/") {
		t.Fatalf("URL %q", g.URL)
	}
	if g.APIURL() != g.URL+"api/v3/" || g.UploadURL() != g.URL+"api/uploads/" || g.GitURL("o", "r") != g.URL+"o/r.git" {
		t.Errorf("APIURL %s UploadURL %s GitURL %s", g.APIURL(), g.UploadURL(), g.GitURL("o", "r"))
	}
	if os.Getenv("GITHUB_BASE_URL") != g.URL || os.Getenv("GITHUB_TOKEN") != g.Token {
		t.Errorf("GITHUB_BASE_URL/GITHUB_TOKEN not pointed at the fake")
	}
	g.AddRepo("o", "r", true)
	if _, _, err := ghClient(t, g).Repositories.Get(context.Background(), "o", "r"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("IDP_STACK_HOST_IP", "")
	if got := stack.HostIP(); got != "127.0.0.1" {
		t.Errorf("HostIP without the variable: %q", got)
	}
}

func ghClient(t *testing.T, g *acctest.GitHub) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(g.Token).WithEnterpriseURLs(g.URL, g.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

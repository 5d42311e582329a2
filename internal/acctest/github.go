package acctest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// GitHub is a local HTTP server that answers the GitHub REST API calls the
// provider makes, with GitHub's paths (under GitHub Enterprise's /api/v3/),
// status codes and JSON shapes. GitHub is the one service tests cannot
// reach, so this is the only stand-in in the test suite.
type GitHub struct {
	URL   string // base URL, as GITHUB_BASE_URL takes it
	Token string

	mu    sync.Mutex
	repos map[string]*fakeRepo // "owner/repo"
}

type fakeRepo struct {
	admin    bool
	branches map[string]string // branch -> head sha
}

// NewGitHub starts a fake GitHub and points the provider at it through
// GITHUB_BASE_URL and GITHUB_TOKEN for the rest of the test.
func NewGitHub(t *testing.T) *GitHub {
	t.Helper()
	g := &GitHub{Token: "ghp_test_" + Name("tok"), repos: map[string]*fakeRepo{}}
	srv := httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(srv.Close)
	g.URL = srv.URL + "/"
	t.Setenv("GITHUB_BASE_URL", g.URL)
	t.Setenv("GITHUB_TOKEN", g.Token)
	return g
}

// AddRepo adds a repository the token can see; admin decides whether the
// token may manage its webhooks.
func (g *GitHub) AddRepo(owner, repo string, admin bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.repos[owner+"/"+repo] = &fakeRepo{admin: admin, branches: map[string]string{}}
}

// SetBranch sets a branch's head commit.
func (g *GitHub) SetBranch(owner, repo, branch, sha string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.repos[owner+"/"+repo].branches[branch] = sha
}

func (g *GitHub) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Header.Get("Authorization") != "Bearer "+g.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	// /api/v3/repos/{owner}/{repo}[/branches/{branch}]
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v3/"), "/")
	if r.Method != http.MethodGet || len(parts) < 3 || parts[0] != "repos" {
		notFound(w)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	full := parts[1] + "/" + parts[2]
	repo, ok := g.repos[full]
	if !ok {
		notFound(w)
		return
	}
	switch {
	case len(parts) == 3:
		writeJSON(w, http.StatusOK, map[string]any{
			"id": 1, "name": parts[2], "full_name": full, "private": true,
			"owner":          map[string]any{"login": parts[1]},
			"default_branch": "main",
			"permissions":    map[string]bool{"admin": repo.admin, "maintain": repo.admin, "push": true, "triage": true, "pull": true},
		})
	case len(parts) >= 5 && parts[3] == "branches":
		branch := strings.Join(parts[4:], "/")
		sha, ok := repo.branches[branch]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Branch not found", "documentation_url": "https://docs.github.com/rest/branches/branches#get-a-branch"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"name":   branch,
			"commit": map[string]any{"sha": sha, "url": fmt.Sprintf("%sapi/v3/repos/%s/commits/%s", g.URL, full, sha)},
		})
	default:
		notFound(w)
	}
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

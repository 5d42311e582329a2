package fakegithub

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
)

// GitHub is a local stand-in for a GitHub Enterprise server: the REST API
// under /api/v3/ (repositories, branches, repository webhooks,
// repository_dispatch) with
// GitHub's paths, status codes and JSON shapes; git smart-HTTP at
// /<owner>/<repo>.git served from real bare repositories by git
// http-backend; and push webhooks delivered, signed, to registered hooks
// when a test pushes (Push). GitHub is the one service tests cannot reach,
// so this is the only stand-in in the test suite.
type GitHub struct {
	URL   string // server root ending in "/", as GITHUB_BASE_URL takes it
	Token string

	root      string // GIT_PROJECT_ROOT: <root>/<owner>/<repo>.git
	srv       *httptest.Server
	userAgent string // GitHub-Hookshot/<id>, fixed per server like a real one

	mu         sync.Mutex
	repos      map[string]*fakeRepo // "owner/repo"
	nextRepoID int64
	nextHookID int64
	deliveries []Delivery
	dispatches []Dispatch

	pushMu  sync.Mutex     // one Push at a time: each reads then moves a ref
	bareMu  sync.Mutex     // creating bare repositories
	pending sync.WaitGroup // asynchronous deliveries (pings), awaited at cleanup

	// Fault switch (Fail, Hang): the API answers every request with
	// failStatus, or never, as GitHub does in an outage.
	failStatus int
	hang       bool
	hangGit    map[string]bool // "owner/repo": its clones wait until the client gives up
	hungGit    int             // clones that waited so

	gitOnce sync.Once
	git     http.Handler // git http-backend, found on first use
	gitErr  error
}

type fakeRepo struct {
	id            int64
	admin         bool
	defaultBranch string
	branches      map[string]string // branch -> head sha, as the REST API reports it
	hooks         []*hook
}

// Start starts a fake GitHub listening on host (an IP of this machine) on a
// free port, keeping its repositories in a temporary directory. Close stops
// it and removes the directory. It leaves the environment alone: tests use
// acctest.NewGitHub, which points the provider at it.
func Start(host string) (*GitHub, error) {
	root, err := os.MkdirTemp("", "fake-github-")
	if err != nil {
		return nil, err
	}
	g, err := start(host, root)
	if err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	return g, nil
}

func start(host, root string) (*GitHub, error) {
	g := &GitHub{
		Token:     "ghp_test_tok-" + randomHex(3),
		root:      root,
		userAgent: "GitHub-Hookshot/" + randomHex(4)[:7],
		repos:     map[string]*fakeRepo{},
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, fmt.Errorf("fake GitHub: listening on %s: %w", host, err)
	}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.srv.Listener.Close()
	g.srv.Listener = l
	g.srv.Start()
	g.URL = g.srv.URL + "/"
	return g, nil
}

// Close waits for deliveries in flight, then stops the server and removes
// the repositories.
func (g *GitHub) Close() {
	g.pending.Wait()
	g.srv.Close()
	os.RemoveAll(g.root)
}

// Fail makes every request answer status (0: serve again).
func (g *GitHub) Fail(status int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failStatus = status
}

// Hang makes every request wait until its client gives up (false: serve
// again).
func (g *GitHub) Hang(hang bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hang = hang
}

// HangGit makes clones and fetches of owner/repo wait until their client
// gives up, as a git server that accepts and never answers (false: serve
// again; clones already waiting keep waiting). The REST API still answers.
func (g *GitHub) HangGit(owner, repo string, hang bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hangGit == nil {
		g.hangGit = map[string]bool{}
	}
	g.hangGit[owner+"/"+repo] = hang
}

// HungGit is how many git requests HangGit has held.
func (g *GitHub) HungGit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hungGit
}

// APIURL is the REST API base, "<URL>api/v3/": what go-github's
// WithEnterpriseURLs derives from URL, and what Argo Events' github event
// source takes as githubBaseURL verbatim (it does not append api/v3).
func (g *GitHub) APIURL() string { return g.URL + "api/v3/" }

// UploadURL is the uploads API base. Argo Events only uses GitHub
// Enterprise URLs when both githubBaseURL and githubUploadURL are set.
func (g *GitHub) UploadURL() string { return g.URL + "api/uploads/" }

// GitURL is the repository's clone URL (http, no credentials).
func (g *GitHub) GitURL(owner, repo string) string { return g.URL + owner + "/" + repo + ".git" }

// AddRepo adds a repository the token can see; admin decides whether the
// token may manage its webhooks. Its default branch is main until the
// first Push to an empty repository names another.
func (g *GitHub) AddRepo(owner, repo string, admin bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.nextRepoID++
	g.repos[owner+"/"+repo] = &fakeRepo{id: g.nextRepoID, admin: admin, defaultBranch: "main", branches: map[string]string{}}
}

// SetBranch sets the head commit the REST API reports for a branch. It does
// not touch the git repository: use Push for a real commit.
func (g *GitHub) SetBranch(owner, repo, branch, sha string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.repos[owner+"/"+repo].branches[branch] = sha
}

func (g *GitHub) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	status, hang := g.failStatus, g.hang
	g.mu.Unlock()
	switch {
	case hang:
		<-r.Context().Done() // until the client gives up
		return
	case status != 0:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		writeJSON(w, status, map[string]any{"message": http.StatusText(status)})
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/v3/"):
		g.serveAPI(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/"):
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		notFound(w)
	default:
		g.serveGit(w, r)
	}
}

// authorized accepts the token the ways GitHub does: "Bearer <t>",
// "token <t>", or HTTP basic auth with the token as password (any user) or
// as user (with an empty or x-oauth-basic password).
func (g *GitHub) authorized(r *http.Request) bool {
	if user, pass, ok := r.BasicAuth(); ok {
		return pass == g.Token || (user == g.Token && (pass == "" || pass == "x-oauth-basic"))
	}
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && (strings.EqualFold(scheme, "bearer") || strings.EqualFold(scheme, "token")) && strings.TrimSpace(cred) == g.Token
}

func (g *GitHub) serveAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if !g.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	// /api/v3/repos/{owner}/{repo}[/branches/{branch} | /commits/{ref} | /hooks[/{id}[/config|/pings]] | /dispatches]
	parts := strings.Split(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v3/"), "/"), "/")
	if len(parts) < 3 || parts[0] != "repos" {
		notFound(w)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	owner, name := parts[1], parts[2]
	full := owner + "/" + name
	repo, ok := g.repos[full]
	if !ok {
		notFound(w)
		return
	}
	switch {
	case len(parts) == 3 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"id": repo.id, "name": name, "full_name": full, "private": true,
			"owner":          map[string]any{"login": owner},
			"html_url":       g.URL + full,
			"url":            g.APIURL() + "repos/" + full,
			"clone_url":      g.GitURL(owner, name),
			"default_branch": repo.defaultBranch,
			"permissions":    map[string]bool{"admin": repo.admin, "maintain": repo.admin, "push": true, "triage": true, "pull": true},
		})
	case len(parts) >= 5 && parts[3] == "branches" && r.Method == http.MethodGet:
		branch := strings.Join(parts[4:], "/")
		sha, ok := repo.branches[branch]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"message": "Branch not found", "documentation_url": "https://docs.github.com/rest/branches/branches#get-a-branch"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"name":   branch,
			"commit": map[string]any{"sha": sha, "url": fmt.Sprintf("%srepos/%s/commits/%s", g.APIURL(), full, sha)},
		})
	case len(parts) >= 5 && parts[3] == "commits" && r.Method == http.MethodGet:
		g.serveCommit(w, r, repo, strings.Join(parts[4:], "/"))
	case len(parts) >= 4 && parts[3] == "hooks":
		// GitHub hides a repository's webhooks from tokens without admin.
		if !repo.admin {
			notFound(w)
			return
		}
		g.serveHooks(w, r, owner, name, repo, parts[4:])
	case len(parts) == 4 && parts[3] == "dispatches" && r.Method == http.MethodPost:
		g.serveDispatch(w, r, owner, name, repo)
	default:
		notFound(w)
	}
}

// serveCommit answers GET /repos/{owner}/{repo}/commits/{ref} for a branch
// ref ("main" or "heads/main") with the sha media type only: the bare SHA
// as text, which is what the runs' branch-head check asks for.
func (g *GitHub) serveCommit(w http.ResponseWriter, r *http.Request, repo *fakeRepo, ref string) {
	sha, ok := repo.branches[strings.TrimPrefix(ref, "heads/")]
	switch {
	case !strings.HasPrefix(r.Header.Get("Accept"), "application/vnd.github.") || !strings.HasSuffix(r.Header.Get("Accept"), ".sha"):
		writeJSON(w, http.StatusNotImplemented, map[string]any{"message": "the stand-in serves commits only as application/vnd.github.sha"})
	case !ok:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "No commit found for SHA: " + ref, "documentation_url": "https://docs.github.com/rest/commits/commits#get-a-commit"})
	default:
		w.Header().Set("Content-Type", "application/vnd.github.sha; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, sha)
	}
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID is a random (version 4) UUID, the form of X-GitHub-Delivery.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

package fakegithub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const zeroSHA = "0000000000000000000000000000000000000000"

// gitEnv isolates the git commands from the developer's configuration and
// from GIT_* variables of any surrounding git process.
func gitEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(append(env, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "LC_ALL=C"), extra...)
}

// runGit runs git with env in gitEnv and returns its trimmed stdout.
func runGit(stdin []byte, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Env = gitEnv(env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

func (g *GitHub) bareDir(owner, repo string) string {
	return filepath.Join(g.root, owner, repo+".git")
}

// ensureBare creates owner/repo's bare repository on first use; a new
// GitHub repository is empty, with HEAD at its default branch.
func (g *GitHub) ensureBare(owner, repo, defaultBranch string) (string, error) {
	g.bareMu.Lock() // a clone and a Push may both come first
	defer g.bareMu.Unlock()
	dir := g.bareDir(owner, repo)
	if _, err := os.Stat(filepath.Join(dir, "HEAD")); err == nil {
		return dir, nil
	}
	if _, err := runGit(nil, nil, "init", "--quiet", "--bare", "--initial-branch="+defaultBranch, dir); err != nil {
		return "", err
	}
	// GitHub serves any reachable commit by id (kaniko checks out a
	// commit after cloning a branch) and partial clones.
	for _, kv := range [][2]string{{"uploadpack.allowReachableSHA1InWant", "true"}, {"uploadpack.allowFilter", "true"}} {
		if _, err := runGit(nil, nil, "--git-dir="+dir, "config", kv[0], kv[1]); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// gitBackend is git http-backend behind net/http/cgi, serving every
// repository under g.root.
func (g *GitHub) gitBackend() (http.Handler, error) {
	g.gitOnce.Do(func() {
		execPath, err := runGit(nil, nil, "--exec-path")
		if err != nil {
			g.gitErr = fmt.Errorf("git is needed for the fake GitHub's git endpoints: %w", err)
			return
		}
		g.git = &cgi.Handler{
			Path: filepath.Join(execPath, "git-http-backend"),
			Dir:  g.root,
			Env: []string{"GIT_PROJECT_ROOT=" + g.root, "GIT_HTTP_EXPORT_ALL=1",
				"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=" + os.DevNull},
		}
	})
	return g.git, g.gitErr
}

// serveGit answers git smart-HTTP at /<owner>/<repo>.git/... (and, like
// GitHub, /<owner>/<repo>/info/refs and /<owner>/<repo>/git-upload-pack).
// Every repository is private: the token is the basic-auth password.
func (g *GitHub) serveGit(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) < 3 || parts[0] == "" || parts[1] == "" || parts[1] == ".git" {
		http.NotFound(w, r)
		return
	}
	owner, repoSeg, rest := parts[0], parts[1], parts[2]
	name := strings.TrimSuffix(repoSeg, ".git")
	service := r.URL.Query().Get("service")
	if name == repoSeg && rest != "info/refs" && rest != "git-upload-pack" && rest != "git-receive-pack" {
		http.NotFound(w, r)
		return
	}
	if !g.authorized(r) {
		// git asks for credentials only after a 401 with a challenge.
		w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
		http.Error(w, "Invalid username or token. Password authentication is not supported for Git operations.", http.StatusUnauthorized)
		return
	}
	g.mu.Lock()
	repo, ok := g.repos[owner+"/"+name]
	var defaultBranch string
	if ok {
		defaultBranch = repo.defaultBranch
	}
	hang := g.hangGit[owner+"/"+name]
	if hang {
		g.hungGit++
	}
	g.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if !ok {
		http.Error(w, "Repository not found.", http.StatusNotFound)
		return
	}
	// Pushes go through Push, which also delivers the push webhooks.
	if rest == "git-receive-pack" || service == "git-receive-pack" {
		http.Error(w, "Pushing over HTTP is not supported by the fake GitHub: use GitHub.Push.", http.StatusForbidden)
		return
	}
	backend, err := g.gitBackend()
	if err == nil {
		_, err = g.ensureBare(owner, name, defaultBranch)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/" + owner + "/" + name + ".git/" + rest
	// net/http/cgi refuses chunked bodies, which git sends for large
	// fetch negotiations: read them whole.
	if r.ContentLength < 0 || len(r.TransferEncoding) > 0 {
		body, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r2.Body, r2.ContentLength, r2.TransferEncoding = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
	}
	backend.ServeHTTP(w, r2)
}

// PushOptions adjusts PushWith.
type PushOptions struct {
	// Signing of the push deliveries; the zero value signs like GitHub.
	Signing Signing
	// Parent is the commit (any revision) the new commit goes on top of,
	// instead of the branch's head. When the old head is not an ancestor
	// of the new commit, the push replaces history, as git push --force
	// does, and the payload says forced: true.
	Parent string
}

// Push commits files onto owner/repo's branch and delivers the push
// webhook, like a developer's git push. See PushWith.
func (g *GitHub) Push(owner, repo, branch string, files map[string][]byte, message string) (string, error) {
	return g.PushWith(owner, repo, branch, files, message, PushOptions{})
}

// Head is the commit the REST API reports for owner/repo's branch ("" when
// it does not exist).
func (g *GitHub) Head(owner, repo, branch string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if r, ok := g.repos[owner+"/"+repo]; ok {
		return r.branches[branch]
	}
	return ""
}

// bare is owner/repo, its bare repository and the default branch, for a
// change of its refs (with g.pushMu held).
func (g *GitHub) bare(owner, repo string) (*fakeRepo, string, string, error) {
	full := owner + "/" + repo
	g.mu.Lock()
	r, ok := g.repos[full]
	var defaultBranch string
	if ok {
		defaultBranch = r.defaultBranch
	}
	g.mu.Unlock()
	if !ok {
		return nil, "", "", fmt.Errorf("fake GitHub: no repository %s (AddRepo first)", full)
	}
	dir, err := g.ensureBare(owner, repo, defaultBranch)
	return r, dir, defaultBranch, err
}

// revParse is the commit rev names in the bare repository dir ("" when none).
func revParse(dir, rev string) string {
	sha, _ := runGit(nil, nil, "--git-dir="+dir, "rev-parse", "--verify", "--quiet", rev+"^{commit}")
	return sha
}

// PushWith makes one commit with real git on top of the branch's head (a
// new branch starts from the default branch; the first push to an empty
// repository makes its branch the default; o.Parent chooses another
// parent), moves the branch (which the REST API then reports), and POSTs
// GitHub's push event to every active hook of the repository subscribed to
// push, waiting for the responses (see Deliveries). files are paths
// relative to the repository root; a nil value deletes the path. It
// returns the new commit's SHA; failed deliveries are recorded, not
// returned, as GitHub does.
func (g *GitHub) PushWith(owner, repo, branch string, files map[string][]byte, message string, o PushOptions) (string, error) {
	g.pushMu.Lock()
	defer g.pushMu.Unlock()
	r, dir, defaultBranch, err := g.bare(owner, repo)
	if err != nil {
		return "", err
	}
	gd := "--git-dir=" + dir
	ref := "refs/heads/" + branch
	if _, err := runGit(nil, nil, "check-ref-format", ref); err != nil {
		return "", fmt.Errorf("fake GitHub: bad branch name %q: %w", branch, err)
	}
	before := revParse(dir, ref)
	empty := before == "" && revParse(dir, "HEAD") == ""
	base := before
	if base == "" {
		base = revParse(dir, "refs/heads/"+defaultBranch)
	}
	if o.Parent != "" {
		if base = revParse(dir, o.Parent); base == "" {
			return "", fmt.Errorf("fake GitHub: no commit %q in %s/%s to push onto", o.Parent, owner, repo)
		}
	}

	work, err := os.MkdirTemp("", "fake-github-push-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	now := time.Now().Truncate(time.Second)
	author, email := "IDP Test", "idp-test@users.noreply.github.com"
	// The index and (empty) work tree are scratch: only objects and the
	// ref land in the bare repository.
	tree := filepath.Join(work, "tree")
	if err := os.Mkdir(tree, 0o700); err != nil {
		return "", err
	}
	env := []string{"GIT_INDEX_FILE=" + filepath.Join(work, "index"), "GIT_WORK_TREE=" + tree, "HOME=" + work,
		"GIT_AUTHOR_NAME=" + author, "GIT_AUTHOR_EMAIL=" + email, "GIT_AUTHOR_DATE=" + now.Format(time.RFC3339),
		"GIT_COMMITTER_NAME=" + author, "GIT_COMMITTER_EMAIL=" + email, "GIT_COMMITTER_DATE=" + now.Format(time.RFC3339)}
	git := func(stdin []byte, args ...string) (string, error) {
		return runGit(stdin, env, append([]string{gd}, args...)...)
	}

	// Build the tree in a scratch index: the base commit's tree with
	// files written over it.
	if base != "" {
		_, err = git(nil, "read-tree", base)
	} else {
		_, err = git(nil, "read-tree", "--empty")
	}
	if err != nil {
		return "", err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".." {
			return "", fmt.Errorf("fake GitHub: bad path %q: want a clean path relative to the repository root", p)
		}
		if files[p] == nil {
			_, err = git(nil, "update-index", "--force-remove", "--", p)
		} else {
			var blob string
			if blob, err = git(files[p], "hash-object", "-w", "--stdin"); err == nil {
				_, err = git(nil, "update-index", "--add", "--cacheinfo", "100644", blob, p)
			}
		}
		if err != nil {
			return "", err
		}
	}
	treeID, err := git(nil, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", treeID, "-m", message}
	if base != "" {
		args = append(args, "-p", base)
	}
	sha, err := git(nil, args...)
	if err != nil {
		return "", err
	}
	old := before
	if old == "" {
		old = zeroSHA // the ref must not exist yet
	}
	if _, err := git(nil, "update-ref", "-m", "push", ref, sha, old); err != nil {
		return "", err
	}
	if empty && branch != defaultBranch {
		if _, err := git(nil, "symbolic-ref", "HEAD", ref); err != nil {
			return "", err
		}
	}
	// Forced: the old head is not in the new commit's history (git
	// merge-base fails for unrelated histories).
	forced := false
	if before != "" {
		mb, err := git(nil, "merge-base", before, sha)
		forced = err != nil || mb != before
	}
	commit, err := commitPayload(dir, g.URL+owner+"/"+repo, owner, sha)
	if err != nil {
		return "", err
	}

	g.mu.Lock()
	if empty {
		r.defaultBranch = branch
	}
	r.branches[branch] = sha
	g.mu.Unlock()

	beforeSHA := before
	if beforeSHA == "" {
		beforeSHA = zeroSHA
	}
	return sha, g.deliverPush(owner, repo, r, map[string]any{
		"ref": ref, "before": beforeSHA, "after": sha,
		"created": before == "", "deleted": false, "forced": forced, "base_ref": nil,
		"compare":     fmt.Sprintf("%s%s/%s/compare/%s...%s", g.URL, owner, repo, beforeSHA[:12], sha[:12]),
		"commits":     []any{commit},
		"head_commit": commit,
	}, o.Signing)
}

// DeleteBranch deletes owner/repo's branch, as git push --delete does, and
// delivers GitHub's push event for it: deleted true, after all zeros, no
// commits and a null head_commit. Like GitHub, it refuses to delete the
// default branch.
func (g *GitHub) DeleteBranch(owner, repo, branch string) error {
	g.pushMu.Lock()
	defer g.pushMu.Unlock()
	r, dir, defaultBranch, err := g.bare(owner, repo)
	if err != nil {
		return err
	}
	ref := "refs/heads/" + branch
	before := revParse(dir, ref)
	switch {
	case before == "":
		return fmt.Errorf("fake GitHub: %s/%s has no branch %s", owner, repo, branch)
	case branch == defaultBranch:
		return fmt.Errorf("fake GitHub: refusing to delete the default branch %s of %s/%s", branch, owner, repo)
	}
	if _, err := runGit(nil, nil, "--git-dir="+dir, "update-ref", "-d", ref, before); err != nil {
		return err
	}
	g.mu.Lock()
	delete(r.branches, branch)
	g.mu.Unlock()
	return g.deliverPush(owner, repo, r, map[string]any{
		"ref": ref, "before": before, "after": zeroSHA,
		"created": false, "deleted": true, "forced": false, "base_ref": nil,
		"compare":     fmt.Sprintf("%s%s/%s/compare/%s...%s", g.URL, owner, repo, before[:12], zeroSHA[:12]),
		"commits":     []any{},
		"head_commit": nil,
	}, SignValid)
}

// PushTag creates the lightweight tag tag at commit sha of owner/repo, as
// git push origin <tag> does, and delivers GitHub's push event for it: ref
// refs/tags/<tag>, created, no commits, the tagged commit as head_commit,
// and base_ref naming a branch whose head it is.
func (g *GitHub) PushTag(owner, repo, tag, sha string) error {
	g.pushMu.Lock()
	defer g.pushMu.Unlock()
	r, dir, _, err := g.bare(owner, repo)
	if err != nil {
		return err
	}
	ref := "refs/tags/" + tag
	if _, err := runGit(nil, nil, "check-ref-format", ref); err != nil {
		return fmt.Errorf("fake GitHub: bad tag name %q: %w", tag, err)
	}
	commit := revParse(dir, sha)
	if commit == "" {
		return fmt.Errorf("fake GitHub: no commit %s in %s/%s", sha, owner, repo)
	}
	if _, err := runGit(nil, nil, "--git-dir="+dir, "update-ref", ref, commit, zeroSHA); err != nil {
		return err
	}
	head, err := commitPayload(dir, g.URL+owner+"/"+repo, owner, commit)
	if err != nil {
		return err
	}
	var baseRef any
	g.mu.Lock()
	var branches []string
	for b, h := range r.branches {
		if h == commit {
			branches = append(branches, b)
		}
	}
	g.mu.Unlock()
	if len(branches) > 0 {
		slices.Sort(branches)
		baseRef = "refs/heads/" + branches[0]
	}
	return g.deliverPush(owner, repo, r, map[string]any{
		"ref": ref, "before": zeroSHA, "after": commit,
		"created": true, "deleted": false, "forced": false, "base_ref": baseRef,
		"compare":     fmt.Sprintf("%s%s/%s/compare/%s", g.URL, owner, repo, tag),
		"commits":     []any{},
		"head_commit": head,
	}, SignValid)
}

// commitPayload is commit sha of the bare repository dir as push events
// list it, with the paths it changed from its first parent.
func commitPayload(dir, repoURL, owner, sha string) (map[string]any, error) {
	gd := "--git-dir=" + dir
	info, err := runGit(nil, nil, gd, "show", "-s", "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B", sha)
	if err != nil {
		return nil, err
	}
	f := strings.SplitN(info, "\x00", 7)
	if len(f) != 7 {
		return nil, fmt.Errorf("fake GitHub: reading commit %s: %q", sha, info)
	}
	diff, err := runGit(nil, nil, gd, "diff-tree", "-r", "--root", "--no-commit-id", "--name-status", "--no-renames", sha)
	if err != nil {
		return nil, err
	}
	added, removed, modified := []string{}, []string{}, []string{}
	for _, line := range strings.Split(diff, "\n") {
		status, p, ok := strings.Cut(line, "\t")
		if !ok {
			continue
		}
		switch status {
		case "A":
			added = append(added, p)
		case "D":
			removed = append(removed, p)
		default:
			modified = append(modified, p)
		}
	}
	return map[string]any{
		"id": sha, "tree_id": f[0], "distinct": true, "message": f[6],
		"timestamp": f[5], "url": repoURL + "/commit/" + sha,
		"author":    map[string]any{"name": f[1], "email": f[2], "username": owner},
		"committer": map[string]any{"name": f[3], "email": f[4], "username": owner},
		"added":     added, "removed": removed, "modified": modified,
	}, nil
}

// deliverPush sends a push event for owner/repo, completed with the
// repository, pusher and sender, to every active hook subscribed to push,
// waiting for the responses.
func (g *GitHub) deliverPush(owner, repo string, r *fakeRepo, payload map[string]any, sign Signing) error {
	g.mu.Lock()
	var hooks []WebHook
	for _, h := range r.hooks {
		if v := h.view(); v.subscribed("push") {
			hooks = append(hooks, v)
		}
	}
	payload["repository"] = g.repoPayload(owner, repo, r, time.Now().Truncate(time.Second))
	repoID := r.id
	g.mu.Unlock()
	payload["pusher"] = map[string]any{"name": owner, "email": "idp-test@users.noreply.github.com"}
	payload["sender"] = userPayload(owner)
	body, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		g.deliver(h, repoID, "push", body, sign)
	}
	return nil
}

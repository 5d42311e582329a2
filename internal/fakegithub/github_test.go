package fakegithub_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/idpkit/terraform-provider-idp/internal/fakegithub"
)

// These tests need only git (no stack): they run without TF_ACC.

// newGitHub starts a fake GitHub on 127.0.0.1 for the test.
func newGitHub(t *testing.T) *fakegithub.GitHub {
	t.Helper()
	g, err := fakegithub.Start("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

func ghClient(t *testing.T, g *fakegithub.GitHub, token string) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(g.URL, g.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.BaseURL.String(), g.APIURL(); got != want {
		t.Fatalf("go-github base URL %s, want APIURL %s", got, want)
	}
	return c
}

// gitCmd runs the git CLI isolated from the user's configuration, never
// prompting for credentials.
func gitCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_TERMINAL_PROMPT=0", "NO_PROXY=*", "no_proxy=*")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func withCreds(t *testing.T, raw, user, pass string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(user, pass)
	return u.String()
}

type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint recording what it gets and answering 202.
func receiver(t *testing.T) (string, <-chan received) {
	t.Helper()
	ch := make(chan received, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ch <- received{r.Header.Clone(), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook", ch
}

// next returns the next request of event, skipping others (pings).
func next(t *testing.T, ch <-chan received, event string) received {
	t.Helper()
	for {
		select {
		case r := <-ch:
			if r.header.Get("X-GitHub-Event") == event {
				return r
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s delivery within 10s", event)
		}
	}
}

func sign256(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func sign1(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func TestGitHubCloneOverHTTP(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	files := map[string][]byte{"Dockerfile": []byte("FROM scratch\n"), "cmd/app/main.go": []byte("package main\n")}
	sha1st, err := g.Push("myorg", "app", "main", files, "first")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(sha1st) {
		t.Fatalf("Push returned %q, want a commit SHA", sha1st)
	}

	dir := t.TempDir()
	src := withCreds(t, g.GitURL("myorg", "app"), "kaniko", g.Token)
	if out, err := gitCmd(t, dir, "clone", "--quiet", src, "app"); err != nil {
		t.Fatalf("git clone: %v: %s", err, out)
	}
	wt := filepath.Join(dir, "app")
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(wt, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("cloned %s = %q (%v), want %q", p, got, err, want)
		}
	}
	if head, _ := gitCmd(t, wt, "rev-parse", "HEAD"); head != sha1st {
		t.Errorf("cloned HEAD %s, want %s", head, sha1st)
	}
	if msg, _ := gitCmd(t, wt, "log", "-1", "--format=%s|%an"); msg != "first|IDP Test" {
		t.Errorf("commit %q, want subject first by IDP Test", msg)
	}

	// A second commit modifies one file and deletes another; a fetch
	// through the same remote sees it, and the REST API reports it.
	sha2nd, err := g.Push("myorg", "app", "main", map[string][]byte{"Dockerfile": []byte("FROM scratch\nUSER 1000\n"), "cmd/app/main.go": nil}, "second")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := gitCmd(t, wt, "pull", "--quiet", "--ff-only"); err != nil {
		t.Fatalf("git pull: %v: %s", err, out)
	}
	if head, _ := gitCmd(t, wt, "rev-parse", "HEAD"); head != sha2nd {
		t.Errorf("pulled HEAD %s, want %s", head, sha2nd)
	}
	if parent, _ := gitCmd(t, wt, "rev-parse", "HEAD^"); parent != sha1st {
		t.Errorf("second commit's parent %s, want %s", parent, sha1st)
	}
	if _, err := os.Stat(filepath.Join(wt, "cmd/app/main.go")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted file still present after pull: %v", err)
	}
	b, _, err := ghClient(t, g, g.Token).Repositories.GetBranch(context.Background(), "myorg", "app", "main", 1)
	if err != nil || b.GetCommit().GetSHA() != sha2nd {
		t.Errorf("REST branch head %s (%v), want %s", b.GetCommit().GetSHA(), err, sha2nd)
	}

	// A new branch starts from the default branch; it can be cloned by
	// name, and a commit fetched by id, as kaniko does.
	sha3rd, err := g.Push("myorg", "app", "release", map[string][]byte{"VERSION": []byte("1\n")}, "release")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := gitCmd(t, dir, "clone", "--quiet", "--branch", "release", "--single-branch", src, "rel"); err != nil {
		t.Fatalf("git clone --branch release: %v: %s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "rel", "Dockerfile")); string(got) != "FROM scratch\nUSER 1000\n" {
		t.Errorf("release branch Dockerfile %q, want main's", got)
	}
	if out, err := gitCmd(t, wt, "fetch", "--quiet", "origin", sha3rd); err != nil {
		t.Errorf("fetching commit %s by id: %v: %s", sha3rd, err, out)
	}

	// GitHub's URL without .git works too.
	if out, err := gitCmd(t, dir, "ls-remote", strings.TrimSuffix(src, ".git"), "refs/heads/main"); err != nil || !strings.HasPrefix(out, sha2nd) {
		t.Errorf("ls-remote without .git: %q (%v), want %s", out, err, sha2nd)
	}
}

func TestGitHubGitAuth(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	if _, err := g.Push("myorg", "app", "main", map[string][]byte{"a": []byte("a")}, "a"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, src := range map[string]string{
		"wrong token": withCreds(t, g.GitURL("myorg", "app"), "x", "ghp_wrong"),
		"no token":    g.GitURL("myorg", "app"),
	} {
		if out, err := gitCmd(t, dir, "ls-remote", src); err == nil {
			t.Errorf("%s: git ls-remote succeeded: %s", name, out)
		}
	}
	// The token is also accepted as the user name, as on GitHub.
	if out, err := gitCmd(t, dir, "ls-remote", withCreds(t, g.GitURL("myorg", "app"), g.Token, "x-oauth-basic")); err != nil {
		t.Errorf("token as user: %v: %s", err, out)
	}

	get := func(path, user, pass string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, g.URL+path, nil)
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp := get("myorg/app.git/info/refs?service=git-upload-pack", "", "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("anonymous info/refs: %d %q, want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := get("myorg/app.git/info/refs?service=git-upload-pack", "u", g.Token); resp.StatusCode != http.StatusOK ||
		resp.Header.Get("Content-Type") != "application/x-git-upload-pack-advertisement" {
		t.Errorf("authenticated info/refs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp := get("myorg/nope.git/info/refs?service=git-upload-pack", "u", g.Token); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown repository: %d, want 404", resp.StatusCode)
	}
	if resp := get("myorg/app.git/info/refs?service=git-receive-pack", "u", g.Token); resp.StatusCode != http.StatusForbidden {
		t.Errorf("receive-pack: %d, want 403", resp.StatusCode)
	}
}

func TestGitHubHooksCRUD(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	g.AddRepo("myorg", "readonly", false)
	ctx := context.Background()
	gh := ghClient(t, g, g.Token)
	target, _ := receiver(t)

	// Create as Argo Events does (its go-github sends name "web").
	h, resp, err := gh.Repositories.CreateHook(ctx, "myorg", "app", &github.Hook{
		Events: []string{"push"}, Active: github.Bool(true),
		Config: &github.HookConfig{URL: github.String(target), ContentType: github.String("json"), InsecureSSL: github.String("0"), Secret: github.String("s3cret")},
	})
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("CreateHook: %v (%v)", err, resp)
	}
	if h.GetID() == 0 || h.GetName() != "web" || !h.GetActive() || !slices.Equal(h.Events, []string{"push"}) ||
		h.Config.GetURL() != target || h.Config.GetContentType() != "json" || h.Config.GetInsecureSSL() != "0" {
		t.Fatalf("created hook %+v", h)
	}
	if s := h.Config.GetSecret(); s != "********" {
		t.Errorf("create response secret %q, want it masked", s)
	}
	if hs := g.Hooks("myorg", "app"); len(hs) != 1 || hs[0].Secret != "s3cret" || hs[0].ID != h.GetID() {
		t.Errorf("stored hooks %+v, want one with secret s3cret", hs)
	}

	list, _, err := gh.Repositories.ListHooks(ctx, "myorg", "app", nil)
	if err != nil || len(list) != 1 || list[0].GetID() != h.GetID() || list[0].Config.GetURL() != target || list[0].Config.GetSecret() != "********" {
		t.Fatalf("ListHooks: %v %v", list, err)
	}
	got, _, err := gh.Repositories.GetHook(ctx, "myorg", "app", h.GetID())
	if err != nil || got.Config.GetSecret() != "********" || got.Config.GetURL() != target {
		t.Fatalf("GetHook: %+v %v", got, err)
	}

	// GitHub refuses a second hook with the same URL.
	_, resp, err = gh.Repositories.CreateHook(ctx, "myorg", "app", &github.Hook{Config: &github.HookConfig{URL: github.String(target)}})
	if err == nil || resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("duplicate CreateHook: %v, want 422", err)
	}
	// Defaults: push only, form content type, active.
	h2, _, err := gh.Repositories.CreateHook(ctx, "myorg", "app", &github.Hook{Config: &github.HookConfig{URL: github.String(target + "2")}})
	if err != nil || !h2.GetActive() || !slices.Equal(h2.Events, []string{"push"}) || h2.Config.GetContentType() != "form" || h2.Config.Secret != nil {
		t.Errorf("defaulted hook %+v %v", h2, err)
	}

	// Editing events keeps the config; a config without the secret removes
	// it, as GitHub documents.
	e, _, err := gh.Repositories.EditHook(ctx, "myorg", "app", h.GetID(), &github.Hook{Events: []string{"push", "pull_request"}})
	if err != nil || !slices.Equal(e.Events, []string{"push", "pull_request"}) || e.Config.GetSecret() != "********" {
		t.Fatalf("EditHook events: %+v %v", e, err)
	}
	if _, _, err := gh.Repositories.EditHook(ctx, "myorg", "app", h.GetID(), &github.Hook{Config: &github.HookConfig{URL: github.String(target), ContentType: github.String("json")}}); err != nil {
		t.Fatal(err)
	}
	if hs := g.Hooks("myorg", "app"); hs[0].Secret != "" {
		t.Errorf("secret %q after an edit without it, want removed", hs[0].Secret)
	}
	// The config endpoint updates only what it is given.
	if _, _, err := gh.Repositories.EditHookConfiguration(ctx, "myorg", "app", h.GetID(), &github.HookConfig{Secret: github.String("new")}); err != nil {
		t.Fatal(err)
	}
	if hs := g.Hooks("myorg", "app"); hs[0].Secret != "new" || hs[0].URL != target || hs[0].ContentType != "json" {
		t.Errorf("after EditHookConfiguration: %+v", hs[0])
	}

	if _, err := gh.Repositories.DeleteHook(ctx, "myorg", "app", h.GetID()); err != nil {
		t.Fatal(err)
	}
	if _, resp, err := gh.Repositories.GetHook(ctx, "myorg", "app", h.GetID()); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("GetHook after delete: %v, want 404", err)
	}
	if hs := g.Hooks("myorg", "app"); len(hs) != 1 || hs[0].ID != h2.GetID() {
		t.Errorf("hooks after delete %+v, want only %d", hs, h2.GetID())
	}

	// Without admin the hooks are hidden; a wrong token is rejected.
	if _, resp, err := gh.Repositories.ListHooks(ctx, "myorg", "readonly", nil); err == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("ListHooks without admin: %v, want 404", err)
	}
	if _, resp, err := ghClient(t, g, "ghp_wrong").Repositories.ListHooks(ctx, "myorg", "app", nil); err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("ListHooks with a wrong token: %v, want 401", err)
	}
}

func TestGitHubAPIAuthSchemes(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	for name, set := range map[string]func(*http.Request){
		"bearer": func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+g.Token) },
		"token":  func(r *http.Request) { r.Header.Set("Authorization", "token "+g.Token) },
		"basic":  func(r *http.Request) { r.SetBasicAuth("anyone", g.Token) },
		"wrong":  func(r *http.Request) { r.Header.Set("Authorization", "token ghp_wrong") },
		"none":   func(*http.Request) {},
	} {
		req, _ := http.NewRequest(http.MethodGet, g.APIURL()+"repos/myorg/app/hooks", nil)
		set(req)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusOK
		if name == "wrong" || name == "none" {
			want = http.StatusUnauthorized
		}
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, want)
		}
	}
}

func TestGitHubPushWebhook(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	ctx := context.Background()
	target, got := receiver(t)
	const secret = "hook-secret"
	h, _, err := ghClient(t, g, g.Token).Repositories.CreateHook(ctx, "myorg", "app", &github.Hook{
		Events: []string{"push"}, Active: github.Bool(true),
		Config: &github.HookConfig{URL: github.String(target), ContentType: github.String("json"), Secret: github.String(secret)},
	})
	if err != nil {
		t.Fatal(err)
	}
	// GitHub pings a new hook.
	ping := next(t, got, "ping")
	var pp struct {
		HookID int64 `json:"hook_id"`
	}
	if err := json.Unmarshal(ping.body, &pp); err != nil || pp.HookID != h.GetID() {
		t.Errorf("ping hook_id %d (%v), want %d", pp.HookID, err, h.GetID())
	}
	// Hooks that must not get the push: inactive, and not subscribed.
	other, otherGot := receiver(t)
	for _, hk := range []*github.Hook{
		{Active: github.Bool(false), Config: &github.HookConfig{URL: github.String(other + "/inactive")}},
		{Events: []string{"pull_request"}, Config: &github.HookConfig{URL: github.String(other + "/pr")}},
	} {
		if _, _, err := ghClient(t, g, g.Token).Repositories.CreateHook(ctx, "myorg", "app", hk); err != nil {
			t.Fatal(err)
		}
	}

	sha, err := g.Push("myorg", "app", "main", map[string][]byte{"Dockerfile": []byte("FROM scratch\n")}, "add Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	r := next(t, got, "push")
	if s := r.header.Get("X-Hub-Signature-256"); s != sign256(secret, r.body) {
		t.Errorf("X-Hub-Signature-256 %q, want %q", s, sign256(secret, r.body))
	}
	if s := r.header.Get("X-Hub-Signature"); s != sign1(secret, r.body) {
		t.Errorf("X-Hub-Signature %q, want %q", s, sign1(secret, r.body))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if ua := r.header.Get("User-Agent"); !strings.HasPrefix(ua, "GitHub-Hookshot/") {
		t.Errorf("User-Agent %q", ua)
	}
	if id := r.header.Get("X-GitHub-Delivery"); !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("X-GitHub-Delivery %q, want a UUID", id)
	}
	// What Argo Events does with it: go-github validates and parses it.
	payload, err := github.ValidatePayloadFromBody("application/json", bytes.NewReader(r.body), r.header.Get("X-Hub-Signature-256"), []byte(secret))
	if err != nil {
		t.Fatalf("go-github rejects the delivery: %v", err)
	}
	ev, err := github.ParseWebHook("push", payload)
	if err != nil {
		t.Fatal(err)
	}
	push := ev.(*github.PushEvent)
	if push.GetRef() != "refs/heads/main" || push.GetAfter() != sha || push.GetBefore() != strings.Repeat("0", 40) || !push.GetCreated() {
		t.Errorf("push ref=%s before=%s after=%s created=%v, want refs/heads/main 0… %s true", push.GetRef(), push.GetBefore(), push.GetAfter(), push.GetCreated(), sha)
	}
	if rp := push.GetRepo(); rp.GetFullName() != "myorg/app" || rp.GetCloneURL() != g.GitURL("myorg", "app") || rp.GetDefaultBranch() != "main" {
		t.Errorf("push repository %+v", rp)
	}
	if hc := push.GetHeadCommit(); hc.GetID() != sha || hc.GetMessage() != "add Dockerfile" || !slices.Equal(hc.Added, []string{"Dockerfile"}) {
		t.Errorf("head_commit %+v", hc)
	}
	if len(push.Commits) != 1 || push.Commits[0].GetID() != sha || push.GetPusher().GetName() != "myorg" || push.GetSender().GetLogin() != "myorg" {
		t.Errorf("commits %v pusher %v sender %v", push.Commits, push.GetPusher(), push.GetSender())
	}

	// The second push names the first as before and lists the change.
	sha2, err := g.Push("myorg", "app", "main", map[string][]byte{"Dockerfile": []byte("FROM scratch\nUSER 1\n")}, "user")
	if err != nil {
		t.Fatal(err)
	}
	r = next(t, got, "push")
	var p2 github.PushEvent
	if err := json.Unmarshal(r.body, &p2); err != nil {
		t.Fatal(err)
	}
	if p2.GetBefore() != sha || p2.GetAfter() != sha2 || p2.GetCreated() || !slices.Equal(p2.GetHeadCommit().Modified, []string{"Dockerfile"}) {
		t.Errorf("second push before=%s after=%s created=%v modified=%v", p2.GetBefore(), p2.GetAfter(), p2.GetCreated(), p2.GetHeadCommit().Modified)
	}

	// Exactly the two pushes went out, both to the subscribed hook, and
	// the receiver's status is recorded.
	var pushes []string
	for _, d := range g.Deliveries() {
		if d.Event == "push" {
			pushes = append(pushes, fmt.Sprintf("hook %d %s -> %d err=%v", d.HookID, d.URL, d.StatusCode, d.Err))
		}
	}
	want := fmt.Sprintf("hook %d %s -> 202 err=<nil>", h.GetID(), target)
	if len(pushes) != 2 || pushes[0] != want || pushes[1] != want {
		t.Errorf("push deliveries:\n%s\nwant twice: %s", strings.Join(pushes, "\n"), want)
	}
	// (Pushes are delivered before Push returns; pings may still come.)
	for n := len(otherGot); n > 0; n-- {
		if r := <-otherGot; r.header.Get("X-GitHub-Event") != "ping" {
			t.Errorf("an inactive or unsubscribed hook got %s", r.header.Get("X-GitHub-Event"))
		}
	}
	if hk, err := g.WaitHook(ctx, "myorg", "app"); err != nil || hk.ID != h.GetID() {
		t.Errorf("WaitHook: %+v %v", hk, err)
	}
}

func TestGitHubBadSignatures(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	target, got := receiver(t)
	const secret = "hook-secret"
	if _, _, err := ghClient(t, g, g.Token).Repositories.CreateHook(context.Background(), "myorg", "app", &github.Hook{
		Config: &github.HookConfig{URL: github.String(target), ContentType: github.String("json"), Secret: github.String(secret)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.PushWith("myorg", "app", "main", map[string][]byte{"a": []byte("1")}, "wrong", fakegithub.PushOptions{Signing: fakegithub.SignWrong}); err != nil {
		t.Fatal(err)
	}
	r := next(t, got, "push")
	if _, err := github.ValidatePayloadFromBody("application/json", bytes.NewReader(r.body), r.header.Get("X-Hub-Signature-256"), []byte(secret)); err == nil {
		t.Errorf("a wrongly signed delivery validates (signature %q)", r.header.Get("X-Hub-Signature-256"))
	}
	if _, err := g.PushWith("myorg", "app", "main", map[string][]byte{"a": []byte("2")}, "none", fakegithub.PushOptions{Signing: fakegithub.SignNone}); err != nil {
		t.Fatal(err)
	}
	r = next(t, got, "push")
	if r.header.Get("X-Hub-Signature-256") != "" || r.header.Get("X-Hub-Signature") != "" {
		t.Errorf("unsigned delivery has signatures: %v", r.header)
	}
	if _, err := github.ValidatePayloadFromBody("application/json", bytes.NewReader(r.body), "", []byte(secret)); err == nil {
		t.Errorf("an unsigned delivery validates")
	}

	// DeliverRaw sends exactly what it is given and records the answer.
	hdr := r.header.Clone()
	hdr.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	d := g.DeliverRaw(target, hdr, r.body)
	raw := next(t, got, "push")
	if d.StatusCode != http.StatusAccepted || raw.header.Get("X-Hub-Signature-256") != hdr.Get("X-Hub-Signature-256") || !bytes.Equal(raw.body, r.body) {
		t.Errorf("DeliverRaw: status %d, signature %q", d.StatusCode, raw.header.Get("X-Hub-Signature-256"))
	}
	if n := len(g.Deliveries()); n < 3 {
		t.Errorf("%d deliveries recorded, want at least 3", n)
	}
}

func TestGitHubFormDelivery(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	target, got := receiver(t)
	// No content_type: GitHub's default, form.
	if _, _, err := ghClient(t, g, g.Token).Repositories.CreateHook(context.Background(), "myorg", "app", &github.Hook{
		Config: &github.HookConfig{URL: github.String(target), Secret: github.String("s")},
	}); err != nil {
		t.Fatal(err)
	}
	sha, err := g.Push("myorg", "app", "trunk", map[string][]byte{"a": []byte("1")}, "m")
	if err != nil {
		t.Fatal(err)
	}
	r := next(t, got, "push")
	if ct := r.header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Fatalf("Content-Type %q, want form", ct)
	}
	payload, err := github.ValidatePayloadFromBody(r.header.Get("Content-Type"), bytes.NewReader(r.body), r.header.Get("X-Hub-Signature-256"), []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	var p github.PushEvent
	if err := json.Unmarshal(payload, &p); err != nil || p.GetAfter() != sha || p.GetRef() != "refs/heads/trunk" {
		t.Errorf("form payload after=%s ref=%s (%v)", p.GetAfter(), p.GetRef(), err)
	}
	// The first push to an empty repository makes its branch the default.
	repo, _, err := ghClient(t, g, g.Token).Repositories.Get(context.Background(), "myorg", "app")
	if err != nil || repo.GetDefaultBranch() != "trunk" || p.GetRepo().GetDefaultBranch() != "trunk" {
		t.Errorf("default branch %q / payload %q (%v), want trunk", repo.GetDefaultBranch(), p.GetRepo().GetDefaultBranch(), err)
	}
}

func TestGitHubRepositoryDispatch(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "gitops", true)
	target, got := receiver(t)
	if _, _, err := ghClient(t, g, g.Token).Repositories.CreateHook(context.Background(), "myorg", "gitops", &github.Hook{
		Events: []string{"repository_dispatch"}, Config: &github.HookConfig{URL: github.String(target), ContentType: github.String("json"), Secret: github.String("s")},
	}); err != nil {
		t.Fatal(err)
	}
	// As the pipeline's dispatch step sends it (curl with a bearer token).
	post := func(body string) int {
		req, _ := http.NewRequest(http.MethodPost, g.APIURL()+"repos/myorg/gitops/dispatches", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+g.Token)
		req.Header.Set("Accept", "application/vnd.github+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(`{"event_type":"update-config","client_payload":{"project":"p","application":"a","hash":"abc"}}`); code != http.StatusNoContent {
		t.Fatalf("dispatch: %d, want 204", code)
	}
	if code := post(`{"client_payload":{}}`); code != http.StatusUnprocessableEntity {
		t.Errorf("dispatch without event_type: %d, want 422", code)
	}
	ds := g.Dispatches()
	if len(ds) != 1 || ds[0].EventType != "update-config" || ds[0].ClientPayload["hash"] != "abc" || ds[0].Repo != "gitops" {
		t.Fatalf("dispatches %+v", ds)
	}
	r := next(t, got, "repository_dispatch")
	var p struct {
		Action        string         `json:"action"`
		ClientPayload map[string]any `json:"client_payload"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil || p.Action != "update-config" || p.ClientPayload["application"] != "a" ||
		r.header.Get("X-Hub-Signature-256") != sign256("s", r.body) {
		t.Errorf("repository_dispatch delivery %s (%v)", r.body, err)
	}
}

// A branch's deletion, a tag and a force push deliver GitHub's push events
// for them, signed, and change the refs git and the REST API show.
func TestGitHubDeleteBranchTagAndForcePush(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	ctx := context.Background()
	target, got := receiver(t)
	const secret = "hook-secret"
	if _, _, err := ghClient(t, g, g.Token).Repositories.CreateHook(ctx, "myorg", "app", &github.Hook{
		Events: []string{"push"}, Active: github.Bool(true),
		Config: &github.HookConfig{URL: github.String(target), ContentType: github.String("json"), Secret: github.String(secret)},
	}); err != nil {
		t.Fatal(err)
	}
	// event receives the next push, checks its signature and parses it;
	// raw is its body as a generic map (null and [] stay visible).
	event := func() (push *github.PushEvent, raw map[string]any) {
		t.Helper()
		r := next(t, got, "push")
		payload, err := github.ValidatePayloadFromBody("application/json", bytes.NewReader(r.body), r.header.Get("X-Hub-Signature-256"), []byte(secret))
		if err != nil {
			t.Fatalf("go-github rejects the delivery: %v", err)
		}
		ev, err := github.ParseWebHook("push", payload)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(payload, &raw); err != nil {
			t.Fatal(err)
		}
		return ev.(*github.PushEvent), raw
	}
	refs := func() string {
		t.Helper()
		out, err := gitCmd(t, t.TempDir(), "ls-remote", withCreds(t, g.GitURL("myorg", "app"), "x", g.Token))
		if err != nil {
			t.Fatalf("ls-remote: %v: %s", err, out)
		}
		return out
	}
	zero := strings.Repeat("0", 40)

	shaMain, err := g.Push("myorg", "app", "main", map[string][]byte{"a": []byte("1")}, "main")
	if err != nil {
		t.Fatal(err)
	}
	event()
	shaDev, err := g.Push("myorg", "app", "dev", map[string][]byte{"b": []byte("1")}, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := event(); !p.GetCreated() || p.GetForced() || p.GetBefore() != zero {
		t.Errorf("new branch: created=%v forced=%v before=%s, want created, not forced, before 0…", p.GetCreated(), p.GetForced(), p.GetBefore())
	}

	// A tag at dev's head: created, no commits, the commit as head_commit.
	if err := g.PushTag("myorg", "app", "v1", shaDev); err != nil {
		t.Fatal(err)
	}
	p, raw := event()
	if p.GetRef() != "refs/tags/v1" || p.GetBefore() != zero || p.GetAfter() != shaDev || !p.GetCreated() || p.GetDeleted() ||
		p.GetBaseRef() != "refs/heads/dev" || p.GetHeadCommit().GetID() != shaDev || len(raw["commits"].([]any)) != 0 {
		t.Errorf("tag push: ref=%s before=%s after=%s created=%v deleted=%v base_ref=%s head_commit=%s commits=%v",
			p.GetRef(), p.GetBefore(), p.GetAfter(), p.GetCreated(), p.GetDeleted(), p.GetBaseRef(), p.GetHeadCommit().GetID(), raw["commits"])
	}
	if !strings.Contains(refs(), shaDev+"\trefs/tags/v1") || g.Head("myorg", "app", "dev") != shaDev {
		t.Errorf("after the tag: refs\n%s\ndev at %s", refs(), g.Head("myorg", "app", "dev"))
	}

	// A push on top is not forced; one whose parent is not the head is.
	shaOnTop, err := g.Push("myorg", "app", "dev", map[string][]byte{"b": []byte("2")}, "on top")
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := event(); p.GetForced() || p.GetBefore() != shaDev {
		t.Errorf("push on top: forced=%v before=%s", p.GetForced(), p.GetBefore())
	}
	shaForced, err := g.PushWith("myorg", "app", "dev", map[string][]byte{"b": []byte("3")}, "rewritten", fakegithub.PushOptions{Parent: shaMain})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = event()
	if !p.GetForced() || p.GetCreated() || p.GetDeleted() || p.GetBefore() != shaOnTop || p.GetAfter() != shaForced ||
		p.GetHeadCommit().GetID() != shaForced || !slices.Equal(p.GetHeadCommit().Added, []string{"b"}) {
		t.Errorf("force push: forced=%v created=%v before=%s after=%s head_commit=%+v", p.GetForced(), p.GetCreated(), p.GetBefore(), p.GetAfter(), p.GetHeadCommit())
	}
	if parent, err := gitCmd(t, t.TempDir(), "ls-remote", withCreds(t, g.GitURL("myorg", "app"), "x", g.Token), "refs/heads/dev"); err != nil || !strings.HasPrefix(parent, shaForced) {
		t.Errorf("dev after the force push: %q (%v), want %s", parent, err, shaForced)
	}

	// Deleting dev: deleted, after all zeros, no commits, head_commit null.
	if err := g.DeleteBranch("myorg", "app", "dev"); err != nil {
		t.Fatal(err)
	}
	p, raw = event()
	if p.GetRef() != "refs/heads/dev" || !p.GetDeleted() || p.GetCreated() || p.GetForced() || p.GetBefore() != shaForced || p.GetAfter() != zero {
		t.Errorf("deletion: ref=%s deleted=%v created=%v forced=%v before=%s after=%s", p.GetRef(), p.GetDeleted(), p.GetCreated(), p.GetForced(), p.GetBefore(), p.GetAfter())
	}
	if hc, ok := raw["head_commit"]; !ok || hc != nil {
		t.Errorf("deletion: head_commit %v (present %v), want null", hc, ok)
	}
	if c, ok := raw["commits"].([]any); !ok || len(c) != 0 {
		t.Errorf("deletion: commits %v, want []", raw["commits"])
	}
	if strings.Contains(refs(), "refs/heads/dev") || g.Head("myorg", "app", "dev") != "" {
		t.Errorf("dev still listed after its deletion:\n%s", refs())
	}
	if _, _, err := ghClient(t, g, g.Token).Repositories.GetBranch(ctx, "myorg", "app", "dev", 0); err == nil {
		t.Error("the REST API still reports the deleted branch")
	}
	// GitHub refuses to delete the default branch; a missing one is an error.
	for _, b := range []string{"main", "nope"} {
		if err := g.DeleteBranch("myorg", "app", b); err == nil {
			t.Errorf("DeleteBranch(%s) succeeded", b)
		}
	}
	// The branch comes back with the next push to it.
	if _, err := g.Push("myorg", "app", "dev", map[string][]byte{"c": []byte("1")}, "again"); err != nil {
		t.Fatal(err)
	}
	if p, _ := event(); !p.GetCreated() || p.GetBefore() != zero {
		t.Errorf("re-created branch: created=%v before=%s", p.GetCreated(), p.GetBefore())
	}
}

// The runs' branch-head check (render's headStep) asks for a branch's head
// with the sha media type, as go-github's GetCommitSHA1 does: the bare SHA,
// and 422 for a branch that does not exist.
func TestGitHubCommitSHA(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	ctx := context.Background()
	client := ghClient(t, g, g.Token)
	first, err := g.Push("myorg", "app", "main", map[string][]byte{"a": []byte("1")}, "one")
	if err != nil {
		t.Fatal(err)
	}
	second, err := g.Push("myorg", "app", "main", map[string][]byte{"a": []byte("2")}, "two")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"heads/main", "main"} {
		sha, _, err := client.Repositories.GetCommitSHA1(ctx, "myorg", "app", ref, "")
		if err != nil || sha != second {
			t.Errorf("head of %s: %q, %v; want %s (not the first push, %s)", ref, sha, err, second, first)
		}
	}
	if _, resp, err := client.Repositories.GetCommitSHA1(ctx, "myorg", "app", "heads/gone", ""); err == nil || resp.StatusCode != 422 {
		t.Errorf("missing branch: %v, want 422", err)
	}
	if _, resp, err := ghClient(t, g, "wrong").Repositories.GetCommitSHA1(ctx, "myorg", "app", "heads/main", ""); err == nil || resp.StatusCode != 401 {
		t.Errorf("bad token: %v, want 401", err)
	}
}

// TestGitHubHangGit: a hung repository's clones wait until the client
// gives up while its REST API answers; once released, clones work again.
func TestGitHubHangGit(t *testing.T) {
	g := newGitHub(t)
	g.AddRepo("myorg", "app", true)
	sha, err := g.Push("myorg", "app", "main", map[string][]byte{"a": []byte("a")}, "a")
	if err != nil {
		t.Fatal(err)
	}
	g.HangGit("myorg", "app", true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"myorg/app.git/info/refs?service=git-upload-pack", nil)
	req.SetBasicAuth("u", g.Token)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("a hung clone answered %d", resp.StatusCode)
	}
	if n := g.HungGit(); n != 1 {
		t.Errorf("HungGit = %d, want 1", n)
	}
	if b, _, err := ghClient(t, g, g.Token).Repositories.GetBranch(context.Background(), "myorg", "app", "main", 1); err != nil || b.GetCommit().GetSHA() != sha {
		t.Errorf("REST branch head while git hangs: %s (%v), want %s", b.GetCommit().GetSHA(), err, sha)
	}
	g.HangGit("myorg", "app", false)
	if out, err := gitCmd(t, t.TempDir(), "ls-remote", withCreds(t, g.GitURL("myorg", "app"), "u", g.Token), "refs/heads/main"); err != nil || !strings.HasPrefix(out, sha) {
		t.Errorf("ls-remote after the hang: %q (%v), want %s", out, err, sha)
	}
}

package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idpkit/terraform-provider-idp/internal/fakegithub"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// The fake GitHub outside a test's lifecycle: fakegithub.Start leaves the
// environment alone, serves the REST API and pushes, and Close stops it.
func TestStartGitHub(t *testing.T) {
	t.Setenv("GITHUB_BASE_URL", "unchanged")
	gh, err := fakegithub.Start("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GITHUB_BASE_URL") != "unchanged" {
		t.Fatal("fakegithub.Start changed GITHUB_BASE_URL")
	}
	gh.AddRepo(owner, repo, true)
	sha, err := gh.Push(owner, repo, "main", map[string][]byte{"README.md": []byte("hi\n")}, "Initial commit")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, gh.APIURL()+"repos/"+owner+"/"+repo+"/branches/main", nil)
	req.Header.Set("Authorization", "Bearer "+gh.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b struct{ Commit struct{ SHA string } }
	err = json.NewDecoder(resp.Body).Decode(&b)
	resp.Body.Close()
	if err != nil || b.Commit.SHA != sha {
		t.Fatalf("branch main: %+v, %v; want %s", b, err, sha)
	}
	gh.Close()
	if _, err := http.Get(gh.URL); err == nil {
		t.Fatal("the fake GitHub still answers after Close")
	}
}

func TestTestAppRepo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds testapp")
	}
	files, err := stack.TestAppRepo("v1\n")
	if err != nil {
		t.Fatal(err)
	}
	if string(files["version"]) != "v1\n" || len(files["testapp"]) == 0 || !strings.Contains(string(files["Dockerfile"]), "FROM scratch") {
		t.Fatalf("unexpected files: version %q, testapp %d bytes", files["version"], len(files["testapp"]))
	}
}

// prepare copies the example, writes the override, and leaves the database
// out exactly when the mirror lacks its image.
func TestPrepare(t *testing.T) {
	for _, has := range []bool{true, false} {
		mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if has && r.Method == http.MethodHead && r.URL.Path == "/v2/library/redis/manifests/7.0" {
				return
			}
			http.NotFound(w, r)
		}))
		t.Setenv("IDP_STACK_MIRROR_HOST", strings.TrimPrefix(mirror.URL, "http://"))
		d := &demo{dir: t.TempDir()}
		if err := d.prepare(context.Background(), "../../examples/quickstart"); err != nil {
			t.Fatal(err)
		}
		mirror.Close()
		if has != (d.targets == nil) {
			t.Errorf("mirror has image %v: targets %v", has, d.targets)
		}
		tf, err := os.ReadFile(filepath.Join(d.dir, "main.tf"))
		if err != nil {
			t.Fatal(err)
		}
		// The override merges into what the example declares.
		for _, want := range []string{`resource "idp_project" "shop"`, `resource "idp_application" "api"`,
			`resource "idp_database" "cache"`, `type    = "redis"`, `version = "7.0"`, `"api.shop.local"`} {
			if !strings.Contains(string(tf), want) {
				t.Errorf("examples/quickstart/main.tf no longer has %s: update scripts/demo's constants", want)
			}
		}
		o, err := os.ReadFile(filepath.Join(d.dir, overrideFile))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(o), "idp-node") || !strings.Contains(string(o), `repo   = "shop-api"`) {
			t.Errorf("override:\n%s", o)
		}
	}
}

// A push webhook that a receiver refuses at first (a route Traefik does
// not serve yet) is delivered again, signed the same, until it answers 200.
func TestDeliveredRedelivers(t *testing.T) {
	var calls, pushes atomic.Int32
	var sigs []string
	var mu sync.Mutex
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-GitHub-Event") != "push" {
			return
		}
		pushes.Add(1)
		mu.Lock()
		sigs = append(sigs, r.Header.Get("X-Hub-Signature-256"))
		mu.Unlock()
		if calls.Add(1) == 1 {
			http.Error(w, "no available server", http.StatusServiceUnavailable)
		}
	}))
	defer recv.Close()
	gh, err := fakegithub.Start("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer gh.Close()
	gh.AddRepo(owner, repo, true)
	body := `{"name":"web","active":true,"events":["push"],"config":{"url":"` + recv.URL + `","content_type":"json","secret":"s3cret"}}`
	req, _ := http.NewRequest(http.MethodPost, gh.APIURL()+"repos/"+owner+"/"+repo+"/hooks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+gh.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating hook: %v %v", resp, err)
	}
	resp.Body.Close()
	sha, err := gh.Push(owner, repo, "main", map[string][]byte{"a": []byte("a")}, "a")
	if err != nil {
		t.Fatal(err)
	}
	d := &demo{gh: gh, start: time.Now()}
	if err := d.delivered(context.Background(), sha, time.Now()); err != nil {
		t.Fatal(err)
	}
	if pushes.Load() != 2 || sigs[0] == "" || sigs[0] != sigs[1] {
		t.Fatalf("%d push deliveries, signatures %q", pushes.Load(), sigs)
	}
}

package main

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/bcrypt"
)

// testEnv is an Env whose tools are small fake binaries in a temp dir.
func testEnv(t *testing.T, tools map[string][]string) (*Env, string) {
	t.Helper()
	bin := t.TempDir()
	env := &Env{Root: t.TempDir(), Cache: t.TempDir(), ToolDirs: map[string]string{}}
	env.hashes = loadHashCache(filepath.Join(env.Cache, "hashes.json"))
	for tool, bins := range tools {
		d := filepath.Join(bin, tool)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, b := range bins {
			writeFile(t, filepath.Join(d, b), "#!fake "+tool+"/"+b+"\n", 0o700)
		}
		env.ToolDirs[tool] = d
	}
	env.PausePath = filepath.Join(bin, "pause")
	writeFile(t, env.PausePath, "fake pause\n", 0o755)
	return env, bin
}

func writeFile(t *testing.T, p, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func build(t *testing.T, env *Env, im Image) (v1.Image, bool) {
	t.Helper()
	r, err := env.resolve(im)
	if err != nil {
		t.Fatal(err)
	}
	img, built, err := env.image(r)
	if err != nil {
		t.Fatal(err)
	}
	return img, built
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type tarEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Link     string
	Content  string
	ModTime  time.Time
}

func layerEntries(t *testing.T, img v1.Image) ([]string, map[string]tarEntry) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 1 {
		t.Fatalf("%d layers, want 1", len(ls))
	}
	if mt, _ := ls[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	m := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		names = append(names, h.Name)
		m[h.Name] = tarEntry{h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, string(b), h.ModTime}
	}
	return names, m
}

var testImage = Image{
	Short: "test",
	Name:  "quay.io/example/thing:v1.2.3",
	Files: []File{
		{Path: "/bin/thing", Mode: 0o755, Src: Source{Tool: "thing", Version: "v1.2.3", Bin: "thing"}},
		{Path: "/etc/thing.conf", Src: Source{Data: []byte("a = 1\n")}},
		{Path: "/tmp", Mode: dir | 0o1777},
		{Path: "/home/user", Mode: dir | 0o700, UID: 1000, GID: 1000},
		{Path: "/pause", Mode: 0o755, Src: Source{Pause: true}},
	},
	Config: Config{
		Entrypoint:   []string{"thing"},
		Cmd:          []string{"--serve"},
		Env:          []string{"PATH=/bin", "A=b"},
		User:         "1000:1000",
		WorkingDir:   "/home/user",
		ExposedPorts: []string{"8080/tcp"},
	},
}

func TestBuildDeterministic(t *testing.T) {
	env, _ := testEnv(t, map[string][]string{"thing": {"thing"}})
	img1, built := build(t, env, testImage)
	if !built {
		t.Fatal("first build reported cached")
	}
	d1 := digest(t, img1)

	// Same inputs, fresh cache (and fresh hash cache): same digest.
	env2 := *env
	env2.Cache = t.TempDir()
	env2.hashes = loadHashCache(filepath.Join(env2.Cache, "hashes.json"))
	img2, built := build(t, &env2, testImage)
	if !built {
		t.Fatal("build in a new cache reported cached")
	}
	if d2 := digest(t, img2); d2 != d1 {
		t.Fatalf("digests differ: %s vs %s", d1, d2)
	}

	// Same cache: taken from the cache, even after touching the input
	// (new mtime, same content).
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(env.ToolDirs["thing"], "thing"), later, later); err != nil {
		t.Fatal(err)
	}
	env.hashes = loadHashCache(filepath.Join(env.Cache, "hashes.json"))
	img3, built := build(t, env, testImage)
	if built {
		t.Error("unchanged inputs were rebuilt")
	}
	if d3 := digest(t, img3); d3 != d1 {
		t.Fatalf("cached digest %s, want %s", d3, d1)
	}

	// Changed content: rebuilt, new digest, the old cache entry removed.
	writeFile(t, filepath.Join(env.ToolDirs["thing"], "thing"), "#!fake v2\n", 0o700)
	img4, built := build(t, env, testImage)
	if !built || digest(t, img4) == d1 {
		t.Fatalf("changed input: built=%v digest %s", built, digest(t, img4))
	}
	ents, _ := os.ReadDir(filepath.Join(env.Cache, slug(testImage.Name)))
	if len(ents) != 1 {
		t.Errorf("%d cache entries for the image, want 1", len(ents))
	}
}

func TestBuildContents(t *testing.T) {
	env, _ := testEnv(t, map[string][]string{"thing": {"thing"}})
	img, _ := build(t, env, testImage)

	names, m := layerEntries(t, img)
	want := []string{"bin/", "bin/thing", "etc/", "etc/thing.conf", "home/", "home/user/", "pause", "tmp/"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	if !sort.StringsAreSorted(names) {
		t.Error("entries not sorted")
	}
	check := func(name string, typ byte, mode int64, uid int) {
		t.Helper()
		e := m[name]
		if e.Type != typ || e.Mode != mode || e.UID != uid || e.GID != uid {
			t.Errorf("%s: type %c mode %o uid %d gid %d, want %c %o %d", name, e.Type, e.Mode, e.UID, e.GID, typ, mode, uid)
		}
		if !e.ModTime.Equal(epoch) {
			t.Errorf("%s: mtime %v", name, e.ModTime)
		}
	}
	check("bin/", tar.TypeDir, 0o755, 0)
	check("bin/thing", tar.TypeReg, 0o755, 0) // the table's mode, not the file's 0700
	check("etc/thing.conf", tar.TypeReg, 0o644, 0)
	check("tmp/", tar.TypeDir, 0o1777, 0)
	check("home/user/", tar.TypeDir, 0o700, 1000)
	check("pause", tar.TypeReg, 0o755, 0)
	if got := m["bin/thing"].Content; got != "#!fake thing/thing\n" {
		t.Errorf("bin/thing content %q", got)
	}
	if got := m["etc/thing.conf"].Content; got != "a = 1\n" {
		t.Errorf("etc/thing.conf content %q", got)
	}

	mt, _ := img.MediaType()
	if mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s", mt)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if !reflect.DeepEqual(c.Entrypoint, []string{"thing"}) || !reflect.DeepEqual(c.Cmd, []string{"--serve"}) ||
		!reflect.DeepEqual(c.Env, []string{"PATH=/bin", "A=b"}) || c.User != "1000:1000" || c.WorkingDir != "/home/user" {
		t.Errorf("config %+v", c)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if cf.OS != "linux" || cf.Architecture == "" || !cf.Created.Time.Equal(epoch) {
		t.Errorf("config os %q arch %q created %v", cf.OS, cf.Architecture, cf.Created)
	}
	if len(cf.RootFS.DiffIDs) != 1 {
		t.Errorf("diff ids %v", cf.RootFS.DiffIDs)
	}
}

func TestHostDirSymlinks(t *testing.T) {
	env, bin := testEnv(t, nil)
	src := filepath.Join(bin, "zoneinfo")
	if err := os.MkdirAll(filepath.Join(src, "Europe"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "Europe", "Paris"), "TZif", 0o644)
	if err := os.Symlink("Europe/Paris", filepath.Join(src, "CET")); err != nil {
		t.Fatal(err)
	}
	im := Image{Short: "z", Name: "example.com/z:1", Files: []File{
		{Path: "/usr/share/zoneinfo", Src: Source{Host: src}},
		{Path: "/nothing", Src: Source{Host: filepath.Join(bin, "absent"), Optional: true}},
	}}
	img, _ := build(t, env, im)
	names, m := layerEntries(t, img)
	want := []string{"usr/", "usr/share/", "usr/share/zoneinfo/", "usr/share/zoneinfo/CET", "usr/share/zoneinfo/Europe/", "usr/share/zoneinfo/Europe/Paris"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	if e := m["usr/share/zoneinfo/CET"]; e.Type != tar.TypeSymlink || e.Link != "Europe/Paris" {
		t.Errorf("CET: %+v", e)
	}

	// A required host file that is missing is an error that says so.
	im.Files[1].Src.Optional = false
	im.Files[1].Src.Hint = "install it"
	if _, err := env.resolve(im); err == nil || !strings.Contains(err.Error(), "install it") {
		t.Errorf("missing host file: %v", err)
	}
}

func TestMissingTool(t *testing.T) {
	env, _ := testEnv(t, map[string][]string{"thing": {}})
	_, err := env.resolve(testImage)
	var me *missingError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "scripts/tools.sh thing") {
		t.Fatalf("error %v, want one naming `scripts/tools.sh thing`", err)
	}
}

func TestToolVersionMismatch(t *testing.T) {
	env, bin := testEnv(t, nil)
	d := filepath.Join(bin, "thing-v9.9.9")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(d, "thing"), "x", 0o755)
	env.toolCache = map[string]string{"thing": d}
	_, err := env.resolve(testImage)
	if err == nil || !strings.Contains(err.Error(), "v9.9.9") {
		t.Fatalf("error %v, want a version mismatch", err)
	}
	env.toolCache["thing"] = filepath.Join(bin, "thing-v1.2.3")
	if err := os.Rename(d, env.toolCache["thing"]); err != nil {
		t.Fatal(err)
	}
	if _, err := env.resolve(testImage); err != nil {
		t.Fatal(err)
	}
}

// TestTable builds every image of the table from fake binaries.
func TestTable(t *testing.T) {
	tools := map[string][]string{}
	shorts := map[string]bool{}
	for _, im := range Images() {
		if shorts[im.Short] {
			t.Errorf("short name %s twice", im.Short)
		}
		shorts[im.Short] = true
		for _, f := range im.Files {
			if f.Src.Tool != "" {
				tools[f.Src.Tool] = append(tools[f.Src.Tool], f.Src.Bin)
			}
		}
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err != nil {
		t.Skip("no CA certificates on this host")
	}
	env, _ := testEnv(t, tools)
	// Debian trees: a stand-in with one file (apt is not asked in tests).
	fake := t.TempDir()
	writeFile(t, filepath.Join(fake, "usr-file"), "fake Debian tree\n", 0o644)
	env.DebianDirs = map[string]string{}
	for _, im := range Images() {
		for _, f := range im.Files {
			if f.Src.Debian != nil {
				env.DebianDirs[im.Short] = fake
			}
		}
	}
	for _, im := range Images() {
		img, _ := build(t, env, im)
		names, m := layerEntries(t, img)
		if env.DebianDirs[im.Short] != "" {
			if _, ok := m["usr-file"]; !ok {
				t.Errorf("%s: no Debian tree in %q", im.Name, names)
			}
		}
		for _, f := range im.Files {
			if f.Src.Debian != nil {
				continue
			}
			n := strings.TrimPrefix(f.Path, "/")
			if f.Mode&fs.ModeDir != 0 || f.Src.Host == "/usr/share/zoneinfo" {
				n += "/"
			}
			if _, ok := m[n]; !ok && !(f.Src.Optional) {
				t.Errorf("%s: no %s in %q", im.Name, n, names)
			}
		}
	}
}

func TestMirrorRef(t *testing.T) {
	for up, want := range map[string]string{
		"registry.k8s.io/pause:3.10":             "10.200.0.1:5001/pause:3.10",
		"quay.io/argoproj/argoexec:v3.7.3":       "10.200.0.1:5001/argoproj/argoexec:v3.7.3",
		"nats-streaming:0.25.6":                  "10.200.0.1:5001/library/nats-streaming:0.25.6",
		"docker.io/library/nats-streaming:0.1":   "10.200.0.1:5001/library/nats-streaming:0.1",
		"gcr.io/kaniko-project/executor:v1.23.2": "10.200.0.1:5001/kaniko-project/executor:v1.23.2",
	} {
		ref, err := mirrorRef("10.200.0.1:5001", up)
		if err != nil {
			t.Fatal(err)
		}
		if ref.String() != want {
			t.Errorf("%s -> %s, want %s", up, ref, want)
		}
		if ref.Context().Scheme() != "http" {
			t.Errorf("%s: scheme %s", ref, ref.Context().Scheme())
		}
	}
	for _, im := range Images() {
		if _, err := mirrorRef("localhost:5000", im.Name); err != nil {
			t.Errorf("%s: %v", im.Name, err)
		}
	}
}

func TestSelectImages(t *testing.T) {
	for _, want := range []string{"argoexec", "quay.io/argoproj/argoexec:v3.7.3", "argoproj/argoexec", "argoproj/argoexec:v3.7.3"} {
		got, err := selectImages(Images(), want)
		if err != nil || len(got) != 1 || got[0].Short != "argoexec" {
			t.Errorf("--only %s: %v %v", want, got, err)
		}
	}
	if _, err := selectImages(Images(), "nope"); err == nil {
		t.Error("--only nope: no error")
	}
}

// TestPush pushes to an in-memory registry: pushed, then present.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	env, _ := testEnv(t, map[string][]string{"thing": {"thing"}})
	img, _ := build(t, env, testImage)
	ctx := context.Background()
	p := newPusher(ctx, host)
	if err := p.wait(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	pushed, ref, err := p.push(testImage.Name, img)
	if err != nil || !pushed {
		t.Fatalf("first push: pushed=%v err=%v", pushed, err)
	}
	if want := host + "/example/thing:v1.2.3"; ref.String() != want {
		t.Errorf("pushed to %s, want %s", ref, want)
	}
	pushed, _, err = p.push(testImage.Name, img)
	if err != nil || pushed {
		t.Fatalf("second push: pushed=%v err=%v", pushed, err)
	}
	got, err := remote.Image(ref, remote.WithAuth(authn.Anonymous))
	if err != nil {
		t.Fatal(err)
	}
	if digest(t, got) != digest(t, img) {
		t.Errorf("registry digest %s, want %s", digest(t, got), digest(t, img))
	}
	_, m := layerEntries(t, got)
	if m["bin/thing"].Content != "#!fake thing/thing\n" {
		t.Errorf("pulled bin/thing: %q", m["bin/thing"].Content)
	}
}

func TestHtpasswd(t *testing.T) {
	f := filepath.Join(t.TempDir(), "sub", "htpasswd")
	if err := htpasswdCmd([]string{"idp", "s3cret", f}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	user, hash, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user != "idp" {
		t.Fatalf("htpasswd %q", b)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret")); err != nil {
		t.Error(err)
	}
	if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", st.Mode().Perm())
	}
	if err := htpasswdCmd([]string{"a:b", "x", f}); err == nil {
		t.Error("user with a colon accepted")
	}
}

func TestControllerConfig(t *testing.T) {
	c := argoEventsControllerConfig(Images())
	for _, want := range []string{"version: 0.22.1", "natsStreamingImage: nats-streaming:0.25.6", "metricsExporterImage: natsio/prometheus-nats-exporter:0.12.0", "jetstream:",
		"natsImage: nats:2.9.10", "configReloaderImage: idpkit/nats-config-reloader:1.35"} {
		if !strings.Contains(c, want) {
			t.Errorf("controller config lacks %q:\n%s", want, c)
		}
	}
}

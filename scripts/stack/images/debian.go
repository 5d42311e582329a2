package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

// Debian is a root filesystem made of Debian packages from the host's apt
// sources (bookworm): the packages, the closure of their Depends and
// Pre-Depends (first alternative; a virtual package's first provider)
// without Exclude and what only Exclude needs, each unpacked with
// `dpkg-deb -x` (no maintainer scripts run), minus Drop. The image's cache
// key holds every file's hash, so the same .deb files give the same digest.
//
// The unpacked tree is kept under <cache>/debian, keyed by this spec: a
// warm run does not ask apt anything (so it keeps the versions it first
// resolved; delete the directory to pick up Debian updates).
type Debian struct {
	Packages []string
	// VersionPrefix: the first package's Debian version must start with
	// it, so an image tag never names another version than it holds.
	VersionPrefix string
	Exclude       []string
	// Drop: paths (relative, no leading slash) removed after unpacking.
	Drop []string
}

// debianDrop is dropped from every Debian root: documentation.
var debianDrop = []string{"usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/lintian", "usr/share/bug",
	"usr/share/doc-base", "usr/share/bash-completion"}

// debianExclude is what a container never needs from a package's
// dependencies: package management, maintainer-script helpers, init
// systems, perl (only Debian's wrapper scripts use it), PAM and accounts.
var debianExclude = []string{
	"adduser", "debconf", "cdebconf", "dpkg", "install-info", "init-system-helpers", "lsb-base", "sysvinit-utils",
	"usrmerge", "usr-is-merged", "tar", "passwd", "ucf", "sensible-utils", "debianutils", "libc-bin",
	"perl", "perl-base", "perl-modules-5.36", "libperl5.36",
	"libpam-modules", "libpam-modules-bin", "libpam-runtime", "login",
	"systemd", "systemd-sysv", "base-passwd", "base-files",
}

var aptMu sync.Mutex

// debianRoot is the unpacked root of d for image img: from --debian,
// from the cache, or built now.
func (e *Env) debianRoot(img Image, d *Debian) (string, error) {
	if dir, ok := e.DebianDirs[img.Short]; ok {
		return dir, nil
	}
	spec, err := json.Marshal(struct {
		Format, Arch string
		D            *Debian
		Exclude      []string
		Drop         []string
	}{cacheFormat, runtime.GOARCH, d, debianExclude, debianDrop})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(spec)
	base := filepath.Join(e.Cache, "debian")
	dir := filepath.Join(base, img.Short+"-"+hex.EncodeToString(sum[:])[:16])
	root := filepath.Join(dir, "root")
	if _, err := os.Stat(filepath.Join(dir, "packages.txt")); err == nil {
		return root, nil
	}
	aptMu.Lock()
	defer aptMu.Unlock()
	debs, err := debianClosure(d)
	if err != nil {
		return "", fmt.Errorf("%s: %w", img.Name, err)
	}
	if v := debs[0].Version; !strings.HasPrefix(v, d.VersionPrefix) {
		return "", fmt.Errorf("%s holds %s %s, not %s*: update the image table in scripts/stack/images/table.go",
			img.Name, debs[0].Name, v, d.VersionPrefix)
	}
	pool := filepath.Join(base, "debs")
	if err := os.MkdirAll(pool, 0o755); err != nil {
		return "", err
	}
	var fetch []string
	for _, p := range debs {
		if _, err := os.Stat(filepath.Join(pool, p.File)); err != nil {
			fetch = append(fetch, p.Name+"="+p.Version)
		}
	}
	if len(fetch) > 0 {
		cmd := exec.Command("apt-get", append([]string{"download", "-q"}, fetch...)...)
		cmd.Dir = pool
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: apt-get download: %v\n%s", img.Name, err, out)
		}
	}
	tmp, err := os.MkdirTemp(base, ".tmp-"+img.Short+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	var list strings.Builder
	for _, p := range debs {
		out, err := exec.Command("dpkg-deb", "-x", filepath.Join(pool, p.File), filepath.Join(tmp, "root")).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: dpkg-deb -x %s: %v\n%s", img.Name, p.File, err, out)
		}
		fmt.Fprintf(&list, "%s %s\n", p.Name, p.Version)
	}
	for _, p := range append(append([]string(nil), debianDrop...), d.Drop...) {
		if err := os.RemoveAll(filepath.Join(tmp, "root", p)); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "packages.txt"), []byte(list.String()), 0o644); err != nil {
		return "", err
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	// Keep only the newest root of each image.
	if olds, err := filepath.Glob(filepath.Join(base, img.Short+"-*")); err == nil {
		for _, o := range olds {
			if o != dir {
				os.RemoveAll(o)
			}
		}
	}
	return root, nil
}

type debPackage struct{ Name, Version, File string }

// debianClosure resolves d's packages to the .deb files apt would install
// (candidates), roots first, then by name. apt-get update runs once when
// the host's package lists lack a package.
func debianClosure(d *Debian) ([]debPackage, error) {
	names, err := debianNames(d)
	if err != nil {
		if _, uerr := exec.Command("apt-get", "update", "-q").CombinedOutput(); uerr != nil {
			return nil, err
		}
		if names, err = debianNames(d); err != nil {
			return nil, err
		}
	}
	out, err := exec.Command("apt-get", append([]string{"download", "--print-uris", "-q"}, names...)...).Output()
	if err != nil {
		return nil, fmt.Errorf("apt-get download --print-uris %s: %v", strings.Join(names, " "), stderrOf(err))
	}
	byName := map[string]debPackage{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		// 'http://.../redis-server_5%3a7.0.15-1~deb12u7_amd64.deb' redis-server_5%3a7.0.15-1~deb12u7_amd64.deb 123 SHA256:...
		f := strings.Fields(sc.Text())
		if len(f) < 2 || !strings.HasSuffix(f[1], ".deb") {
			continue
		}
		parts := strings.Split(strings.TrimSuffix(f[1], ".deb"), "_")
		if len(parts) != 3 {
			return nil, fmt.Errorf("unexpected .deb name %q", f[1])
		}
		v, err := url.PathUnescape(parts[1])
		if err != nil {
			return nil, err
		}
		byName[parts[0]] = debPackage{Name: parts[0], Version: v, File: f[1]}
	}
	var debs []debPackage
	for _, n := range names {
		p, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("apt-get download --print-uris gave no file for %s", n)
		}
		debs = append(debs, p)
	}
	return debs, nil
}

// debianNames is the closure of d's packages' dependencies: d.Packages in
// order, then the rest sorted.
func debianNames(d *Debian) ([]string, error) {
	skip := map[string]bool{}
	for _, x := range append(append([]string(nil), debianExclude...), d.Exclude...) {
		skip[x] = true
	}
	seen := map[string]bool{}
	var rest []string
	queue := append([]string(nil), d.Packages...)
	for _, p := range d.Packages {
		seen[p] = true
	}
	for len(queue) > 0 {
		batch := queue
		queue = nil
		out, err := exec.Command("apt-cache", append([]string{"depends", "--important", "--no-recommends", "--no-suggests",
			"--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"}, batch...)...).Output()
		if err != nil {
			return nil, fmt.Errorf("apt-cache depends %s: %v", strings.Join(batch, " "), stderrOf(err))
		}
		for _, dep := range parseDepends(string(out)) {
			if seen[dep] || skip[dep] {
				continue
			}
			seen[dep] = true
			rest = append(rest, dep)
			queue = append(queue, dep)
		}
	}
	sort.Strings(rest)
	return append(append([]string(nil), d.Packages...), rest...), nil
}

// parseDepends reads `apt-cache depends --important` output: of each
// alternative group ("|Depends: a", "Depends: b") the first member; of a
// virtual package ("Depends: <x>" followed by indented providers) its
// first provider.
func parseDepends(out string) []string {
	var deps []string
	inGroup, wantProvider := false, false
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "    "): // a provider of the virtual package above
			if wantProvider {
				deps = append(deps, strings.Fields(line)[0])
				wantProvider = false
			}
		case strings.HasPrefix(line, "  ") || strings.HasPrefix(line, " |"):
			wantProvider = false
			alt := strings.HasPrefix(line, " |")
			_, dep, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, " |")), ": ")
			if !ok {
				continue
			}
			first := !inGroup
			inGroup = alt
			if !first {
				continue
			}
			if strings.HasPrefix(dep, "<") {
				wantProvider = true
				continue
			}
			deps = append(deps, dep)
		default:
			inGroup, wantProvider = false, false
		}
	}
	return deps
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return err.Error() + ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return err.Error()
}

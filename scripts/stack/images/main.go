// Command images builds the local stack's container images from local
// files and pushes them to the stack's mirror registry; it also writes the
// builds registry's htpasswd file.
//
// Every image is a single-layer OCI image (see table.go for the list) made of
// static Go binaries built by scripts/tools.sh, the pause binary of
// scripts/stack/pause and a few small files; the database images (redis,
// postgres, mysql) are Debian packages unpacked with dpkg-deb (debian.go,
// debian_images.go) plus an entrypoint. Builds are deterministic (fixed
// timestamps, sorted entries, fixed gzip level), so the same inputs give the
// same digest. Built images are kept as OCI layouts under --cache, keyed by
// the sha256 of every input (hashes remembered by size, mtime and inode), so
// a warm run neither hashes nor gzips the big binaries again. An image is
// pushed only when the registry does not have its digest under its tag.
//
// Images are pushed under their canonical repository path, without the
// upstream host: registry.k8s.io/pause:3.10 -> <registry>/pause:3.10,
// quay.io/argoproj/argoexec:v3.7.3 -> <registry>/argoproj/argoexec:v3.7.3,
// docker.io/library/nats-streaming:0.25.6 -> <registry>/library/nats-streaming:0.25.6.
// containerd uses the registry as the mirror of those upstream hosts.
//
// Usage (from the repository root):
//
//	go run ./scripts/stack/images [flags]          build what is missing, push with --registry
//	go run ./scripts/stack/images --list           the images and their inputs; builds nothing
//	go run ./scripts/stack/images controller-config
//	                                               the argo-events controller-config.yaml for them
//	go run ./scripts/stack/images htpasswd <user> <password|-> <file>
//	                                               write an htpasswd file (bcrypt; "-": password from stdin)
//
// Flags:
//
//	--registry host:port  push to this registry over plain HTTP (waits up to --wait for it to answer)
//	--cache dir           image cache (default ${IDP_CACHE_DIR:-~/.cache/terraform-provider-idp}/images)
//	--only a,b            only these images: short name (pause, argoexec, argo-events, nats-streaming,
//	                      nats-exporter, nats, nats-reloader, kaniko, redis, postgres, mysql), upstream name or repository path
//	--tool tool=dir       take a tool's binaries from dir instead of `scripts/tools.sh --path tool`
//	--root dir            repository root (default: found from the working directory)
//
// Output: one line per image: short name, digest, what happened
// (built|cached, pushed|present), seconds, upstream name -> pushed reference.
// Missing inputs are errors naming the tool and `scripts/tools.sh <tool>`;
// the other images are still done, and the exit status is 1.
//
// How stack-up calls it (mirror registry on 10.200.0.1:5001, see
// scripts/stack/registry/mirror.yml), after the tools are built and the
// mirror registry is started:
//
//	go build -o "$STACK/bin/images" ./scripts/stack/images   # or go run
//	"$STACK/bin/images" --root "$ROOT" --registry 10.200.0.1:5001
//
// (--root is needed when the working directory is outside the repository;
// `go` must be in PATH: the pause binary is built with it, ~0.3 s when
// cached) and, before starting the builds registry
// (scripts/stack/registry/builds.yml), without the password in argv:
//
//	printf '%s\n' "$password" | "$STACK/bin/images" htpasswd idp - "$STACK/registry/htpasswd"
//
// The argo-events controller's /etc/argo-events/controller-config.yaml can be
// written with `images controller-config`.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Env is what building needs besides the image table.
type Env struct {
	Root     string            // repository root (scripts/tools.sh, scripts/stack/pause)
	Cache    string            // image cache dir
	ToolDirs map[string]string // --tool overrides
	// DebianDirs: an image's (by short name) Debian tree instead of
	// building it from packages (tests).
	DebianDirs map[string]string
	PausePath  string // the pause binary; built on first use when empty

	hashes    *hashCache
	toolCache map[string]string
}

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "htpasswd":
			if err := htpasswdCmd(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, "images htpasswd:", err)
				os.Exit(1)
			}
			return
		case "controller-config":
			fmt.Print(argoEventsControllerConfig(Images()))
			return
		}
	}
	os.Exit(run())
}

type toolFlag map[string]string

func (t toolFlag) String() string { return fmt.Sprint(map[string]string(t)) }
func (t toolFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return errors.New("want tool=dir")
	}
	t[k] = v
	return nil
}

func run() int {
	registry := flag.String("registry", "", "push to this registry (host:port, plain HTTP)")
	cache := flag.String("cache", "", "image cache dir")
	only := flag.String("only", "", "comma-separated images to handle")
	list := flag.Bool("list", false, "list the images and their inputs, build nothing")
	root := flag.String("root", "", "repository root")
	wait := flag.Duration("wait", 15*time.Second, "how long to wait for the registry to answer")
	tools := toolFlag{}
	flag.Var(tools, "tool", "tool=dir: take the tool's binaries from dir (repeatable)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: images [--registry host:port] [--cache dir] [--only names] [--tool tool=dir] [--list]\n"+
			"       images controller-config\n       images htpasswd <user> <password|-> <file>")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		return 2
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "images:", err); return 1 }

	var err error
	if *root == "" {
		if *root, err = findRoot(); err != nil {
			return fail(err)
		}
	}
	if *cache == "" {
		base := os.Getenv("IDP_CACHE_DIR")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return fail(err)
			}
			base = filepath.Join(home, ".cache", "terraform-provider-idp")
		}
		*cache = filepath.Join(base, "images")
	}
	imgs, err := selectImages(Images(), *only)
	if err != nil {
		return fail(err)
	}
	env := &Env{Root: *root, Cache: *cache, ToolDirs: tools}
	if *list {
		env.list(imgs, *registry)
		return 0
	}

	if err := os.MkdirAll(*cache, 0o755); err != nil {
		return fail(err)
	}
	unlock, err := lock(filepath.Join(*cache, ".lock"))
	if err != nil {
		return fail(err)
	}
	defer unlock()
	env.hashes = loadHashCache(filepath.Join(*cache, "hashes.json"))
	defer func() {
		if err := env.hashes.save(); err != nil {
			fmt.Fprintln(os.Stderr, "images: saving the hash cache:", err)
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var p *pusher
	if *registry != "" {
		p = newPusher(ctx, *registry)
		if err := p.wait(ctx, *wait); err != nil {
			return fail(err)
		}
	}
	status := 0
	for _, im := range imgs {
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if err := env.do(im, p); err != nil {
			fmt.Fprintf(os.Stderr, "images: %s: %v\n", im.Short, err)
			status = 1
		}
	}
	return status
}

// do builds (or takes from the cache) and pushes one image, printing its line.
func (e *Env) do(im Image, p *pusher) error {
	start := time.Now()
	r, err := e.resolve(im)
	if err != nil {
		return err
	}
	for _, n := range r.notes {
		fmt.Fprintf(os.Stderr, "images: %s: %s\n", im.Short, n)
	}
	img, built, err := e.image(r)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	what := "cached"
	if built {
		what = "built"
	}
	dest := "(not pushed)"
	if p != nil {
		pushed, ref, err := p.push(im.Name, img)
		if err != nil {
			return err
		}
		dest = ref.String()
		if pushed {
			what += ",pushed"
		} else {
			what += ",present"
		}
	}
	fmt.Printf("%-14s %s %-14s %6.1fs  %s -> %s\n", im.Short, digest, what, time.Since(start).Seconds(), im.Name, dest)
	return nil
}

// list prints each image, where it goes and whether its inputs are there.
func (e *Env) list(imgs []Image, registry string) {
	for _, im := range imgs {
		dest := "?"
		if registry == "" {
			if ref, err := mirrorRef("registry.invalid", im.Name); err == nil {
				dest = "<registry>" + strings.TrimPrefix(ref.String(), "registry.invalid")
			}
		} else if ref, err := mirrorRef(registry, im.Name); err == nil {
			dest = ref.String()
		}
		fmt.Printf("%s\n  %s -> %s\n  entrypoint %q", im.Short, im.Name, dest, im.Config.Entrypoint)
		if len(im.Config.Cmd) > 0 {
			fmt.Printf(" cmd %q", im.Config.Cmd)
		}
		fmt.Println()
		for _, f := range im.Files {
			src := f.Src
			var what string
			switch {
			case src.Tool != "":
				p, err := e.toolBinary(im, src)
				if err != nil {
					what = "MISSING: " + err.Error()
				} else {
					what = "tool " + src.Tool + " " + src.Version + ": " + p
				}
			case src.Pause:
				what = "scripts/stack/pause"
			case src.Host != "":
				what = "host " + src.Host
				if _, err := os.Stat(src.Host); err != nil {
					if src.Optional {
						what += " (missing, optional)"
					} else {
						what += " (MISSING)"
					}
				}
			case src.Data != nil:
				what = "embedded"
			case src.Link != "":
				what = "symlink to " + src.Link
			case src.Debian != nil:
				what = "Debian packages " + strings.Join(src.Debian.Packages, " ") + " and their dependencies"
			default:
				what = "directory"
			}
			fmt.Printf("  %-40s %s\n", f.Path, what)
		}
	}
}

func selectImages(all []Image, only string) ([]Image, error) {
	if only == "" {
		return all, nil
	}
	var out []Image
	for _, want := range strings.Split(only, ",") {
		want = strings.TrimSpace(want)
		found := false
		for _, im := range all {
			ref, err := mirrorRef("registry.invalid", im.Name)
			repo := ""
			if err == nil {
				repo = ref.Context().RepositoryStr()
			}
			if want == im.Short || want == im.Name || want == repo || (err == nil && want == repo+":"+ref.Identifier()) {
				out = append(out, im)
				found = true
				break
			}
		}
		if !found {
			var names []string
			for _, im := range all {
				names = append(names, im.Short)
			}
			return nil, fmt.Errorf("no image %q (images: %s)", want, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// findRoot walks up from the working directory to the directory holding
// scripts/tools.sh.
func findRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "scripts", "tools.sh")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("cannot find the repository root (scripts/tools.sh): run from the repository or pass --root")
		}
		d = parent
	}
}

func lock(p string) (func(), error) {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// argoEventsControllerConfig is the argo-events controller's
// controller-config.yaml (the controller reads
// /etc/argo-events/controller-config.yaml) pointing the EventBus at the
// images built here. argo-events v1.9.11 always asks for STAN version
// "0.22.1" (installer/nats.go defaultSTANVersion), whatever the server's
// real version. The JetStream version is "latest", the name every
// upstream install has, which the provider's EventBus asks for.
func argoEventsControllerConfig(imgs []Image) string {
	short := func(s string) string {
		for _, im := range imgs {
			if im.Short == s {
				n := strings.TrimPrefix(im.Name, "docker.io/")
				return strings.TrimPrefix(n, "library/")
			}
		}
		panic("no image " + s)
	}
	return `eventBus:
  nats:
    versions:
    - version: 0.22.1
      natsStreamingImage: ` + short("nats-streaming") + `
      metricsExporterImage: ` + short("nats-exporter") + `
  jetstream:
    versions:
    - version: latest
      natsImage: ` + short("nats") + `
      metricsExporterImage: ` + short("nats-exporter") + `
      configReloaderImage: ` + short("nats-reloader") + `
      startCommand: /nats-server
`
}

// htpasswdCmd writes "<user>:<bcrypt hash>" to file (mode 0600). The bcrypt
// cost is the minimum: distribution checks the password on every request,
// and at the default cost that is ~50 ms of CPU each; this is a test stack.
func htpasswdCmd(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: images htpasswd <user> <password|-> <file>")
	}
	user, password, file := args[0], args[1], args[2]
	if user == "" || strings.ContainsAny(user, ":\n") {
		return fmt.Errorf("bad user name %q", user)
	}
	if password == "-" {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		return errors.New("empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(user+":"+string(h)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

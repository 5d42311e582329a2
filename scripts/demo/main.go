// Command demo is `make demo` once the stack is up (scripts/demo.sh): the
// quickstart's project, application and database on the stack's real node,
// and its CI loop for real. It starts the fake GitHub (internal/fakegithub)
// where pods reach it, gives it the repository demo/shop-api, seeds Vault,
// applies examples/quickstart pointed at that repository, then pushes a
// commit and follows it: the Workflow's steps (build, deploy, route) as
// they progress, then the app's answer through Traefik. A second commit
// shows a rollout. It ends with `tofu plan` (no changes) and scripts/show.
//
// The fake GitHub lives as long as this program: pushes are only possible
// while it runs (-hold keeps it up until interrupted).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/idpkit/terraform-provider-idp/internal/fakegithub"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// What examples/quickstart/main.tf declares.
const (
	project   = "shop"
	app       = "api"
	domain    = "api.shop.local"
	dbType    = "redis"
	dbVersion = "7.0"
)

// The demo's repository on the fake GitHub, and the registry project its
// images go to.
const (
	owner           = "demo"
	repo            = "shop-api"
	registryProject = "demo"
)

func main() {
	example := flag.String("example", "examples/quickstart", "the configuration to apply")
	dir := flag.String("dir", ".stack/quickstart", "working directory for tofu (the example is copied there)")
	hold := flag.Bool("hold", false, "keep the fake GitHub running at the end until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *example, *dir, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		stop()
		os.Exit(1)
	}
}

type demo struct {
	start   time.Time
	gh      *fakegithub.GitHub
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	dir     string
	targets []string // -target arguments when the database is left out
}

// say prints a heading with the time since the demo started.
func (d *demo) say(format string, args ...any) {
	fmt.Printf("\n==> [%s] %s\n", since(d.start), fmt.Sprintf(format, args...))
}

func since(t time.Time) string { return fmt.Sprintf("%3ds", int(time.Since(t).Seconds())) }

func run(ctx context.Context, example, dir string, hold bool) error {
	for _, env := range []string{"KUBECONFIG", "VAULT_ADDR", "VAULT_TOKEN", "IDP_VAULT_KV_MOUNT", "TF_ACC_TERRAFORM_PATH",
		"IDP_STACK_HOST_IP", "IDP_STACK_TRAEFIK_URL", "IDP_STACK_REGISTRY_HOST", "IDP_STACK_REGISTRY_USER", "IDP_STACK_REGISTRY_PASSWORD"} {
		if os.Getenv(env) == "" {
			return fmt.Errorf("%s is not set: run it after `make stack-up` with .stack/env sourced (scripts/demo.sh does both)", env)
		}
	}
	d := &demo{start: time.Now(), dir: dir}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return err
	}
	cfg.WarningHandler = rest.NoWarnings{}
	if d.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if d.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}

	d.say("Fake GitHub Enterprise on %s (pods reach it there), repository %s/%s", os.Getenv("IDP_STACK_HOST_IP"), owner, repo)
	if d.gh, err = fakegithub.Start(os.Getenv("IDP_STACK_HOST_IP")); err != nil {
		return err
	}
	defer d.gh.Close()
	d.gh.AddRepo(owner, repo, true)
	sha, err := d.gh.Push(owner, repo, "main", map[string][]byte{
		"README.md": []byte("# shop-api\n\nThe quickstart's application: every push to main is built and rolled out.\n"),
	}, "Initial commit")
	if err != nil {
		return err
	}
	fmt.Printf("    %s  main at %s (Initial commit)\n", d.gh.GitURL(owner, repo), sha[:8])
	// The provider's GitHub and CI settings (provider "idp" {} reads them).
	for k, v := range map[string]string{
		"GITHUB_BASE_URL":       d.gh.URL,
		"GITHUB_TOKEN":          d.gh.Token,
		"IDP_GITHUB_SYNC_HOOKS": "true", // the fake GitHub has the hooks (acctest turns this off for tests)
		"IDP_REGISTRY_HOST":     os.Getenv("IDP_STACK_REGISTRY_HOST"),
		"IDP_REGISTRY_PROJECT":  registryProject,
		"IDP_WEBHOOK_BASE_URL":  os.Getenv("IDP_STACK_TRAEFIK_URL"),
	} {
		os.Setenv(k, v)
	}

	d.say("Vault: what a platform team keeps there before the first apply")
	if err := seedVault(ctx, d.gh.Token); err != nil {
		return err
	}

	if err := d.prepare(ctx, example); err != nil {
		return err
	}
	d.say("tofu apply (%s with %s)", example, filepath.Join(dir, overrideFile))
	apply := []string{"apply", "-auto-approve", "-input=false", "-compact-warnings"}
	if fi, err := os.Stdout.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
		apply = append(apply, "-no-color") // not a terminal
	}
	if err := d.tofu(ctx, nil, append(apply, d.targets...)...); err != nil {
		return err
	}

	d.say("Waiting for the EventSource to register its push webhook with GitHub, and for the Sensor")
	hctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	h, err := d.gh.WaitHook(hctx, owner, repo)
	cancel()
	if err != nil {
		d.dump(ctx)
		return err
	}
	fmt.Printf("    hook %d: push -> %s (signed)\n", h.ID, h.URL)
	if err := d.waitCI(ctx); err != nil {
		d.dump(ctx)
		return err
	}

	v1 := fmt.Sprintf("shop-api v1 (pushed %s)", time.Now().Format("15:04:05"))
	sha1, err := d.pushAndFollow(ctx, "1", v1, false)
	if err != nil {
		return err
	}
	v2 := fmt.Sprintf("shop-api v2 (pushed %s)", time.Now().Format("15:04:05"))
	sha2, err := d.pushAndFollow(ctx, "2", v2, true)
	if err != nil {
		return err
	}

	d.say("tofu plan: CI deployed %s then %s; the configuration still holds", sha1[:8], sha2[:8])
	if err := d.plan(ctx); err != nil {
		return err
	}

	d.say("What the provider manages in namespace %s (go run ./scripts/show %s)", project, project)
	show := exec.CommandContext(ctx, "go", "run", "./scripts/show", project)
	show.Stdout, show.Stderr = os.Stdout, os.Stderr
	if err := show.Run(); err != nil {
		return err
	}

	d.say("Done in %s", time.Since(d.start).Round(time.Second))
	fmt.Printf(`    The app keeps serving:  curl -H 'Host: %s' %s/
    The fake GitHub (%s) lives only as long as this program: once it exits,
    pushes are impossible and tofu plan/apply in %s cannot reach GitHub
    (make demo starts a new one and re-applies). make stack-down removes everything.
`, domain, os.Getenv("IDP_STACK_TRAEFIK_URL"), d.gh.URL, dir)
	if d.targets != nil {
		fmt.Printf("    The database was left out (see above): the mirror has no %s image.\n", render.DatabaseImage(dbType, dbVersion))
	}
	if hold {
		// The token goes to a file only readable by us, never to the terminal.
		tokenFile := filepath.Join(dir, "github-token")
		if err := os.WriteFile(tokenFile, []byte(d.gh.Token+"\n"), 0o600); err != nil {
			return err
		}
		fmt.Println("\n    -hold: the fake GitHub stays up until Ctrl-C; GITHUB_BASE_URL=" + d.gh.URL +
			" GITHUB_TOKEN=$(cat " + tokenFile + ")")
		<-ctx.Done()
	}
	return nil
}

// seedVault writes the project's GitHub and registry credentials: the fake
// GitHub's token (new for every run) and the builds registry's account.
func seedVault(ctx context.Context, token string) error {
	c, err := vaultapi.NewClient(vaultapi.DefaultConfig())
	if err != nil {
		return err
	}
	c.SetToken(os.Getenv("VAULT_TOKEN"))
	kv := c.KVv2(os.Getenv("IDP_VAULT_KV_MOUNT"))
	for path, data := range map[string]map[string]any{
		render.GitHubAccessVaultPath(project): {"username": "ci-bot", "token": token},
		render.RegistryVaultPath(project): {
			"username": os.Getenv("IDP_STACK_REGISTRY_USER"), "password": os.Getenv("IDP_STACK_REGISTRY_PASSWORD"),
		},
	} {
		if _, err := kv.Put(ctx, path, data); err != nil {
			return fmt.Errorf("vault: writing %s: %w", path, err)
		}
		fmt.Printf("    %s/%s: %s\n", os.Getenv("IDP_VAULT_KV_MOUNT"), path, strings.Join(keys(data), ", "))
	}
	return nil
}

func keys(m map[string]any) []string {
	var out []string
	for _, k := range []string{"username", "token", "password"} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

const overrideFile = "demo_override.tf"

// prepare copies the example into dir and writes the demo's override file,
// which tofu merges into it: the project's pods go to the real node, and
// the application follows the fake GitHub's repository with no pinned
// commit, so CI deploys every push. It also decides whether the database
// can run there.
func (d *demo) prepare(ctx context.Context, example string) error {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return err
	}
	tfs, err := filepath.Glob(filepath.Join(example, "*.tf"))
	if err != nil || len(tfs) == 0 {
		return fmt.Errorf("no .tf files in %s", example)
	}
	for _, f := range tfs {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d.dir, filepath.Base(f)), b, 0o644); err != nil {
			return err
		}
	}
	override := fmt.Sprintf(`# Written by make demo (scripts/demo). OpenTofu merges *_override.tf files
# into the configuration: this one sends the project's pods to the stack's
# real node, and makes the application follow the demo's repository on the
# local fake GitHub with no pinned commit, so CI deploys every push.
resource "idp_project" "shop" {
  annotations = %s
}

resource "idp_application" "api" {
  git = {
    owner  = %q
    repo   = %q
    branch = "main"
  }
  build_on_create = false # the demo's pushes build
}
`, stack.RealNodeAnnotations, owner, repo)
	if err := os.WriteFile(filepath.Join(d.dir, overrideFile), []byte(override), 0o644); err != nil {
		return err
	}

	image := render.DatabaseImage(dbType, dbVersion)
	ok, err := mirrorHas(ctx, image)
	switch {
	case ok:
		fmt.Printf("    the image mirror serves %s: the database runs on the real node too\n", image)
	default:
		why := "the stack's image mirror has no " + image + " image"
		if err != nil {
			why = "the image mirror could not be asked for " + image + ": " + err.Error()
		}
		d.targets = []string{"-target=idp_project." + project, "-target=idp_application." + app}
		fmt.Printf(`
    LIMITATION: %s (scripts/stack/images builds only the
    stack's own images, and nothing is pulled from the internet). On the real node
    its pod could never start, and apply waits for databases to be ready, so this
    run leaves idp_database.cache out (tofu %s).
`, why, strings.Join(d.targets, " "))
	}
	return nil
}

// mirrorHas asks the stack's mirror registry (no auth, upstream names;
// containerd pulls docker.io and the others from it) for image.
func mirrorHas(ctx context.Context, image string) (bool, error) {
	mirror := os.Getenv("IDP_STACK_MIRROR_HOST")
	if mirror == "" {
		mirror = os.Getenv("IDP_STACK_HOST_IP") + ":5001"
	}
	name, tag, _ := strings.Cut(image, ":")
	if !strings.Contains(name, "/") {
		name = "library/" + name
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+mirror+"/v2/"+name+"/manifests/"+tag, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("HTTP %d", resp.StatusCode)
}

// plan runs tofu plan and expects no changes to the infrastructure. The
// refresh finds the Deployment and route that CI created, which only the
// api_objects output shows: those lines are printed.
func (d *demo) plan(ctx context.Context) error {
	var out bytes.Buffer
	err := d.tofu(ctx, &out, append([]string{"plan", "-input=false", "-no-color", "-detailed-exitcode", "-compact-warnings"}, d.targets...)...)
	text := out.String()
	var exit *exec.ExitError
	switch {
	case err == nil:
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(l, "No changes.") {
				fmt.Println("    " + l)
			}
		}
		return nil
	case errors.As(err, &exit) && exit.ExitCode() == 2 && strings.Contains(text, "without changing any real infrastructure"):
		fmt.Println("    No changes to the infrastructure. The refresh found what CI created, which only the api_objects output shows:")
		_, outputs, _ := strings.Cut(text, "Changes to Outputs:")
		for _, l := range strings.Split(outputs, "\n") {
			if t := strings.TrimSpace(l); strings.HasPrefix(t, "+ \"") || strings.HasPrefix(t, "- \"") || strings.HasPrefix(t, "~ \"") {
				fmt.Println("      " + t)
			}
		}
		return nil
	}
	fmt.Print(text)
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return errors.New("tofu plan after the pushes wants to change the infrastructure; it should not")
	}
	return err
}

// tofu runs tofu in the demo's directory, its output to out (os.Stdout when
// nil).
func (d *demo) tofu(ctx context.Context, out *bytes.Buffer, args ...string) error {
	cmd := exec.CommandContext(ctx, os.Getenv("TF_ACC_TERRAFORM_PATH"), append([]string{"-chdir=" + d.dir}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1")
	return cmd.Run()
}

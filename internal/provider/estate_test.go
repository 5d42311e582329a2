package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
	"github.com/idpkit/terraform-provider-idp/internal/render"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

// Adopting a whole estate at once, as users do it, with the CLI
// (acctest.Tofu: the binary in its own process, the provider built): several
// projects the old chart runs (each with applications and databases), and
// one made by another state of ours, found, written as configuration,
// imported and applied with no replacement, then planned empty.
//   - OpenTofu (no `query`): data.idp_estate's configuration, read with
//     `tofu output` and written to a file (TestAccEstate_tofu).
//   - Terraform 1.14+: `terraform query -generate-config-out` over the list
//     resources (TestAccEstate_terraformQuery, in make test's Terraform run).

// estateProjects is how many chart-made projects each test adopts.
const estateProjects = 3

// estateFixture is what runs before adoption: chart-made projects, and one
// project (with an application and a database) another state of ours made.
type estateFixture struct {
	charts []*oldChart
	ours   string
}

func (f *estateFixture) projects() []string {
	var out []string
	for _, c := range f.charts {
		out = append(out, c.p)
	}
	return append(out, f.ours)
}

func (f *estateFixture) projectList() string {
	q := make([]string, 0, len(f.projects()))
	for _, p := range f.projects() {
		q = append(q, fmt.Sprintf("%q", p))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func newEstate(t *testing.T) *estateFixture {
	t.Helper()
	providerTestEnv(t)
	t.Setenv("GITHUB_TOKEN", "") // no GitHub: its checks are skipped
	start := time.Now()
	f := &estateFixture{}
	for range estateProjects {
		f.charts = append(f.charts, newOldChart(t))
	}
	// Another state of ours: its own directory, applied with the same tool.
	f.ours = stack.Name("acc-ours")
	seedProjectVault(t, f.ours)
	other := acctest.NewTofu(t)
	other.Write(fmt.Sprintf(`
resource "idp_project" "p" {
  name = %[1]q
}
resource "idp_database" "cache" {
  project = idp_project.p.name
  name    = "cache"
  type    = "redis"
  version = "7.0"
  size    = "1Gi"
}
resource "idp_application" "api" {
  project   = idp_project.p.name
  name      = "api"
  git       = { owner = "myorg", repo = "api", branch = "main" }
  port      = 8080
  replicas  = 2
  domains   = ["api.ours.example.com"]
  databases = [idp_database.cache]
  # Not the defaults: import reads them back from the template's steps.
  build_timeout   = "45m"
  rollout_timeout = "90s"
}
`, f.ours))
	other.Apply()
	t.Cleanup(func() {
		cs, _ := stack.Kube(t)
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), f.ours, metav1.DeleteOptions{})
		kv, _ := stack.Vault(t)
		for _, path := range []string{render.WebhookSecretVaultPath(f.ours, "api"), render.DatabaseVaultPath(f.ours, "cache")} {
			_ = kv.DeleteMetadata(context.Background(), path)
		}
	})
	t.Logf("estate of %d projects running after %s", len(f.projects()), time.Since(start).Round(time.Second))
	return f
}

// review is what the estate's reviewer changes in the generated
// configuration: the old chart's registry credentials live at a Vault path
// of the team's choosing that no object records, and the generated comment
// says to set it. labels maps project names to their resource names.
func (f *estateFixture) review(t *testing.T, hcl string, labels map[string]string) string {
	t.Helper()
	for _, c := range f.charts {
		head := `resource "idp_project" "` + labels[c.p] + `" {` + "\n"
		i := strings.Index(hcl, head)
		if labels[c.p] == "" || i < 0 {
			t.Fatalf("no resource for project %s in the generated configuration:\n%s", c.p, hcl)
		}
		start := i + len(head)
		end := start + strings.Index(hcl[start:], "\n}\n")
		block := hcl[start:end]
		set := "  registry_vault_path = \"" + c.p + oldChartRegistry + "\""
		if attr := regexp.MustCompile(`(?m)^\s*registry_vault_path\s*=.*$`); attr.MatchString(block) {
			block = attr.ReplaceAllLiteralString(block, set)
		} else {
			block = set + "\n" + block
		}
		hcl = hcl[:start] + block + hcl[end:]
	}
	return hcl
}

// projectLabels maps each idp_project's name to its resource name.
func projectLabels(hcl string) map[string]string {
	out := map[string]string{}
	name := regexp.MustCompile(`(?m)^\s*name\s*=\s*"([^"]+)"`)
	for _, m := range regexp.MustCompile(`resource "idp_project" "([^"]+)" \{\n`).FindAllStringSubmatchIndex(hcl, -1) {
		body := hcl[m[1]:]
		body = body[:strings.Index(body, "\n}\n")]
		if n := name.FindStringSubmatch(body); n != nil {
			out[n[1]] = hcl[m[2]:m[3]]
		}
	}
	return out
}

// checkAdoption checks the plan of the generated configuration: every
// resource of the estate imported, none created, destroyed or replaced.
func (f *estateFixture) checkAdoption(t *testing.T, plan *tfjson.Plan) {
	t.Helper()
	counts := map[string]int{}
	for _, rc := range plan.ResourceChanges {
		a := rc.Change.Actions
		if rc.Change.Importing == nil {
			t.Errorf("%s: not imported (%v)", rc.Address, a)
		}
		if !a.Update() && !a.NoOp() {
			t.Errorf("%s: planned %v, want an in-place update or no-op", rc.Address, a)
		}
		counts[rc.Type]++
	}
	want := map[string]int{"idp_project": len(f.projects()), "idp_application": 2*len(f.charts) + 1, "idp_database": 2*len(f.charts) + 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("the plan imports %v, want %v", counts, want)
	}
	// The project our other state made is adopted unchanged.
	for _, rc := range plan.ResourceChanges {
		if strings.Contains(rc.Address, f.ours) && !rc.Change.Actions.NoOp() {
			t.Errorf("%s (made by another state of ours): planned %v, want no change", rc.Address, rc.Change.Actions)
		}
	}
}

// adopt plans, checks and applies the estate's configuration in c.dir, and
// checks the cluster and an empty plan after. It returns how long the plan
// and apply took.
func (f *estateFixture) adopt(t *testing.T, c *acctest.Tofu) time.Duration {
	t.Helper()
	start := time.Now()
	c.Output("plan", "-input=false", "-no-color", "-out=adopt.plan")
	var plan tfjson.Plan
	c.JSON(&plan, "show", "-json", "adopt.plan")
	f.checkAdoption(t, &plan)
	if t.Failed() {
		t.FailNow()
	}
	planned := time.Since(start)
	start = time.Now()
	c.Output("apply", "-input=false", "-no-color", "adopt.plan")
	took := planned + time.Since(start)
	for _, chart := range f.charts {
		if err := chart.checkAdopted()(nil); err != nil {
			t.Errorf("project %s: %v", chart.p, err)
		}
	}
	if out, changes := c.PlanChanges(); changes {
		t.Errorf("the plan after adoption is not empty:\n%s", out)
	}
	return took
}

func TestAccEstate_tofu(t *testing.T) {
	stack.PreCheck(t)
	f := newEstate(t)

	// What the importing guide says: find, write, review, plan, apply.
	start := time.Now()
	find := acctest.NewTofu(t)
	find.Write(fmt.Sprintf(`
data "idp_estate" "all" {
  projects = %s
}
output "configuration" {
  value = data.idp_estate.all.configuration
}
output "skipped" {
  value = data.idp_estate.all.skipped
}
`, f.projectList()))
	find.Apply()
	var generated string
	find.JSON(&generated, "output", "-json", "configuration")
	var skipped map[string]any
	if find.JSON(&skipped, "output", "-json", "skipped"); len(skipped) != 0 {
		t.Errorf("skipped: %v", skipped)
	}
	found := time.Since(start)
	t.Logf("generated configuration:\n%s", generated)
	// Attributes are aligned as tofu fmt does: any run of spaces before "=".
	for _, want := range []string{`identity = {`, `project = idp_project.` + f.ours + `.name`, `databases = [idp_database.` + f.ours + `_cache]`} {
		name, value, _ := strings.Cut(want, " = ")
		if !regexp.MustCompile(regexp.QuoteMeta(name) + ` +` + regexp.QuoteMeta("= "+value)).MatchString(generated) {
			t.Errorf("the generated configuration lacks %q", want)
		}
	}

	adopt := acctest.NewTofu(t)
	adopt.Write("")
	adopt.WriteFile("estate.tf", f.review(t, generated, projectLabels(generated)))
	took := f.adopt(t, adopt)
	t.Logf("MIGRATION (tofu, %d projects, %d resources): found and written in %s, planned and applied in %s",
		len(f.projects()), 5*len(f.charts)+3, found.Round(100*time.Millisecond), took.Round(100*time.Millisecond))
}

// terraformPath is TF_ACC_TERRAFORM_PATH when that is Terraform 1.14+, as
// in make test's Terraform run, not OpenTofu.
func terraformPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("TF_ACC_TERRAFORM_PATH")
	out, err := exec.Command(p, "version", "-json").Output()
	var v struct {
		Version string `json:"terraform_version"`
	}
	var major, minor int
	if err == nil && json.Unmarshal(out, &v) == nil && !strings.Contains(filepath.Base(p), "tofu") {
		if _, err := fmt.Sscanf(v.Version, "%d.%d", &major, &minor); err == nil && (major > 1 || minor >= 14) {
			return p
		}
	}
	t.Skipf("terraform query needs Terraform 1.14+, and TF_ACC_TERRAFORM_PATH is %s (make test's Terraform run sets it)", p)
	return ""
}

func TestAccEstate_terraformQuery(t *testing.T) {
	stack.PreCheck(t)
	terraformPath(t)
	f := newEstate(t)

	start := time.Now()
	c := acctest.NewTofu(t)
	c.Write(`provider "idp" {}`)
	var query strings.Builder
	for _, kind := range []string{"project", "application", "database"} {
		fmt.Fprintf(&query, `
list "idp_%[1]s" "all" {
  provider         = idp
  include_resource = true
  config {
    projects = %[2]s
  }
}
`, kind, f.projectList())
	}
	c.WriteFile("estate.tfquery.hcl", query.String())
	c.Output("query", "-no-color", "-generate-config-out=generated.tf")
	found := time.Since(start)
	raw, err := os.ReadFile(filepath.Join(c.Dir, "generated.tf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generated configuration:\n%s", raw)
	// Terraform names results after the list block and their index; the
	// reviewer finds each project by its name attribute.
	labels := projectLabels(string(raw))
	t.Logf("projects generated: %v", labels)
	c.WriteFile("generated.tf", f.review(t, string(raw), labels))
	took := f.adopt(t, c)
	t.Logf("MIGRATION (terraform query, %d projects, %d resources): found and written in %s, planned and applied in %s",
		len(f.projects()), 5*len(f.charts)+3, found.Round(100*time.Millisecond), took.Round(100*time.Millisecond))
}

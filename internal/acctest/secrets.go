package acctest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/idpkit/terraform-provider-idp/internal/acctest/secretscan"
)

// The secret scan (issue 12): every acceptance test runs tofu and the
// in-process provider at TF_LOG=trace, and when the test ends its output is
// searched for every secret value it wrote (PutVault, the fake GitHub's token,
// the stack's credentials) or the provider generated (everything in Vault
// under the test's projects, every version, read at each step and at the end).
// What is searched, per test:
//   - <name>.log: tofu's trace log and the provider's (terraform-plugin-testing
//     writes both there through TF_LOG_PATH_MASK);
//   - <name>.log.stdout / .stderr: everything tofu printed (human plans, apply
//     output, errors, every `tofu show -json` of plans and state), copied by a
//     wrapper that Main puts in front of tofu;
//   - <name>.plans.json: each step's saved plan before apply (`show -json`);
//   - <name>.states.json: the raw state file after each step, with each
//     resource's private state decoded.
// A hit fails the test. Main prints the totals (and writes them for
// scripts/test.sh's summary).

// EnvScan=off runs acceptance tests without trace logs and the scan (to
// measure what they cost).
const EnvScan = "IDP_SECRET_SCAN"

var scan struct {
	mu       sync.Mutex
	dir      string                     // trace logs and captures; "" = off
	values   map[string]map[string]bool // root test -> secret values
	projects map[string]map[string]bool // root test -> projects its configurations named
	started  map[string]bool            // test name -> cleanup registered
	works    int
	results  []ScanResult
	// The stack's Vault, as the test process started: tests unset or
	// change VAULT_ADDR to test the provider's settings.
	vaultAddr, vaultToken, vaultMount string
	stackSecrets                      []string
	realBinary                        string // tofu or terraform behind the wrapper
}

// ScanResult is one test's scan.
type ScanResult struct {
	Test    string
	Values  int
	Bytes   int64
	Hits    int
	Elapsed time.Duration
}

// Main is TestMain for packages with acceptance tests: with TF_ACC set it
// turns on trace logging and the secret scan, runs the tests, and prints the
// totals. It removes the provider binary Tofu built.
func Main(m *testing.M) int {
	defer RemoveProviderBinary()
	if os.Getenv("TF_ACC") == "" || os.Getenv("TF_ACC_TERRAFORM_PATH") == "" || os.Getenv(EnvScan) == "off" {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "idp-acc-trace-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "secret scan:", err)
		return 1
	}
	if err := startScan(dir); err != nil {
		fmt.Fprintln(os.Stderr, "secret scan:", err)
		return 1
	}
	code := m.Run()
	hits := 0
	if len(scan.results) > 0 {
		hits = printScanTotals(os.Stdout)
	}
	if hits > 0 {
		fmt.Printf("secret scan: %d hits; the logs stay in %s\n", hits, dir)
		if code == 0 {
			code = 1
		}
	} else {
		_ = os.RemoveAll(dir)
	}
	return code
}

func startScan(dir string) error {
	real := os.Getenv("TF_ACC_TERRAFORM_PATH")
	// The wrapper keeps tofu's file name: acctest's init and
	// terraform-plugin-testing tell tofu from terraform by it.
	wrapper := filepath.Join(dir, "bin", filepath.Base(real))
	if err := os.MkdirAll(filepath.Dir(wrapper), 0o755); err != nil {
		return err
	}
	// exec keeps tofu's pid (a test that kills tofu kills tofu), and tee
	// copies its output next to the trace log terraform-plugin-testing
	// chose for the test. Without TF_LOG_PATH (tofu outside a test case)
	// it is tofu itself.
	script := "#!/usr/bin/env bash\n# acctest.Main: tofu, with what it prints copied for the secret scan.\n" +
		"if [[ -n \"${TF_LOG_PATH:-}\" ]]; then\n" +
		"\texec > >(tee -a \"$TF_LOG_PATH.stdout\") 2> >(tee -a \"$TF_LOG_PATH.stderr\" >&2)\n" +
		"fi\n" +
		"exec " + shellQuote(real) + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil { //nolint:gosec // an executable
		return err
	}
	for k, v := range map[string]string{
		"TF_ACC_TERRAFORM_PATH": wrapper,
		"TF_ACC_LOG":            "TRACE", // tofu
		"TF_LOG":                "TRACE", // the in-process provider (tflog sink)
		"TF_LOG_PATH_MASK":      filepath.Join(dir, "%s.log"),
	} {
		if err := os.Setenv(k, v); err != nil {
			return err
		}
	}
	scan.dir = dir
	scan.realBinary = real
	scan.vaultAddr, scan.vaultToken, scan.vaultMount = os.Getenv("VAULT_ADDR"), os.Getenv("VAULT_TOKEN"), os.Getenv("IDP_VAULT_KV_MOUNT")
	// The stack's own credentials: no test may print them either.
	scan.stackSecrets = []string{os.Getenv("VAULT_TOKEN"), os.Getenv("IDP_STACK_REGISTRY_PASSWORD")}
	scan.values = map[string]map[string]bool{}
	scan.projects = map[string]map[string]bool{}
	scan.started = map[string]bool{}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func rootTest(t testing.TB) string { return strings.SplitN(t.Name(), "/", 2)[0] }

// Secret registers values as secrets of the test: the scan fails the test
// if any shows up in tofu's output, the logs, a plan or the state. Values
// shorter than secretscan.MinLen are ignored.
func Secret(t testing.TB, values ...string) {
	scan.mu.Lock()
	defer scan.mu.Unlock()
	if scan.dir == "" {
		return
	}
	root := rootTest(t)
	if scan.values[root] == nil {
		scan.values[root] = map[string]bool{}
	}
	for _, v := range values {
		if len(v) >= secretscan.MinLen {
			scan.values[root][v] = true
		}
	}
}

// Test is resource.Test with trace logs and the secret scan.
func Test(t *testing.T, tc resource.TestCase) {
	t.Helper()
	resource.Test(t, instrument(t, tc))
}

// ParallelTest is resource.ParallelTest with trace logs and the secret scan.
func ParallelTest(t *testing.T, tc resource.TestCase) {
	t.Helper()
	resource.ParallelTest(t, instrument(t, tc))
}

// instrument adds the captures to every configuration step and registers
// the scan when t ends.
func instrument(t *testing.T, tc resource.TestCase) resource.TestCase {
	base, works := scanned(t)
	if base == "" {
		return tc
	}
	if tc.WorkingDir == "" {
		// Our own directory, so the state check finds the state file;
		// terraform-plugin-testing removes it when the case ends.
		tc.WorkingDir = filepath.Join(scan.dir, "work", fmt.Sprint(works))
		if err := os.MkdirAll(tc.WorkingDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	steps := make([]resource.TestStep, len(tc.Steps))
	copy(steps, tc.Steps)
	for i := range steps {
		s := &steps[i]
		if s.ImportState || s.RefreshState || (s.Config == "" && s.ConfigDirectory == nil && s.ConfigFile == nil) {
			continue // no plan or state checks there; the wrapper still captures
		}
		if !s.PlanOnly {
			s.ConfigPlanChecks.PreApply = append(append([]plancheck.PlanCheck(nil), s.ConfigPlanChecks.PreApply...),
				planCapture{t: t, file: base + ".plans.json"})
		}
		s.ConfigStateChecks = append(append([]statecheck.StateCheck(nil), s.ConfigStateChecks...),
			stateCapture{t: t, file: base + ".states.json", workDir: tc.WorkingDir})
	}
	tc.Steps = steps
	return tc
}

// scanned registers t's scan, once per test, and returns the base name of
// its captures ("" when the scan is off) and a number for a fresh working
// directory.
func scanned(t *testing.T) (base string, works int) {
	scan.mu.Lock()
	dir := scan.dir
	first := dir != "" && !scan.started[t.Name()]
	if first {
		scan.started[t.Name()] = true
	}
	scan.works++
	works = scan.works
	scan.mu.Unlock()
	if dir == "" {
		return "", works
	}
	base = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "__"))
	if first {
		t.Cleanup(func() { scanTest(t, base) })
	}
	return base, works
}

// scanEnv is the environment that puts a Tofu run under t's scan: tofu's
// trace log (with the provider's, which tofu collects) in the test's log,
// and the wrapper's copies of what it prints beside it.
func scanEnv(t *testing.T) []string {
	base, _ := scanned(t)
	if base == "" {
		return nil
	}
	return []string{"TF_LOG=TRACE", "TF_LOG_PATH=" + base + ".log"}
}

type planCapture struct {
	t    *testing.T
	file string
}

func (c planCapture) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	b, err := json.Marshal(req.Plan)
	if err == nil {
		err = appendFile(c.file, b)
	}
	if err != nil {
		resp.Error = fmt.Errorf("secret scan: saving the plan: %w", err)
		return
	}
	for _, rc := range req.Plan.ResourceChanges {
		if after, ok := rc.Change.After.(map[string]any); ok {
			noteProject(c.t, rc.Type, after)
		}
	}
}

type stateCapture struct {
	t       *testing.T
	file    string
	workDir string
}

// CheckState saves the raw state file (with private state decoded, which
// `tofu show -json` leaves out) and reads Vault for the projects in it, so
// values the provider generated and a later step deletes are known too.
func (c stateCapture) CheckState(ctx context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if b, err := json.Marshal(req.State); err == nil {
		var st struct {
			Values struct {
				RootModule stateModule `json:"root_module"`
			} `json:"values"`
		}
		if json.Unmarshal(b, &st) == nil {
			st.Values.RootModule.walk(func(typ string, attrs map[string]any) { noteProject(c.t, typ, attrs) })
		}
	}
	files, _ := filepath.Glob(filepath.Join(c.workDir, "*", "terraform.tfstate"))
	for _, f := range files {
		raw, err := os.ReadFile(f) //nolint:gosec // the test's own state file
		if err == nil {
			err = appendFile(c.file, append(raw, decodePrivate(raw)...))
		}
		if err != nil {
			resp.Error = fmt.Errorf("secret scan: saving the state: %w", err)
			return
		}
	}
	if err := harvestVault(ctx, c.t); err != nil {
		resp.Error = fmt.Errorf("secret scan: reading the test's Vault secrets: %w", err)
	}
}

// stateModule is the part of `tofu show -json`'s state that names projects.
type stateModule struct {
	Resources []struct {
		Type   string         `json:"type"`
		Values map[string]any `json:"values"`
	} `json:"resources"`
	ChildModules []stateModule `json:"child_modules"`
}

func (m stateModule) walk(f func(typ string, attrs map[string]any)) {
	for _, r := range m.Resources {
		f(r.Type, r.Values)
	}
	for _, c := range m.ChildModules {
		c.walk(f)
	}
}

// decodePrivate returns each resource instance's private state, decoded.
func decodePrivate(raw []byte) []byte {
	var st struct {
		Resources []struct {
			Instances []struct {
				Private string `json:"private"`
			} `json:"instances"`
		} `json:"resources"`
	}
	if json.Unmarshal(raw, &st) != nil {
		return nil
	}
	var out []byte
	for _, r := range st.Resources {
		for _, i := range r.Instances {
			if b, err := base64.StdEncoding.DecodeString(i.Private); err == nil {
				out = append(append(out, '\n'), b...)
			}
		}
	}
	return out
}

func appendFile(name string, b []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600) //nolint:gosec // the harness's own file
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// noteProject remembers the project an idp_* resource names: its Vault
// secrets are the ones the provider generates.
func noteProject(t testing.TB, typ string, attrs map[string]any) {
	key := map[string]string{"idp_project": "name", "idp_application": "project", "idp_database": "project"}[typ]
	p, _ := attrs[key].(string)
	if p == "" {
		return
	}
	scan.mu.Lock()
	defer scan.mu.Unlock()
	root := rootTest(t)
	if scan.projects[root] == nil {
		scan.projects[root] = map[string]bool{}
	}
	scan.projects[root][p] = true
}

// harvestVault registers every value of every version of every Vault
// secret under the test's projects (render's Vault paths all start with
// "<project>-"), except user names, which are not secret.
func harvestVault(ctx context.Context, t testing.TB) error {
	scan.mu.Lock()
	var projects []string
	for p := range scan.projects[rootTest(t)] {
		projects = append(projects, p)
	}
	scan.mu.Unlock()
	if len(projects) == 0 {
		return nil
	}
	c, err := vaultapi.NewClient(&vaultapi.Config{Address: scan.vaultAddr})
	if err != nil {
		return err
	}
	c.SetToken(scan.vaultToken)
	mount := scan.vaultMount
	list, err := c.Logical().ListWithContext(ctx, mount+"/metadata/")
	if err != nil || list == nil {
		return err
	}
	keys, _ := list.Data["keys"].([]any)
	kv := c.KVv2(mount)
	var values []string
	for _, k := range keys {
		path, _ := k.(string)
		if !hasProjectPrefix(path, projects) {
			continue
		}
		versions, err := kv.GetVersionsAsList(ctx, path)
		if err != nil {
			continue // deleted meanwhile (delete_data)
		}
		for _, v := range versions {
			if !v.DeletionTime.IsZero() || v.Destroyed {
				continue
			}
			s, err := kv.GetVersion(ctx, path, v.Version)
			if err != nil || s == nil {
				continue
			}
			for key, val := range s.Data {
				if str, ok := val.(string); ok && key != "username" && key != "user" {
					values = append(values, str)
				}
			}
		}
	}
	Secret(t, values...)
	return nil
}

func hasProjectPrefix(path string, projects []string) bool {
	if strings.HasSuffix(path, "/") {
		return false
	}
	for _, p := range projects {
		if strings.HasPrefix(path, p+"-") {
			return true
		}
	}
	return false
}

// scanTest runs when the test that called Test ends: a last read of Vault,
// then every capture of the test against every secret value of its root
// test.
func scanTest(t *testing.T, base string) {
	start := time.Now()
	if err := harvestVault(context.Background(), t); err != nil {
		t.Errorf("secret scan: reading the test's Vault secrets: %v", err)
	}
	scan.mu.Lock()
	var values []string
	for v := range scan.values[rootTest(t)] {
		values = append(values, v)
	}
	scan.mu.Unlock()
	values = append(values, scan.stackSecrets...)
	s := secretscan.New(values)

	sources := []string{base + ".log", base + ".log.stdout", base + ".log.stderr", base + ".plans.json", base + ".states.json"}
	var total int64
	var hits []secretscan.Hit
	for _, src := range sources {
		data, err := os.ReadFile(src) //nolint:gosec // the harness's own capture
		if err != nil {
			continue
		}
		total += int64(len(data))
		hits = append(hits, s.Scan(filepath.Base(src), data)...)
	}
	// A test that ran tofu left a trace log and captured output; if either
	// is missing, the scan proves nothing and must say so.
	if !t.Skipped() && !t.Failed() {
		for _, must := range []string{base + ".log", base + ".log.stdout"} {
			if fi, err := os.Stat(must); err != nil || fi.Size() == 0 {
				t.Errorf("secret scan: %s is missing or empty: trace logging or the tofu wrapper is not working", filepath.Base(must))
			}
		}
	}
	res := ScanResult{Test: t.Name(), Values: len(s.Values()), Bytes: total, Hits: len(hits), Elapsed: time.Since(start)}
	scan.mu.Lock()
	scan.results = append(scan.results, res)
	scan.mu.Unlock()
	if len(hits) > 0 {
		for i, h := range hits {
			if i == 10 {
				t.Errorf("secret scan: ... and %d more", len(hits)-10)
				break
			}
			t.Errorf("secret scan: %s", h)
		}
		return // keep the files for a look
	}
	for _, src := range sources {
		_ = os.Remove(src)
	}
	t.Logf("secret scan: %d values, %d bytes, 0 hits (%s)", res.Values, res.Bytes, res.Elapsed.Round(time.Millisecond))
}

// printScanTotals writes the table of scanned tests (subtests added up
// under their test) and their total, and the totals to
// $IDP_TEST_SUMMARY_DIR (default .stack/summary)/secrets-<package>-<binary>.tsv,
// which scripts/test.sh prints at the end of make test. It returns the hits.
func printScanTotals(w io.Writer) int {
	scan.mu.Lock()
	byTest := map[string]*ScanResult{}
	cases := map[string]int{}
	var sum ScanResult
	for _, r := range scan.results {
		root := strings.SplitN(r.Test, "/", 2)[0]
		if byTest[root] == nil {
			byTest[root] = &ScanResult{Test: root}
		}
		b := byTest[root]
		b.Values, b.Bytes, b.Hits, b.Elapsed = b.Values+r.Values, b.Bytes+r.Bytes, b.Hits+r.Hits, b.Elapsed+r.Elapsed
		cases[root]++
		sum.Values, sum.Bytes, sum.Hits, sum.Elapsed = sum.Values+r.Values, sum.Bytes+r.Bytes, sum.Hits+r.Hits, sum.Elapsed+r.Elapsed
	}
	n := len(scan.results)
	scan.mu.Unlock()
	names := make([]string, 0, len(byTest))
	for k := range byTest {
		names = append(names, k)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "secret scan\tcases\tvalues\tMB\thits\tseconds\t")
	for _, k := range names {
		r := byTest[k]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%d\t%.1f\t\n", k, cases[k], r.Values, float64(r.Bytes)/1e6, r.Hits, r.Elapsed.Seconds())
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%.1f\t%d\t%.1f\t\n", n, sum.Values, float64(sum.Bytes)/1e6, sum.Hits, sum.Elapsed.Seconds())
	_ = tw.Flush()
	if n > 0 {
		wd, _ := os.Getwd()
		// One file per package, binary and group: make test runs tofu,
		// then Terraform, and some packages in two processes at once
		// (IDP_TEST_GROUP); its summary adds the files up.
		name := "secrets-" + filepath.Base(wd) + "-" + filepath.Base(scan.realBinary)
		if g := os.Getenv("IDP_TEST_GROUP"); g != "" {
			name += "-" + g
		}
		WriteSummary(name,
			fmt.Sprintf("secret scan: test cases\t%d\nsecret scan: values checked\t%d\nsecret scan: bytes scanned\t%d\nsecret scan: hits\t%d\n",
				n, sum.Values, sum.Bytes, sum.Hits))
	}
	return sum.Hits
}

// WriteSummary writes a suite's figures ("<figure>\t<value>" lines) to
// $IDP_TEST_SUMMARY_DIR (default .stack/summary)/<name>.tsv, which
// scripts/test.sh adds up and prints at the end of make test.
func WriteSummary(name, body string) {
	dir := os.Getenv("IDP_TEST_SUMMARY_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".stack", "summary")
	}
	if err := os.MkdirAll(dir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(dir, name+".tsv"), []byte(body), 0o644) //nolint:gosec // a report
	}
}

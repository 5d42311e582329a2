// Command bench holds the measurements scripts/bench.sh (make bench) cannot
// take with tofu alone:
//
//	bench floor <state.json>   one GET per object of a `tofu show -json` state, 10 in flight
//	bench apply-floor <state.json> <prefix>
//	                           the state's objects created again by one client, until rolled out
//	bench metrics              the API server's request counters (for a later diff)
//	bench metrics-diff A B     what the API server did between two `metrics` snapshots
//	bench rss <pid>            peak resident memory of the provider processes under pid
//	bench requests <log> <objects>
//	                           the provider's API requests in a TF_LOG_PROVIDER=TRACE log, per object
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "floor":
		if len(os.Args) != 3 {
			usage()
		}
		err = floor(context.Background(), os.Args[2])
	case "apply-floor":
		if len(os.Args) != 4 {
			usage()
		}
		err = applyFloor(context.Background(), os.Args[2], os.Args[3])
	case "metrics":
		err = metrics(context.Background())
	case "metrics-diff":
		if len(os.Args) != 4 {
			usage()
		}
		err = metricsDiff(os.Args[2], os.Args[3])
	case "requests":
		if len(os.Args) != 4 {
			usage()
		}
		err = requests(os.Args[2], os.Args[3])
	case "rss":
		if len(os.Args) != 3 {
			usage()
		}
		err = rss(os.Args[2])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: bench floor <state.json> | apply-floor <state.json> <prefix> | metrics | metrics-diff <a> <b> | rss <pid> | requests <log> <objects>")
	os.Exit(2)
}

func restConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return nil, err
	}
	cfg.WarningHandler = rest.NoWarnings{}
	// As the provider's engine: no client-side rate limit (QPS < 0).
	cfg.QPS, cfg.Burst = -1, 0
	return cfg, nil
}

type target struct {
	gvr       schema.GroupVersionResource
	namespace string
	name      string
}

// floor prints "<objects> <seconds>": the best of three rounds of one GET
// per object the state's `objects` attributes list, 10 in flight, over one
// client (one connection), as the provider would need at the least.
func floor(ctx context.Context, stateFile string) error {
	dyn, targets, err := stateClient(stateFile)
	if err != nil {
		return err
	}
	best := time.Duration(1 << 62)
	for range 3 {
		d, err := getAll(ctx, dyn, targets)
		if err != nil {
			return err
		}
		best = min(best, d)
	}
	fmt.Printf("%d %.3f\n", len(targets), best.Seconds())
	return nil
}

// stateClient returns a client of the stack and the objects the state names.
func stateClient(stateFile string) (dynamic.Interface, []target, error) {
	cfg, err := restConfig()
	if err != nil {
		return nil, nil, err
	}
	targets, err := stateTargets(cfg, stateFile)
	if err != nil {
		return nil, nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	return dyn, targets, err
}

// stateTargets lists the objects the state's `objects` attributes name.
func stateTargets(cfg *rest.Config, stateFile string) ([]target, error) {
	raw, err := os.ReadFile(stateFile) // #nosec G304 -- a path the bench script passes
	if err != nil {
		return nil, err
	}
	var state struct {
		Values struct {
			RootModule struct {
				Resources []struct {
					Values struct {
						Objects map[string]string `json:"objects"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"values"`
	}
	if err := json.Unmarshal(raw, &state); err != nil {
		return nil, fmt.Errorf("reading %s: %w", stateFile, err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lists, err := disco.ServerPreferredResources()
	if err != nil {
		return nil, err
	}
	// Kind -> resource; a kind two groups serve (Event) is not ours.
	byKind := map[string]schema.GroupVersionResource{}
	ambiguous := map[string]bool{}
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			if prev, dup := byKind[r.Kind]; dup && prev.Group != gv.Group {
				ambiguous[r.Kind] = true
			}
			byKind[r.Kind] = gv.WithResource(r.Name)
		}
	}
	var targets []target
	for _, res := range state.Values.RootModule.Resources {
		for key := range res.Values.Objects {
			parts := strings.SplitN(key, "/", 3)
			if len(parts) == 2 { // cluster-scoped: Kind/name
				parts = []string{parts[0], "", parts[1]}
			}
			if len(parts) != 3 {
				return nil, fmt.Errorf("object key %q is not Kind/namespace/name", key)
			}
			gvr, ok := byKind[parts[0]]
			if !ok || ambiguous[parts[0]] {
				return nil, fmt.Errorf("kind %s is not served by exactly one group", parts[0])
			}
			targets = append(targets, target{gvr: gvr, namespace: parts[1], name: parts[2]})
		}
	}
	return targets, nil
}

func getAll(ctx context.Context, dyn dynamic.Interface, targets []target) (time.Duration, error) {
	start := time.Now()
	err := parallel(targets, func(t target) error {
		_, err := resourceFor(dyn, t.gvr, t.namespace).Get(ctx, t.name, metav1.GetOptions{})
		// A missing object (a Deployment CI has not made yet) costs a GET too.
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("GET %s %s/%s: %w", t.gvr.Resource, t.namespace, t.name, err)
		}
		return nil
	})
	return time.Since(start), err
}

// metrics prints the API server's request counters and summed latencies,
// one line per verb (PATCH split by dry run): "<verb> <count> <seconds>".
func metrics(ctx context.Context) error {
	cfg, err := restConfig()
	if err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	body, err := disco.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return err
	}
	type agg struct{ count, sum float64 }
	out := map[string]*agg{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var field func(*agg, float64)
		switch {
		case strings.HasPrefix(line, "apiserver_request_duration_seconds_count{"):
			field = func(a *agg, v float64) { a.count += v }
		case strings.HasPrefix(line, "apiserver_request_duration_seconds_sum{"):
			field = func(a *agg, v float64) { a.sum += v }
		default:
			continue
		}
		labels, value, ok := strings.Cut(line[strings.Index(line, "{")+1:], "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		verb, dry := label(labels, "verb"), label(labels, "dry_run")
		if dry != "" {
			verb += "(dry-run)"
		}
		if out[verb] == nil {
			out[verb] = &agg{}
		}
		field(out[verb], v)
	}
	verbs := make([]string, 0, len(out))
	for v := range out {
		verbs = append(verbs, v)
	}
	sort.Strings(verbs)
	for _, v := range verbs {
		fmt.Printf("%s %.0f %.6f\n", v, out[v].count, out[v].sum)
	}
	return sc.Err()
}

func label(labels, name string) string {
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// metricsDiff prints "<verb> <count> <seconds>" for what grew between two
// snapshots, most expensive first.
func metricsDiff(a, b string) error {
	read := func(f string) (map[string][2]float64, error) {
		raw, err := os.ReadFile(f) // #nosec G304 -- a path the bench script passes
		if err != nil {
			return nil, err
		}
		m := map[string][2]float64{}
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			var verb string
			var c, s float64
			if _, err := fmt.Sscanf(line, "%s %g %g", &verb, &c, &s); err == nil {
				m[verb] = [2]float64{c, s}
			}
		}
		return m, nil
	}
	before, err := read(a)
	if err != nil {
		return err
	}
	after, err := read(b)
	if err != nil {
		return err
	}
	type row struct {
		verb     string
		count, s float64
	}
	var rows []row
	for v, x := range after {
		if d := x[0] - before[v][0]; d > 0 {
			rows = append(rows, row{v, d, x[1] - before[v][1]})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].s > rows[j].s })
	for _, r := range rows {
		fmt.Printf("%s %.0f %.3f\n", r.verb, r.count, r.s)
	}
	return nil
}

// rss waits for pid to exit and prints the highest peak resident set
// (VmHWM, MiB) of any terraform-provider-idp process it started meanwhile.
func rss(pidArg string) error {
	root, err := strconv.Atoi(pidArg)
	if err != nil {
		return err
	}
	peak := 0
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", root)); err != nil {
			break
		}
		for _, p := range descendants(root) {
			exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
			if !strings.HasPrefix(filepath.Base(exe), "terraform-provider-idp") {
				continue
			}
			if kb := vmHWM(p); kb > peak {
				peak = kb
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("%.0f\n", float64(peak)/1024)
	return nil
}

func descendants(root int) []int {
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		for _, t := range tasks {
			raw, _ := os.ReadFile(t) // #nosec G304 -- /proc
			for _, f := range strings.Fields(string(raw)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
					queue = append(queue, c)
				}
			}
		}
	}
	return out
}

func vmHWM(pid int) int {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)) // #nosec G304 -- /proc
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb
		}
	}
	return 0
}

// requests counts the API requests the provider logged (engine/trace.go)
// by method, and prints them per object.
func requests(logPath, objectsArg string) error {
	objects, err := strconv.Atoi(objectsArg)
	if err != nil || objects <= 0 {
		return fmt.Errorf("objects: %q", objectsArg)
	}
	f, err := os.Open(logPath) // #nosec G304 -- a path the bench script passes
	if err != nil {
		return err
	}
	defer f.Close()
	byMethod := map[string]int{}
	total := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "kubernetes request:") {
			continue
		}
		for _, field := range strings.Fields(line) {
			if m, ok := strings.CutPrefix(field, "method="); ok {
				byMethod[m]++
				total++
			}
		}
	}
	methods := make([]string, 0, len(byMethod))
	for m := range byMethod {
		methods = append(methods, m)
	}
	sort.Strings(methods)
	parts := make([]string, len(methods))
	for i, m := range methods {
		parts[i] = fmt.Sprintf("%s %d (%.2f)", m, byMethod[m], float64(byMethod[m])/float64(objects))
	}
	fmt.Printf("%d requests for %d objects, %.2f per object: %s\n", total, objects, float64(total)/float64(objects), strings.Join(parts, ", "))
	return sc.Err()
}

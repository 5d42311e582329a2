// Command testreport prints what make test shows of `go test -json` runs
// that ran at once (scripts/test.sh): for each run, its label, every failing
// test's output, each package's own output (the suites' summaries) and its
// result; then the slowest tests of all runs, so the time budget has
// numbers. It exits 1 if any run failed or ended without a result (a build
// error, a crash, a timeout's panic).
//
//	testreport [-slowest N] label=file.json ...
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type timing struct {
	run, test string
	seconds   float64
	failed    bool
}

func main() {
	slowest := flag.Int("slowest", 15, "how many of the slowest tests to list")
	flag.Parse()
	failed := false
	var times []timing
	for _, arg := range flag.Args() {
		label, file, ok := strings.Cut(arg, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "testreport: %q is not label=file\n", arg)
			os.Exit(2)
		}
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testreport:", err)
			os.Exit(2)
		}
		fmt.Printf("== %s\n", label)
		ok, ts := report(os.Stdout, label, f)
		f.Close()
		failed = failed || !ok
		times = append(times, ts...)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].seconds > times[j].seconds })
	if len(times) > *slowest {
		times = times[:*slowest]
	}
	if len(times) > 0 {
		fmt.Println("== slowest tests")
		tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "seconds\trun\ttest\t")
		for _, t := range times {
			mark := ""
			if t.failed {
				mark = " (failed)"
			}
			fmt.Fprintf(tw, "%.0f\t%s\t%s%s\t\n", t.seconds, t.run, t.test, mark)
		}
		_ = tw.Flush()
	}
	if failed {
		os.Exit(1)
	}
}

// report prints one run and returns whether every package in it passed,
// and its top-level tests' times.
func report(w io.Writer, label string, r io.Reader) (bool, []timing) {
	outputs := map[string]*strings.Builder{} // package + " " + test
	results := map[string]string{}           // package → pass/fail
	var packages []string
	var times []timing
	ok := true
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			// go test's own lines (a build failure before any event).
			fmt.Fprintln(w, sc.Text())
			ok = false
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output", "build-output":
			if e.Test == "" {
				fmt.Fprint(w, e.Output) // the package's own output
				continue
			}
			if outputs[key] == nil {
				outputs[key] = &strings.Builder{}
			}
			outputs[key].WriteString(e.Output)
		case "pass", "fail", "skip":
			if e.Test == "" {
				if _, seen := results[e.Package]; !seen {
					packages = append(packages, e.Package)
				}
				results[e.Package] = e.Action
				continue
			}
			if b := outputs[key]; e.Action == "fail" && b != nil {
				fmt.Fprint(w, b.String()) // as go test prints it: when it fails
			}
			if !strings.Contains(e.Test, "/") && e.Action != "skip" {
				times = append(times, timing{run: label, test: e.Test, seconds: e.Elapsed, failed: e.Action == "fail"})
			}
			delete(outputs, key)
		}
	}
	if len(packages) == 0 {
		fmt.Fprintf(w, "%s: no test result (the run did not start or did not end)\n", label)
		ok = false
	}
	for _, p := range packages {
		if results[p] == "fail" {
			ok = false
		}
	}
	return ok, times
}

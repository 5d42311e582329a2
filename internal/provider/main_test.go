package provider_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/idpkit/terraform-provider-idp/internal/acctest"
)

// TestMain turns on trace logging and the secret scan for acceptance tests
// (acctest.Main) and prints the scan's totals.
func TestMain(m *testing.M) { os.Exit(acctest.Main(m)) }

var direct = regexp.MustCompile(`resource\.(Parallel)?Test\(`)

// Every acceptance test goes through acctest.Test or acctest.ParallelTest,
// so that it runs at TF_LOG=trace and its output is scanned for secrets.
func TestAcceptanceTestsAreScanned(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f) //nolint:gosec // this package's own sources
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			if direct.MatchString(line) {
				t.Errorf("%s:%d calls resource.Test directly: use acctest.Test (trace logs and the secret scan)", f, i+1)
			}
		}
	}
}

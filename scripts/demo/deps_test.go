package main

import (
	"os/exec"
	"strings"
	"testing"
)

// make demo is a program, not a test: it links the stack client and the
// fake GitHub, never the testing package or the tofu acceptance runner
// (whose init rewrites TF_* variables).
func TestDemoLinksNoTestHarness(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" || strings.HasSuffix(dep, "/internal/acctest") || strings.HasSuffix(dep, "/internal/provider") {
			t.Errorf("the demo links %s", dep)
		}
	}
}

package engine_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The engine's tests reach the stack through internal/stack: they must not
// compile the provider (or the tofu runner, which imports it).
func TestEngineTestsDoNotCompileTheProvider(t *testing.T) {
	out, err := exec.Command("go", "list", "-test", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -test -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasSuffix(dep, "/internal/provider") || strings.HasSuffix(dep, "/internal/acctest") {
			t.Errorf("the engine's tests compile %s", dep)
		}
	}
}

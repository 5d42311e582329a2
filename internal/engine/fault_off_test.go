//go:build !idpfault

package engine

import (
	"os"
	"path/filepath"
	"testing"
)

// Without -tags idpfault (go build, goreleaser: every binary users get) a
// fault spec, even a malformed one, is ignored, and a point reached neither
// writes its marker nor blocks. scripts/test.sh checks the release binary
// itself for leftovers of fault_on.go.
func TestReleaseHasNoFaultPoints(t *testing.T) {
	if FaultPoints {
		t.Fatal("FaultPoints is true without -tags idpfault")
	}
	marker := filepath.Join(t.TempDir(), "fault")
	for _, spec := range []string{"not a spec", FaultObjectWritten + "=" + marker} {
		if err := ArmFault(spec); err != nil {
			t.Errorf("ArmFault(%q) = %v, want the spec ignored", spec, err)
		}
	}
	if reachFault(t, FaultObjectWritten) {
		t.Error("a fault point blocked in a build without fault points")
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("a fault point wrote its marker in a build without fault points")
	}
}

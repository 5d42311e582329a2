//go:build idpfault

package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With -tags idpfault (the fault suite's provider binary) an armed point
// writes its marker and holds until released; a malformed spec is refused.
func TestFaultPointsArmed(t *testing.T) {
	if !FaultPoints {
		t.Fatal("FaultPoints is false with -tags idpfault")
	}
	if err := ArmFault("not a spec"); err == nil {
		t.Error("ArmFault accepted a malformed spec")
	}
	marker := filepath.Join(t.TempDir(), "fault")
	if err := ArmFault(FaultObjectWritten + "=" + marker); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ArmFault("") })
	if !reachFault(t, FaultObjectWritten) {
		t.Fatal("the armed point did not hold")
	}
	if b, err := os.ReadFile(marker); err != nil || !strings.HasPrefix(string(b), FaultObjectWritten+" here") {
		t.Errorf("marker = %q (%v), want %q", b, err, FaultObjectWritten+" here")
	}
}

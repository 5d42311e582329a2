//go:build idpfault

package engine

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// FaultPoints says whether this binary has fault points (fault.go).
const FaultPoints = true

type faultArm struct {
	point  string
	nth    int64  // fire at the nth time the point is reached
	at     string // or the first time it is reached at an object or path containing this
	marker string
	seen   atomic.Int64
}

var armedFault atomic.Pointer[faultArm]

// ArmFault arms spec "<point>[#<n>|@<where>]=<marker file>": the n-th time
// (default the first) this process reaches point, or the first time it
// reaches it at an object or Vault path containing <where>
// ("delete-requested@EventSource/"), it writes the marker and blocks. An
// empty spec disarms.
func ArmFault(spec string) error {
	if spec == "" {
		armedFault.Store(nil)
		return nil
	}
	point, marker, ok := strings.Cut(spec, "=")
	if !ok || marker == "" {
		return fmt.Errorf("fault spec %q is not <point>[#<n>|@<where>]=<marker file>", spec)
	}
	a := &faultArm{point: point, nth: 1, marker: marker}
	if p, at, ok := strings.Cut(point, "@"); ok {
		a.point, a.at, a.nth = p, at, 0
	} else if p, n, ok := strings.Cut(point, "#"); ok {
		nth, err := strconv.ParseInt(n, 10, 64)
		if err != nil || nth < 1 {
			return fmt.Errorf("fault spec %q: %q is not a positive count", spec, n)
		}
		a.point, a.nth = p, nth
	}
	if old := armedFault.Load(); old != nil && old.point == a.point && old.nth == a.nth && old.at == a.at && old.marker == a.marker {
		return nil // configured again in the same process: keep counting
	}
	armedFault.Store(a)
	return nil
}

// fault is a fault point. When armed for point and reached for the n-th
// time, it records where it stopped in the marker file and blocks until
// ctx ends (the test kills the process long before) or the test writes
// "<marker>.release" (to break a service meanwhile, then let the apply go on).
func fault(ctx context.Context, point, where string) {
	a := armedFault.Load()
	if a == nil || a.point != point {
		return
	}
	if a.at != "" {
		if !strings.Contains(where, a.at) || a.seen.Add(1) != 1 {
			return
		}
	} else if a.seen.Add(1) != a.nth {
		return
	}
	if err := os.WriteFile(a.marker, []byte(point+" "+where+"\n"), 0o600); err != nil {
		return
	}
	for Sleep(ctx, 100*time.Millisecond) {
		if _, err := os.Stat(a.marker + ".release"); err == nil {
			return
		}
	}
}

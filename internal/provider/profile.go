package provider

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// StartProfile starts a CPU profile of this provider process when
// IDP_CPU_PROFILE is set, into <IDP_CPU_PROFILE>.<pid> (tofu starts several
// processes per run). The returned function ends it; main calls it when tofu
// shuts the plugin down.
func StartProfile() (stop func(), err error) {
	p := cpuProfilePath()
	if p == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", p, os.Getpid())) // #nosec G304 -- the developer's own path
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

//go:build !idpfault

package provider

import "testing"

// A release build (no -tags idpfault) ignores IDP_FAULT: a stray one, even
// malformed, neither fails Configure nor arms anything (engine/fault.go).
func TestReleaseIgnoresIDPFault(t *testing.T) {
	t.Setenv("IDP_FAULT", "object-written=/tmp/idp-fault-marker")
	if s := faultSpec(); s != "" {
		t.Errorf("faultSpec() = %q in a release build, want IDP_FAULT ignored", s)
	}
	t.Setenv("IDP_FAULT", "not a spec")
	for _, d := range validateAny(t, protocolServer(t), "provider", validProviderSettings()) {
		t.Errorf("Configure with a stray IDP_FAULT: %s: %s", d.Summary, d.Detail)
	}
}

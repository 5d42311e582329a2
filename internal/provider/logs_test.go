package provider

import (
	"os"
	"strings"
	"testing"
)

// TestQuietUnreadLogs: without any TF_LOG* variable (tofu then drops what
// a provider logs) the SDK's and the provider's levels are off; any one of
// them leaves every level as the SDK sets it.
func TestQuietUnreadLogs(t *testing.T) {
	levels := []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_LOG_PROVIDER_IDP"}
	clear := func() {
		for _, kv := range os.Environ() {
			if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TF_LOG") || strings.HasPrefix(k, "TF_ACC_LOG") {
				t.Setenv(k, "") // restored after the test
				_ = os.Unsetenv(k)
			}
		}
		for _, k := range levels {
			t.Setenv(k, "")
			_ = os.Unsetenv(k)
		}
	}

	clear()
	QuietUnreadLogs()
	for _, k := range levels {
		if v := os.Getenv(k); v != "off" {
			t.Errorf("without TF_LOG*: %s = %q, want off", k, v)
		}
	}

	for _, asked := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_PATH", "TF_ACC_LOG"} {
		clear()
		t.Setenv(asked, "x")
		QuietUnreadLogs()
		for _, k := range levels {
			if v, set := os.LookupEnv(k); set {
				t.Errorf("with %s: %s = %q, want it left unset", asked, k, v)
			}
		}
	}
}

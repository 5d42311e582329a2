package acctest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// RealNode skips a test unless the stack runs the real node and its CI
// platform (Argo Events, Argo Workflows, Traefik, the builds registry):
// the variables stack-up writes into .stack/env for them.
func RealNode(t *testing.T) {
	t.Helper()
	PreCheck(t)
	for _, env := range []string{"IDP_STACK_HOST_IP", "IDP_STACK_TRAEFIK_URL", "IDP_STACK_REGISTRY_HOST", "IDP_STACK_REGISTRY_USER", "IDP_STACK_REGISTRY_PASSWORD"} {
		if os.Getenv(env) == "" {
			t.Fatalf("%s is not set: the stack has no real node (make stack-up, . .stack/env)", env)
		}
	}
}

// RealNodeAnnotations are the namespace annotations that send a project's
// pods to the stack's real node instead of the kwok nodes (README: "Which
// node runs a pod"), as an HCL map for idp_project.annotations.
const RealNodeAnnotations = `{
    "scheduler.alpha.kubernetes.io/node-selector"       = "kubernetes.io/hostname=idp-node"
    "scheduler.alpha.kubernetes.io/defaultTolerations" = "[{\"key\":\"idp.dev/real-node\",\"operator\":\"Exists\",\"effect\":\"NoSchedule\"}]"
  }`

// TestAppFiles is a repository for the fake GitHub that kaniko builds into
// a tiny HTTP server answering version on every path (testapp).
func TestAppFiles(t *testing.T, version string) map[string][]byte {
	t.Helper()
	files, err := TestAppRepo(version)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestAppRepo is TestAppFiles for programs outside tests (make demo). It
// builds testapp with the go command from this package's source directory.
func TestAppRepo(version string) (map[string][]byte, error) {
	bin, err := testAppBinary()
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY --chmod=755 testapp /testapp\nCOPY --chmod=755 testapp /bin/sleep\nCOPY version /version\nENTRYPOINT [\"/testapp\"]\n"),
		"testapp":    bin,
		"version":    []byte(version),
	}, nil
}

var testApp struct {
	sync.Mutex
	bin []byte
}

func testAppBinary() ([]byte, error) {
	testApp.Lock()
	defer testApp.Unlock()
	if testApp.bin != nil {
		return testApp.bin, nil
	}
	_, self, _, _ := runtime.Caller(0)
	dir, err := os.MkdirTemp("", "testapp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "testapp")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./testapp")
	cmd.Dir = filepath.Dir(self)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building testapp: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	testApp.bin = b
	return b, nil
}

// Serving GETs Traefik's web entry point with a Host header, as a browser
// would for domain: the body and status, or an error.
func Serving(ctx context.Context, domain string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, os.Getenv("IDP_STACK_TRAEFIK_URL")+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = domain
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

package stack

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
)

// Private instances of the stack's services, for tests that stop, seal or
// restart them: the shared stack's processes serve every other test and
// are never touched. Each is started by the test, on a free port, and
// stopped (and its data removed) when the test ends.

// freePort returns a loopback port nobody listens on now.
func freePort(t T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// process is a server process started by a test.
type process struct {
	t    T
	name string
	bin  string
	args []string
	dir  string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *process) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = p.dir, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); f.Close(); close(done) }()
	p.cmd, p.done = cmd, done
}

// stop kills the process (as a crash or `kill -9` would) and waits for it.
func (p *process) stop() {
	if p.cmd == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	p.cmd = nil
}

// waitFor polls ready until it holds, failing with the log's tail after timeout.
func (p *process) waitFor(what string, timeout time.Duration, ready func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !ready() {
		select {
		case <-p.done:
			p.t.Fatalf("%s exited while waiting for %s:\n%s", p.name, what, tail(p.log))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: timed out waiting for %s:\n%s", p.name, what, tail(p.log))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// stackDir is the stack's state directory (.stack), where its kubeconfig is.
func stackDir(t T) string {
	t.Helper()
	PreCheck(t)
	return filepath.Dir(os.Getenv("KUBECONFIG"))
}

// cmdlineOf returns the arguments the stack started component with.
func cmdlineOf(t T, component string) []string {
	t.Helper()
	pid, err := os.ReadFile(filepath.Join(stackDir(t), "pids", component+".pid"))
	if err != nil {
		t.Fatalf("the stack's %s: %v", component, err)
	}
	b, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(pid)), "cmdline"))
	if err != nil {
		t.Fatalf("the stack's %s is not running: %v", component, err)
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

// withFlags returns args with each --name=value of set replaced (or added).
func withFlags(args []string, set map[string]string) []string {
	out := []string{args[0]}
	for _, a := range args[1:] {
		name, _, _ := strings.Cut(a, "=")
		if _, ok := set[strings.TrimPrefix(name, "--")]; !ok {
			out = append(out, a)
		}
	}
	for k, v := range set {
		out = append(out, "--"+k+"="+v)
	}
	return out
}

// PrivateAPIServer is a kube-apiserver of the test's own: the stack's binary,
// certificates and etcd, under an etcd prefix of its own (a separate, empty
// cluster, as the stack's bare server is), with a controller manager that
// finishes namespace deletions. The CRDs the provider needs are installed.
type PrivateAPIServer struct {
	Kubeconfig string
	URL        string
	t          T
	api, kcm   *process
	etcd       string // the stack's etcd client URL
	prefix     string
}

// StartAPIServer starts a private API server; it is stopped, and its etcd
// prefix emptied, when the test ends.
func StartAPIServer(t T) *PrivateAPIServer {
	t.Helper()
	PreCheck(t)
	dir := t.TempDir()
	port := freePort(t)
	s := &PrivateAPIServer{t: t, URL: fmt.Sprintf("https://127.0.0.1:%d", port), prefix: "/registry-" + strings.ToLower(Name("private"))}
	args := cmdlineOf(t, "kube-apiserver-bare")
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--etcd-servers="); ok {
			s.etcd = strings.Split(v, ",")[0]
		}
	}
	args = withFlags(args, map[string]string{
		"etcd-prefix": s.prefix, "secure-port": strconv.Itoa(port), "cert-dir": filepath.Join(dir, "certs"),
	})
	s.api = &process{t: t, name: "private kube-apiserver", bin: args[0], args: args[1:], dir: dir, log: filepath.Join(dir, "apiserver.log")}

	bare, err := os.ReadFile(BareKubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	bareURL := ""
	for _, l := range strings.Split(string(bare), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "server: "); ok {
			bareURL = v
		}
	}
	if bareURL == "" {
		t.Fatal("no server in the stack's bare kubeconfig")
	}
	s.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(s.Kubeconfig, []byte(strings.ReplaceAll(string(bare), bareURL, s.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	kcm := withFlags(cmdlineOf(t, "kube-controller-manager-bare"), map[string]string{
		"kubeconfig": s.Kubeconfig, "authentication-kubeconfig": s.Kubeconfig, "authorization-kubeconfig": s.Kubeconfig,
		"secure-port": strconv.Itoa(freePort(t)), "cert-dir": filepath.Join(dir, "kcm"),
	})
	s.kcm = &process{t: t, name: "private kube-controller-manager", bin: kcm[0], args: kcm[1:], dir: dir, log: filepath.Join(dir, "kcm.log")}

	t.Cleanup(func() {
		s.kcm.stop()
		s.api.stop()
		s.emptyPrefix()
	})
	s.Start()
	s.kcm.start()
	crds := CRDs(t,
		"argo-events/argoproj.io_eventbus.yaml", "argo-events/argoproj.io_eventsources.yaml", "argo-events/argoproj.io_sensors.yaml",
		"argo-workflows/argoproj.io_workflowtemplates.yaml", "argo-workflows/argoproj.io_workflows.yaml", "traefik/traefik.io_crds.yaml",
		StackArgoCRD(t, "argoproj.io_cronworkflows.yaml"))
	if err := InstallCRDs(s.Kubeconfig, crds); err != nil {
		t.Fatalf("installing CRDs on the private API server: %v", err)
	}
	return s
}

// Stop kills the API server (etcd keeps its data).
func (s *PrivateAPIServer) Stop() { s.api.stop() }

// Start starts the API server again and waits until it is ready.
func (s *PrivateAPIServer) Start() {
	s.t.Helper()
	s.api.start()
	token := ""
	kc, _ := os.ReadFile(s.Kubeconfig)
	for _, l := range strings.Split(string(kc), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "token: "); ok {
			token = v
		}
	}
	ca, err := os.ReadFile(filepath.Join(stackDir(s.t), "pki", "ca.crt"))
	if err != nil {
		s.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	s.api.waitFor("/readyz", 90*time.Second, func() bool {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// emptyPrefix deletes the server's keys from the stack's etcd (through
// etcd's JSON gateway), leaving etcd as it was.
func (s *PrivateAPIServer) emptyPrefix() {
	if s.etcd == "" {
		return
	}
	end := []byte(s.prefix + "/")
	end[len(end)-1]++
	body, _ := json.Marshal(map[string]string{
		"key":       base64.StdEncoding.EncodeToString([]byte(s.prefix + "/")),
		"range_end": base64.StdEncoding.EncodeToString(end),
	})
	resp, err := http.Post(s.etcd+"/v3/kv/deleterange", "application/json", bytes.NewReader(body))
	if err != nil {
		s.t.Logf("emptying etcd prefix %s: %v", s.prefix, err)
		return
	}
	resp.Body.Close()
}

// PrivateVault is a Vault server of the test's own: the stack's binary, with
// integrated (raft) storage, one node, so it keeps its data across a stop;
// initialised with one unseal key, and the stack's KV v2 mount. Unlike the
// stack's dev server it can be stopped, restarted and sealed. (Raft, not
// file: the stack's Vault is built with the "minimal" tag, which has no file
// storage; scripts/tools.sh.)
type PrivateVault struct {
	Addr, Token, Mount string
	t                  T
	proc               *process
	unsealKey          string
}

// StartVault starts a private Vault; it is stopped when the test ends.
func StartVault(t T) *PrivateVault {
	t.Helper()
	PreCheck(t)
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "scripts", "tools.sh"), "--path", "vault").Output()
	if err != nil {
		t.Fatalf("scripts/tools.sh --path vault: %v", err)
	}
	dir := t.TempDir()
	port := freePort(t)
	v := &PrivateVault{Addr: fmt.Sprintf("http://127.0.0.1:%d", port), Mount: os.Getenv("IDP_VAULT_KV_MOUNT"), t: t}
	clusterAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`storage "raft" {
  path    = %q
  node_id = "private"
}
listener "tcp" {
  address         = "127.0.0.1:%d"
  cluster_address = %q
  tls_disable     = true
}
disable_mlock = true
api_addr      = %q
cluster_addr  = "http://%s"
`, filepath.Join(dir, "data"), port, clusterAddr, v.Addr, clusterAddr)
	if err := os.WriteFile(filepath.Join(dir, "vault.hcl"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	v.proc = &process{t: t, name: "private vault", bin: filepath.Join(strings.TrimSpace(string(out)), "vault"),
		args: []string{"server", "-config=" + filepath.Join(dir, "vault.hcl"), "-log-level=warn"}, dir: dir, log: filepath.Join(dir, "vault.log")}
	t.Cleanup(v.Stop)
	v.proc.start()
	v.waitUp()

	c := v.client("")
	init, err := c.Sys().Init(&vaultapi.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatalf("initialising the private vault: %v", err)
	}
	v.Token, v.unsealKey = init.RootToken, init.Keys[0]
	v.Unseal()
	if err := v.client(v.Token).Sys().Mount(v.Mount, &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatalf("mounting kv-v2 at %s: %v", v.Mount, err)
	}
	// The mount answers once its upgrade to v2 is done.
	v.proc.waitFor("the kv-v2 mount", 30*time.Second, func() bool {
		_, err := v.client(v.Token).Logical().Read(v.Mount + "/config")
		return err == nil
	})
	return v
}

func (v *PrivateVault) client(token string) *vaultapi.Client {
	c, err := vaultapi.NewClient(&vaultapi.Config{Address: v.Addr, Timeout: 30 * time.Second})
	if err != nil {
		v.t.Fatal(err)
	}
	c.SetToken(token)
	return c
}

func (v *PrivateVault) waitUp() {
	v.proc.waitFor("its API", 30*time.Second, func() bool {
		resp, err := http.Get(v.Addr + "/v1/sys/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
}

// Stop kills Vault; its data stays on disk.
func (v *PrivateVault) Stop() { v.proc.stop() }

// Start starts Vault again and unseals it.
func (v *PrivateVault) Start() {
	v.t.Helper()
	v.proc.start()
	v.waitUp()
	v.Unseal()
}

// Seal seals Vault, as an operator or an HA failover does.
func (v *PrivateVault) Seal() {
	v.t.Helper()
	if err := v.client(v.Token).Sys().Seal(); err != nil {
		v.t.Fatalf("sealing the private vault: %v", err)
	}
}

// Unseal unseals Vault with its one key.
func (v *PrivateVault) Unseal() {
	v.t.Helper()
	st, err := v.client("").Sys().Unseal(v.unsealKey)
	if err != nil || st.Sealed {
		v.t.Fatalf("unsealing the private vault: %v", err)
	}
	// Unsealed, the one raft node still elects itself leader before it
	// serves: until then it answers as a standby (429 on sys/health).
	v.proc.waitFor("its leadership", 30*time.Second, func() bool {
		resp, err := http.Get(v.Addr + "/v1/sys/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// Put writes a secret and returns its version.
func (v *PrivateVault) Put(path string, values map[string]any) int {
	v.t.Helper()
	s, err := v.client(v.Token).KVv2(v.Mount).Put(context.Background(), path, values)
	if err != nil {
		v.t.Fatalf("writing %s to the private vault: %v", path, err)
	}
	return s.VersionMetadata.Version
}

// Get reads a secret (nil when there is none).
func (v *PrivateVault) Get(path string) *vaultapi.KVSecret {
	v.t.Helper()
	s, err := v.client(v.Token).KVv2(v.Mount).Get(context.Background(), path)
	if err != nil {
		return nil
	}
	return s
}

// ReadOnlyToken returns a token that may read the KV mount but not write it.
func (v *PrivateVault) ReadOnlyToken() string {
	v.t.Helper()
	c := v.client(v.Token)
	policy := fmt.Sprintf("path %q { capabilities = [\"read\", \"list\"] }\npath %q { capabilities = [\"read\", \"list\"] }\n",
		v.Mount+"/data/*", v.Mount+"/metadata/*")
	if err := c.Sys().PutPolicy("kv-read-only", policy); err != nil {
		v.t.Fatal(err)
	}
	tok, err := c.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"kv-read-only"}, NoDefaultPolicy: true})
	if err != nil {
		v.t.Fatal(err)
	}
	return tok.Auth.ClientToken
}

// Package engine is the one path from resources to Kubernetes and Vault.
//
// Resources render the objects they want (package render) and hand them to
// the engine, which owns server-side apply, drift detection, deletion,
// waiting, and Vault KV access. Resources never call client-go or the Vault
// API themselves, so every fix to how we talk to a cluster lands once.
package engine

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the server-side apply field manager for every object we write.
const FieldManager = "terraform-provider-idp"

// No client-side rate limit (QPS < 0): tofu runs 10 resources in parallel,
// each reads its objects several at a time, and a refresh of 50 projects is
// about 2,000 requests; any client limit makes that a wait of seconds. The
// API server's own priority and fairness protects it.
const (
	clientQPS   = -1
	clientBurst = 0
)

// Options tells the engine how to reach its backends. Both functions are
// called at most once, at first use: provider configuration may be unknown
// until apply, so nothing is contacted before a resource needs it.
type Options struct {
	Kubernetes func() (*rest.Config, error)
	Vault      func() (*VaultConfig, error)
	// ReadSelector is the label selector of the objects we write; refresh
	// reads list them by kind (snapshot.go). Empty: refresh reads GET.
	ReadSelector string
}

// Engine is safe for concurrent use by all resources of one provider process.
type Engine struct {
	kube         lazy[*kubeClients]
	vault        lazy[*KV]
	verified     verifiedCache // see verified.go
	snap         snapshots     // see snapshot.go
	readSelector string
	dryRuns      atomic.Int64 // Diff's dry-run applies, for tests
}

type kubeClients struct {
	config  *rest.Config // for streaming subresources (exec)
	dynamic dynamic.Interface
	raw     rest.Interface // for requests whose bodies stay undecoded (snapshot.go)
	kinds   *kindResolver
}

// New returns an engine that connects lazily.
func New(opts Options) *Engine {
	e := &Engine{readSelector: opts.ReadSelector}
	e.kube.init = func() (*kubeClients, error) {
		if opts.Kubernetes == nil {
			return nil, fmt.Errorf("kubernetes is not configured")
		}
		cfg, err := opts.Kubernetes()
		if err != nil {
			return nil, err
		}
		return newKubeClients(cfg)
	}
	e.vault.init = func() (*KV, error) {
		if opts.Vault == nil {
			return nil, fmt.Errorf("vault is not configured")
		}
		cfg, err := opts.Vault()
		if err != nil {
			return nil, err
		}
		return newKV(cfg)
	}
	return e
}

func newKubeClients(cfg *rest.Config) (*kubeClients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	cfg.UserAgent = FieldManager
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return traceRequests{rt} })
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building Kubernetes client: %w", err)
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building Kubernetes discovery client: %w", err)
	}
	// One in-memory discovery cache per provider process: resources share it,
	// and it is only refreshed when a kind is missing (see kinds.go).
	cached := memory.NewMemCacheClient(disco)
	return &kubeClients{
		config:  cfg,
		dynamic: dyn,
		raw:     disco.RESTClient(),
		kinds:   newKindResolver(restmapper.NewDeferredDiscoveryRESTMapper(cached), time.Second),
	}, nil
}

func (e *Engine) kubeClients() (*kubeClients, error) { return e.kube.get() }

// KV returns the Vault KV v2 client, connecting on first use.
func (e *Engine) KV() (*KV, error) { return e.vault.get() }

// lazy builds a value once, on first use, and remembers the outcome.
type lazy[T any] struct {
	once sync.Once
	init func() (T, error)
	val  T
	err  error
}

func (l *lazy[T]) get() (T, error) {
	l.once.Do(func() { l.val, l.err = l.init() })
	return l.val, l.err
}

// VaultConfig is what the engine needs to reach Vault KV v2.
type VaultConfig struct {
	Address   string
	Token     string
	Namespace string
	Mount     string
}

func newKV(cfg *VaultConfig) (*KV, error) {
	vc := vaultapi.DefaultConfig()
	vc.Address = cfg.Address
	// Retries live in our callers' timeouts, not hidden inside the client.
	vc.MaxRetries = 2
	client, err := vaultapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("building Vault client for %s: %w", cfg.Address, err)
	}
	client.SetToken(cfg.Token)
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	}
	return &KV{client: client, mount: cfg.Mount}, nil
}

// Sleep waits for d or until ctx ends, reporting whether ctx is still
// alive: the one pause of every poll, here and in the provider.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

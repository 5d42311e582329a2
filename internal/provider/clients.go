package provider

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-github/v60/github"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/render"
)

// ProviderData is what resources get from Configure. Nothing in it has
// contacted a server: clients connect at first use, so Configure succeeds
// with settings that are unknown until apply.
type ProviderData struct {
	Engine   *engine.Engine
	cfg      config           // every setting, for the connections
	set      providerSettings // the settings resources read
	github   lazyGitHub
	creating plannedDatabases // see idp_database_credentials
}

// Registry returns the registry host and project, which image names need.
func (d *ProviderData) Registry() (host, project string, err error) {
	if host, err = d.set.RegistryHost.require(); err != nil {
		return "", "", err
	}
	project, err = d.set.RegistryProject.require()
	return host, project, err
}

// WebhookBaseURL returns the public URL GitHub posts webhooks to.
func (d *ProviderData) WebhookBaseURL() (string, error) {
	u, err := d.set.WebhookBaseURL.require()
	return strings.TrimSuffix(u, "/"), err
}

// Isolation returns what every isolated project admits besides itself: the
// namespaces of the ingress and event controllers, and address ranges for
// an ingress that is not a pod (provider block isolation).
func (d *ProviderData) Isolation() (namespaces, cidrs []string, err error) {
	ns, err := d.set.IsolationNamespaces.get()
	if err != nil {
		return nil, nil, err
	}
	c, err := d.set.IsolationCIDRs.get()
	return splitList(ns), splitList(c), err
}

// GitHub returns a GitHub client, or nil when no token is configured
// (GitHub checks and first builds are then skipped).
func (d *ProviderData) GitHub() (*github.Client, error) { return d.github.get(d.cfg) }

func newProviderData(cfg config) *ProviderData {
	return &ProviderData{
		cfg: cfg,
		set: newProviderSettings(cfg),
		Engine: engine.New(engine.Options{
			Kubernetes:   func() (*rest.Config, error) { return kubeRESTConfig(cfg) },
			Vault:        func() (*engine.VaultConfig, error) { return vaultConfig(cfg) },
			ReadSelector: render.LabelManagedBy + "=" + render.ManagedBy,
		}),
	}
}

// kubeRESTConfig follows the kubernetes provider's rules: a kubeconfig when
// a path is given, explicit host/credentials on top, else in-cluster.
func kubeRESTConfig(cfg config) (*rest.Config, error) {
	get := func(key string) (string, error) { return cfg.get("kubernetes." + key) }
	var vals = map[string]string{}
	for _, k := range []string{"config_path", "config_context", "host", "token", "cluster_ca_certificate", "client_certificate", "client_key", "insecure"} {
		v, err := get(k)
		if err != nil {
			return nil, err
		}
		vals[k] = v
	}
	insecure := false
	if vals["insecure"] != "" {
		b, err := strconv.ParseBool(vals["insecure"])
		if err != nil {
			return nil, fmt.Errorf("provider setting kubernetes.insecure: %q is not a boolean", vals["insecure"])
		}
		insecure = b
	}
	if vals["config_path"] == "" && vals["host"] == "" {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no Kubernetes connection configured and not running in a cluster: set kubernetes { config_path = ... } "+
				"(KUBE_CONFIG_PATH or KUBECONFIG) or kubernetes { host = ... } (KUBE_HOST) in the provider \"idp\" configuration (%v)", err)
		}
		return c, nil
	}
	rules := &clientcmd.ClientConfigLoadingRules{}
	if p := vals["config_path"]; p != "" {
		rules.Precedence = filepath.SplitList(p)
	}
	overrides := &clientcmd.ConfigOverrides{
		CurrentContext: vals["config_context"],
		ClusterInfo: clientcmdapi.Cluster{
			Server:                   vals["host"],
			CertificateAuthorityData: []byte(vals["cluster_ca_certificate"]),
			InsecureSkipTLSVerify:    insecure,
		},
		AuthInfo: clientcmdapi.AuthInfo{
			Token:                 vals["token"],
			ClientCertificateData: []byte(vals["client_certificate"]),
			ClientKeyData:         []byte(vals["client_key"]),
		},
	}
	c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading Kubernetes configuration (kubernetes.config_path %q): %w", vals["config_path"], err)
	}
	return c, nil
}

func vaultConfig(cfg config) (*engine.VaultConfig, error) {
	var vc engine.VaultConfig
	var err error
	for _, s := range []struct {
		key string
		dst *string
	}{{"vault.address", &vc.Address}, {"vault.token", &vc.Token}} {
		if *s.dst, err = cfg.require(s.key); err != nil {
			return nil, err
		}
	}
	if vc.Mount, err = newProviderSettings(cfg).KVMount.require(); err != nil {
		return nil, err
	}
	if vc.Namespace, err = cfg.get("vault.namespace"); err != nil {
		return nil, err
	}
	return &vc, nil
}

type lazyGitHub struct {
	once   sync.Once
	client *github.Client
	err    error
}

func (l *lazyGitHub) get(cfg config) (*github.Client, error) {
	l.once.Do(func() {
		token, err := cfg.get("github.token")
		if err != nil || token == "" {
			l.err = err
			return
		}
		l.client, l.err = newGitHubClient(cfg, token)
	})
	return l.client, l.err
}

// newGitHubClient returns a client for the configured server with token (the
// provider's, or the one CI uses).
func newGitHubClient(cfg config, token string) (*github.Client, error) {
	base, err := cfg.get("github.base_url")
	if err != nil {
		return nil, err
	}
	// The same server the pipeline registers webhooks with and clones from.
	srv, err := render.ParseGitHubBaseURL(base)
	if err != nil {
		return nil, fmt.Errorf("provider setting github.base_url: %w", err)
	}
	c := github.NewClient(&http.Client{Timeout: githubRequestTimeout}).WithAuthToken(token)
	if srv.Enterprise {
		return c.WithEnterpriseURLs(srv.APIURL, srv.UploadURL)
	}
	return c, nil
}

// providerData turns Configure's provider data into *ProviderData. It is
// nil (and no error) while the provider itself is not configured yet.
func providerData(data any, diags *diag.Diagnostics) *ProviderData {
	if data == nil {
		return nil
	}
	pd, ok := data.(*ProviderData)
	if !ok {
		diags.AddError("Unexpected provider data", fmt.Sprintf("expected *ProviderData, got %T; please report this issue", data))
	}
	return pd
}

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"

	vaultapi "github.com/hashicorp/vault/api"
)

// KV reads and writes secrets in one Vault KV v2 mount.
type KV struct {
	client *vaultapi.Client
	mount  string
}

// Values are secret key/values. They print as a redaction so that a stray
// %v in a log or error cannot leak them. The provider hands them to render
// as render.SecretValues, which redacts the same way.
type Values map[string]string

func (v Values) String() string   { return fmt.Sprintf("<%d redacted values>", len(v)) }
func (v Values) GoString() string { return v.String() }

// Format redacts every verb: String alone would leave %d printing the map.
func (v Values) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// MarshalJSON redacts too (JSON log fields); Write hands Vault the values
// as a plain map.
func (v Values) MarshalJSON() ([]byte, error) { return json.Marshal(v.String()) }

// Secret is one version of a KV v2 secret.
type Secret struct {
	Values  Values
	Version int
}

// ErrVersionConflict means a check-and-set write lost to another writer.
var ErrVersionConflict = errors.New("the secret changed in Vault while we wrote it (check-and-set failed)")

// Mount is the KV v2 mount path, without slashes.
func (k *KV) Mount() string { return k.mount }

// Read returns the latest version of path, or nil if there is none (never
// written, or its latest version deleted).
func (k *KV) Read(ctx context.Context, path string) (*Secret, error) {
	return k.ReadVersion(ctx, path, 0)
}

// ReadVersion returns one version of path (0: the latest), or nil if that
// version does not exist or was deleted or destroyed.
func (k *KV) ReadVersion(ctx context.Context, path string, version int) (*Secret, error) {
	if version == 0 {
		if r := k.takeAhead(ctx, path); r != nil {
			select {
			case <-r.done:
				return r.secret, r.err
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return k.readVersion(ctx, path, version)
}

func (k *KV) readVersion(ctx context.Context, path string, version int) (*Secret, error) {
	var s *vaultapi.KVSecret
	var err error
	if version == 0 {
		s, err = k.client.KVv2(k.mount).Get(ctx, path)
	} else {
		s, err = k.client.KVv2(k.mount).GetVersion(ctx, path, version)
	}
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Vault secret %s/%s: %w", k.mount, path, k.explain("read", path, err))
	}
	if s.Data == nil || s.VersionMetadata == nil {
		return nil, nil
	}
	values := make(Values, len(s.Data))
	for key, v := range s.Data {
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("Vault secret %s/%s: key %q is not a string", k.mount, path, key)
		}
		values[key] = str
	}
	return &Secret{Values: values, Version: s.VersionMetadata.Version}, nil
}

// Write stores values at path only if its current version is cas (0: only
// if the secret does not exist yet), so a concurrent writer is never
// overwritten. It returns the new version.
func (k *KV) Write(ctx context.Context, path string, values Values, cas int) (int, error) {
	data := make(map[string]any, len(values))
	for key, v := range values {
		data[key] = v
	}
	s, err := k.client.KVv2(k.mount).Put(ctx, path, data, vaultapi.WithCheckAndSet(cas))
	if err != nil {
		if strings.Contains(err.Error(), "check-and-set") {
			return 0, fmt.Errorf("writing Vault secret %s/%s: %w", k.mount, path, ErrVersionConflict)
		}
		return 0, fmt.Errorf("writing Vault secret %s/%s: %w", k.mount, path, k.explain("create and update", path, err))
	}
	if FaultPoints {
		fault(ctx, FaultVaultWritten, k.mount+"/"+path)
	}
	return s.VersionMetadata.Version, nil
}

// Destroy removes path with all its versions and metadata.
func (k *KV) Destroy(ctx context.Context, path string) error {
	if err := k.client.KVv2(k.mount).DeleteMetadata(ctx, path); err != nil {
		return fmt.Errorf("deleting Vault secret %s/%s: %w", k.mount, path, k.explain("delete", path, err))
	}
	return nil
}

// explain turns a failed request into what the user can do about it: an
// unreachable or sealed Vault, or a token whose policy lacks capability on
// path. Other errors are returned as Vault gave them.
func (k *KV) explain(capability, path string, err error) error {
	var resp *vaultapi.ResponseError
	var netErr net.Error
	switch {
	case errors.As(err, &resp) && resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(strings.Join(resp.Errors, " "), "sealed"):
		return fmt.Errorf("Vault at %s is sealed: unseal it (vault operator unseal), then apply again", k.client.Address())
	case errors.As(err, &resp) && resp.StatusCode == http.StatusForbidden:
		sub := "data"
		if capability == "delete" {
			sub = "metadata"
		}
		return fmt.Errorf("Vault at %s answered permission denied: the token (vault.token, VAULT_TOKEN) needs a policy "+
			"granting %q on %s/%s/%s; grant it or use another token, then apply again", k.client.Address(), capability, k.mount, sub, path)
	case errors.As(err, &netErr) || errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("Vault at %s is not reachable (%v): check that it runs and that vault.address (VAULT_ADDR) points at it, "+
			"then apply again", k.client.Address(), unwrapNet(err))
	}
	return err
}

// unwrapNet returns the innermost network error ("connect: connection
// refused"), without the URL and request that wrap it.
func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// Ensure returns the secret at path, creating it with generate() if there
// is none. Creation is check-and-set 0, so when two writers race, both end
// up with the one value that won: a generated secret is never replaced.
func (k *KV) Ensure(ctx context.Context, path string, generate func() (Values, error)) (*Secret, error) {
	for attempt := 0; attempt < 3; attempt++ {
		s, err := k.Read(ctx, path)
		if err != nil || s != nil {
			return s, err
		}
		values, err := generate()
		if err != nil {
			return nil, err
		}
		version, err := k.Write(ctx, path, values, 0)
		if errors.Is(err, ErrVersionConflict) {
			continue // someone else created it: read theirs
		}
		if err != nil {
			return nil, err
		}
		return &Secret{Values: values, Version: version}, nil
	}
	return nil, fmt.Errorf("Vault secret %s/%s keeps changing while we create it", k.mount, path)
}

// Reads started ahead.
//
// A refresh reads a resource's Vault secrets after its Kubernetes objects
// (their versions go into what it compares), one after the other: two
// round trips of its own per resource. ReadAhead starts them with the
// Kubernetes reads instead; the read of the latest version of a path then
// waits for the one started ahead, once, and reads as before after that.
// Each is taken milliseconds before the read it stands in for, within one
// resource's refresh, which a later write could not tell from the read
// itself.

type aheadKey struct{}

type ahead struct {
	kv *KV
	mu sync.Mutex
	m  map[string]*aheadRead
}

type aheadRead struct {
	done   chan struct{}
	secret *Secret
	err    error
}

// ReadAhead starts reading the latest versions of paths and returns ctx
// carrying the reads, for ReadVersion to take.
func (k *KV) ReadAhead(ctx context.Context, paths ...string) context.Context {
	a := &ahead{kv: k, m: make(map[string]*aheadRead, len(paths))}
	for _, p := range paths {
		if _, dup := a.m[p]; dup || p == "" {
			continue
		}
		r := &aheadRead{done: make(chan struct{})}
		a.m[p] = r
		go func() {
			defer close(r.done)
			r.secret, r.err = k.readVersion(ctx, p, 0)
		}()
	}
	return context.WithValue(ctx, aheadKey{}, a)
}

// takeAhead returns, once, the read of path started ahead in ctx, if any.
func (k *KV) takeAhead(ctx context.Context, path string) *aheadRead {
	a, ok := ctx.Value(aheadKey{}).(*ahead)
	if !ok || a.kv != k {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.m[path]
	delete(a.m, path)
	return r
}

package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// mirrorRef is where img is pushed in registry (host:port): the upstream
// repository path without its host (docker.io's "library/" included) and
// the same tag, which is what containerd asks a mirror for.
func mirrorRef(registry, upstream string) (name.Reference, error) {
	up, err := name.ParseReference(upstream)
	if err != nil {
		return nil, fmt.Errorf("bad image name %q: %w", upstream, err)
	}
	return name.ParseReference(registry+"/"+up.Context().RepositoryStr()+":"+up.Identifier(), name.Insecure)
}

// transport talks plain HTTP to the local registry, never through a proxy.
func transport() http.RoundTripper {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
	}
}

type pusher struct {
	registry string
	opts     []remote.Option
}

func newPusher(ctx context.Context, registry string) *pusher {
	return &pusher{registry: registry, opts: []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(authn.Anonymous),
		remote.WithTransport(transport()),
	}}
}

// wait polls the registry's /v2/ until it answers (any HTTP status) or the
// timeout passes: stack-up may start the registry just before calling us.
func (p *pusher) wait(ctx context.Context, timeout time.Duration) error {
	c := &http.Client{Transport: transport(), Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.registry+"/v2/", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry %s does not answer: %v", p.registry, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// push pushes img unless the registry already has that digest under the
// tag. It reports whether it pushed.
func (p *pusher) push(upstream string, img v1.Image) (bool, name.Reference, error) {
	ref, err := mirrorRef(p.registry, upstream)
	if err != nil {
		return false, nil, err
	}
	want, err := img.Digest()
	if err != nil {
		return false, ref, err
	}
	if desc, err := remote.Head(ref, p.opts...); err == nil && desc.Digest == want {
		return false, ref, nil
	}
	// remote.Write skips the blobs the registry already has.
	if err := remote.Write(ref, img, p.opts...); err != nil {
		return false, ref, fmt.Errorf("pushing %s: %w", ref, err)
	}
	return true, ref, nil
}

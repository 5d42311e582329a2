package engine_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idpkit/terraform-provider-idp/internal/engine"
	"github.com/idpkit/terraform-provider-idp/internal/stack"
)

func TestKV(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	vault, mount := stack.Vault(t)
	ctx := testCtx(t, 30*time.Second)
	kv, err := e.KV()
	if err != nil {
		t.Fatal(err)
	}
	if kv.Mount() != mount {
		t.Errorf("Mount() = %q, want %q", kv.Mount(), mount)
	}
	path := "engine-test/" + suffix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = vault.DeleteMetadata(ctx, path)
	})
	secret := "s3cr3t-" + suffix()

	if s, err := kv.Read(ctx, path); s != nil || err != nil {
		t.Fatalf("Read of an absent path = %v, %v; want nil, nil", s, err)
	}

	v, err := kv.Write(ctx, path, engine.Values{"password": secret, "user": "app"}, 0)
	if err != nil || v != 1 {
		t.Fatalf("first Write (cas 0) = %d, %v; want 1", v, err)
	}
	s, err := kv.Read(ctx, path)
	if err != nil || s == nil {
		t.Fatalf("Read = %v, %v", s, err)
	}
	if s.Version != 1 || s.Values["password"] != secret || s.Values["user"] != "app" || len(s.Values) != 2 {
		t.Errorf("Read = version %d, %d values; want version 1 with what we wrote", s.Version, len(s.Values))
	}

	v, err = kv.Write(ctx, path, engine.Values{"password": secret + "-2", "user": "app"}, 1)
	if err != nil || v != 2 {
		t.Fatalf("Write cas 1 = %d, %v; want 2", v, err)
	}

	// Stale check-and-set, and "create only" on an existing path, both lose
	// and leave the stored values alone.
	for _, cas := range []int{1, 0} {
		_, err := kv.Write(ctx, path, engine.Values{"password": "clobbered-" + secret}, cas)
		if !errors.Is(err, engine.ErrVersionConflict) {
			t.Errorf("Write with stale cas %d = %v, want ErrVersionConflict", cas, err)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("conflict error leaks the secret: %q", err)
		}
		got, err := vault.Get(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if got.VersionMetadata.Version != 2 || got.Data["password"] != secret+"-2" {
			t.Errorf("after a lost cas %d write Vault holds version %d", cas, got.VersionMetadata.Version)
		}
	}

	// Values never print their contents.
	s, err = kv.Read(ctx, path)
	if err != nil || s == nil || s.Version != 2 {
		t.Fatalf("Read = %v, %v; want version 2", s, err)
	}
	printed := fmt.Sprintf("%v %+v %#v %s %q %v %+v %#v %v", s.Values, s.Values, s.Values, s.Values, s.Values, s, s, s, *s)
	if strings.Contains(printed, secret) {
		t.Errorf("formatting Values leaks the secret: %s", printed)
	}
	if wrapped := fmt.Errorf("failed with %v", s.Values); strings.Contains(wrapped.Error(), secret) {
		t.Errorf("an error formatting Values leaks the secret: %s", wrapped)
	}

	// A soft-deleted latest version reads as absent.
	if err := vault.Delete(ctx, path); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.Read(ctx, path); s != nil || err != nil {
		t.Errorf("Read of a deleted latest version = %v, %v; want nil, nil", s, err)
	}

	if err := kv.Destroy(ctx, path); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if s, err := kv.Read(ctx, path); s != nil || err != nil {
		t.Errorf("Read after Destroy = %v, %v; want nil, nil", s, err)
	}
	if _, err := vault.GetMetadata(ctx, path); err == nil {
		t.Errorf("Destroy left the secret's metadata in Vault")
	}
	// Destroy also leaves a path free for a create-only write.
	if v, err := kv.Write(ctx, path, engine.Values{"k": "v"}, 0); err != nil || v != 1 {
		t.Errorf("Write cas 0 after Destroy = %d, %v; want 1", v, err)
	}
}

// TestKVReadAhead: a read started ahead stands in for the next read of the
// latest version of its path, once; later reads, other versions and other
// paths read Vault as before.
func TestKVReadAhead(t *testing.T) {
	t.Parallel()
	e := stack.Engine(t)
	vault, _ := stack.Vault(t)
	ctx := testCtx(t, 30*time.Second)
	kv, err := e.KV()
	if err != nil {
		t.Fatal(err)
	}
	path, absent := "engine-test/"+suffix(), "engine-test/absent-"+suffix()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = vault.DeleteMetadata(ctx, path)
	})
	if _, err := kv.Write(ctx, path, engine.Values{"k": "one"}, 0); err != nil {
		t.Fatal(err)
	}

	ahead := kv.ReadAhead(ctx, path, absent)
	if s, err := kv.Read(ahead, path); err != nil || s == nil || s.Version != 1 || s.Values["k"] != "one" {
		t.Fatalf("first Read after ReadAhead = %v, %v; want version 1", s, err)
	}
	if s, err := kv.Read(ahead, absent); s != nil || err != nil {
		t.Errorf("Read of an absent path read ahead = %v, %v; want nil, nil", s, err)
	}
	if _, err := kv.Write(ctx, path, engine.Values{"k": "two"}, 1); err != nil {
		t.Fatal(err)
	}
	if s, err := kv.Read(ahead, path); err != nil || s == nil || s.Version != 2 || s.Values["k"] != "two" {
		t.Errorf("second Read = %v, %v; want the live version 2 (a read ahead is taken once)", s, err)
	}
	ahead = kv.ReadAhead(ctx, path)
	if s, err := kv.ReadVersion(ahead, path, 1); err != nil || s == nil || s.Version != 1 {
		t.Errorf("ReadVersion 1 after ReadAhead = %v, %v; want version 1", s, err)
	}
}

package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Skipping the dry run for objects that provably did not change.
//
// A dry-run apply's verdict (in sync, or drifted at these fields) depends
// only on the object we apply and on the live object without its status,
// resourceVersion and generation (comparable drops them, and an apply to
// the main resource never writes status). So once a dry run found a live
// object in sync with a desired one, or our own apply returned it, that
// pair is in sync for good: the same desired object against a live object
// with the same content needs no new dry run. A Check records the pair as
// two digests; Diff skips the dry run when both match and falls back to it
// on anything else. A dry run that finds drift records nothing.
//
// Neither digest encodes a secret: Secret data values are blanked in both.
// Instead the desired values are compared with the live ones in memory
// (sameSecretData): with the keys in the desired digest and the values
// equal to the live ones, which equalled the verified desired values, the
// desired Secret is the verified one.

// Check is one verified pair: digests of a live object and of the desired
// object it was found in sync with.
type Check struct {
	Live    string `json:"l"`
	Desired string `json:"d"`
}

// Verified maps "Kind/namespace/name" (Ref.String) to the last check of
// that object. Resources keep it in their private state between runs.
type Verified map[string]Check

// verifiedCache remembers the checks this process made or applied, for
// the resources that have none in their private state yet (right after an
// apply). Entries are facts about content, not about time: a later Diff
// uses one only when the live object still has the recorded content, so
// nothing here can serve a stale view.
type verifiedCache struct {
	mu sync.Mutex
	m  map[Ref]Check
	// applied: for an object this process applied, a digest of the whole
	// object applied, Secret values included (kept in memory only), so that
	// Known.Applied can tell the same object from one that only shares
	// the check's desired digest.
	applied map[Ref]string
}

// putApplied records the check of an apply of obj that returned live.
func (c *verifiedCache) putApplied(obj, live *unstructured.Unstructured) {
	ref, ch, whole := RefOf(obj), checkOf(obj, live), digest(obj.Object)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m, c.applied = map[Ref]Check{}, map[Ref]string{}
	}
	c.m[ref], c.applied[ref] = ch, whole
}

// appliedCheck returns the check of this process's last apply of exactly
// obj, if that apply is the last check recorded for it.
func (c *verifiedCache) appliedCheck(obj *unstructured.Unstructured) (Check, bool) {
	ref := RefOf(obj)
	c.mu.Lock()
	defer c.mu.Unlock()
	whole, ok := c.applied[ref]
	if !ok || whole == "" || whole != digest(obj.Object) {
		return Check{}, false
	}
	ch, ok := c.m[ref]
	return ch, ok && ch.Live != "" && ch.Desired != ""
}

func (c *verifiedCache) get(ref Ref) (Check, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.m[ref]
	return ch, ok
}

func (c *verifiedCache) put(ref Ref, ch Check) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m, c.applied = map[Ref]Check{}, map[Ref]string{}
	}
	c.m[ref] = ch
	delete(c.applied, ref) // a dry run's check, not an apply's
}

// checkOf digests a desired object and the live object found in sync with it.
func checkOf(desired, live *unstructured.Unstructured) Check {
	return Check{Live: liveDigest(live), Desired: desiredDigest(desired)}
}

// desiredDigest identifies what applying obj would write, Secret values
// left out (sameSecretData compares them).
func desiredDigest(obj *unstructured.Unstructured) string {
	return digest(withoutSecretValues(obj.Object))
}

// liveDigest identifies the content of a live object that a dry-run apply
// of ours depends on: all of it but status, resourceVersion, generation,
// the managedFields entries of subresources (status writes) and fields only
// other managers own (verified_fields.go), Secret values blanked.
func liveDigest(obj *unstructured.Unstructured) string {
	return digest(liveContent(obj))
}

// withoutSecretValues is a shallow copy of a Secret with its data values
// blanked (keys kept); other objects as they are.
func withoutSecretValues(obj map[string]any) map[string]any {
	c := make(map[string]any, len(obj))
	for k, v := range obj {
		c[k] = v
	}
	if obj["kind"] != "Secret" || obj["apiVersion"] != "v1" {
		return c
	}
	for _, field := range []string{"data", "stringData"} {
		if data, ok := obj[field].(map[string]any); ok {
			blank := make(map[string]any, len(data))
			for k := range data {
				blank[k] = ""
			}
			c[field] = blank
		}
	}
	return c
}

// sameSecretData reports whether every data value the desired Secret sets
// is the live one. A stringData Secret is never taken as unchanged.
func sameSecretData(desired, live *unstructured.Unstructured) bool {
	if desired.GetKind() != "Secret" || desired.GetAPIVersion() != "v1" {
		return true
	}
	if _, ok := desired.Object["stringData"]; ok {
		return false
	}
	want, _ := desired.Object["data"].(map[string]any)
	have, _ := live.Object["data"].(map[string]any)
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func digest(v any) string {
	b, err := json.Marshal(v) // sorts map keys
	if err != nil {
		return "" // never matches: falls back to the dry run
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

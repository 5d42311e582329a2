package secretscan

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// A secret with characters JSON escapes (" \ < &) and base64url differs on.
const planted = `pw"<&>\~?~?~>x1`

// filler is log-like noise around the planted secret.
func filler(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // reproducible noise, not a secret
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 =:\"{}[],\n"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

func embed(secret []byte) []byte {
	return append(append(filler(4000), secret...), filler(4000)...)
}

// The scanner finds the secret in every form it can take, at every base64
// alignment, and nothing in the same noise without it: a scanner that
// cannot fail would prove nothing.
func TestScan_findsEveryForm(t *testing.T) {
	s := New([]string{planted, "short"})
	if len(s.Values()) != 1 {
		t.Fatalf("values = %d, want 1 (short ones dropped)", len(s.Values()))
	}
	jsonOnce, _ := json.Marshal(planted)
	jsonTwice, _ := json.Marshal(string(jsonOnce))
	cases := map[string][]byte{
		"plain":     []byte("password=" + planted + " end"),
		"json":      jsonOnce,
		"json-json": jsonTwice,
	}
	var noHTML bytes.Buffer
	e := json.NewEncoder(&noHTML)
	e.SetEscapeHTML(false)
	_ = e.Encode(map[string]string{"p": planted})
	cases["json without HTML escaping"] = noHTML.Bytes()
	// Inside a larger base64 blob, at each of the three offsets, padded
	// and URL-safe: as a Secret's data or a resource's private state is.
	for shift := range 3 {
		blob := append([]byte(strings.Repeat("{", shift)), `{"password":"`+planted+`"}`...)
		cases["base64 shift "+string(rune('0'+shift))] = []byte(base64.StdEncoding.EncodeToString(blob))
		cases["base64url shift "+string(rune('0'+shift))] = []byte(base64.URLEncoding.EncodeToString(blob))
	}
	for name, form := range cases {
		hits := s.Scan(name, embed(form))
		if len(hits) == 0 {
			t.Errorf("%s: planted secret not found", name)
			continue
		}
		if strings.Contains(hits[0].String(), planted) {
			t.Errorf("%s: the report repeats the secret: %s", name, hits[0])
		}
	}
	if hits := s.Scan("noise", embed(nil)); len(hits) != 0 {
		t.Errorf("noise without the secret: %v", hits)
	}
	// One byte changed anywhere is no longer the secret.
	for i := range planted {
		near := []byte(planted)
		near[i] ^= 1
		if hits := s.Scan("near miss", embed(near)); len(hits) != 0 {
			t.Errorf("a near miss at byte %d was reported: %v", i, hits)
		}
	}
}

// Every occurrence counts, at its offset.
func TestScan_reportsEachOccurrence(t *testing.T) {
	s := New([]string{"s3cr3t-value"})
	data := []byte("a s3cr3t-value b s3cr3t-value")
	hits := s.Scan("x", data)
	if len(hits) != 2 || hits[0].Offset != 2 || hits[1].Offset != 17 || hits[0].Context != "a <secret> b s3cr3t-value" {
		t.Fatalf("hits = %+v", hits)
	}
}

// The stack's trace logs are tens of megabytes a test: a scan must stay
// far below a second for each.
func BenchmarkScan(b *testing.B) {
	values := make([]string, 30)
	for i := range values {
		values[i] = "secret-value-" + string(rune('a'+i)) + "-0123456789"
	}
	s := New(values)
	data := filler(16 << 20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s.Scan("x", data)
	}
}

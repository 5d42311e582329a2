// Package secretscan finds secret values in bytes: in plain text, in JSON
// strings (escaped once or twice, as a log line quoting a JSON body does), and
// in base64 at any alignment (a secret inside a larger encoded blob, such as a
// dockerconfigjson or a resource's private state). The acceptance harness
// (acctest.Test) runs it over everything tofu and the provider printed, logged
// and stored.
package secretscan

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// MinLen is the shortest value the scanner accepts: shorter ones ("main",
// "ci-bot") occur in logs by coincidence, so a hit would say nothing.
const MinLen = 8

// Hit is one occurrence of a secret in a source.
type Hit struct {
	Source string // file or label the bytes came from
	Offset int    // byte offset of the match in that source
	Form   string // plain, json, json-json, base64, base64url
	Value  int    // index into the values given to New
	// Context is the text around the match with the match itself replaced
	// by <secret>, so a report can show where it was without repeating it.
	Context string
}

func (h Hit) String() string {
	return fmt.Sprintf("%s@%d: secret #%d as %s in %q", h.Source, h.Offset, h.Value, h.Form, h.Context)
}

type pattern struct {
	b     []byte
	form  string
	value int
}

// Scanner looks for a fixed set of values.
type Scanner struct {
	values   []string
	patterns []pattern
	// A match starts with the 8 bytes of some pattern's prefix: a bitset of
	// their hashes rejects almost every position in one multiply, and
	// byPrefix holds the candidates for the rest.
	bloom    []uint64
	byPrefix map[uint64][]int
}

const bloomBits = 20

// New builds a scanner for values; values shorter than MinLen and
// duplicates are dropped (Values tells which remain).
func New(values []string) *Scanner {
	s := &Scanner{bloom: make([]uint64, 1<<bloomBits/64), byPrefix: map[uint64][]int{}}
	seen := map[string]bool{}
	for _, v := range values {
		if len(v) < MinLen || seen[v] {
			continue
		}
		seen[v] = true
		s.values = append(s.values, v)
	}
	sort.Strings(s.values)
	for i, v := range s.values {
		have := map[string]bool{}
		for _, f := range Forms(v) {
			if have[f.Text] {
				continue
			}
			have[f.Text] = true
			s.add(pattern{b: []byte(f.Text), form: f.Name, value: i})
		}
	}
	return s
}

// Values are the distinct values scanned for, sorted.
func (s *Scanner) Values() []string { return s.values }

// Patterns is how many byte strings the scanner looks for.
func (s *Scanner) Patterns() int { return len(s.patterns) }

func (s *Scanner) add(p pattern) {
	if len(p.b) < 8 {
		// Values of MinLen or more never give one (base64's stable middle of
		// 8 bytes is 10 characters); a scanner that skipped it would miss.
		panic(fmt.Sprintf("secretscan: pattern of %d bytes", len(p.b)))
	}
	k := binary.LittleEndian.Uint64(p.b)
	h := hash(k)
	s.bloom[h/64] |= 1 << (h % 64)
	s.byPrefix[k] = append(s.byPrefix[k], len(s.patterns))
	s.patterns = append(s.patterns, p)
}

func hash(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> (64 - bloomBits) }

// Form is one way a value can appear in bytes.
type Form struct{ Name, Text string }

// Forms lists the byte strings that betray v. For base64 they are the
// characters that depend only on v's bytes, for each of the three offsets v
// can start at inside a longer encoded stream.
func Forms(v string) []Form {
	forms := []Form{{"plain", v}}
	once := jsonEscape(v, true)
	forms = append(forms, Form{"json", once}, Form{"json", jsonEscape(v, false)})
	forms = append(forms, Form{"json-json", jsonEscape(once, true)})
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
		for shift := 0; shift < 3; shift++ {
			forms = append(forms, Form{enc.name, b64Middle(enc.e, v, shift)})
		}
	}
	return forms
}

// jsonEscape is v as it appears between the quotes of a JSON string, with or
// without Go's HTML escaping (< > & as \u003c...), which tofu's JSON output
// uses and other writers do not.
func jsonEscape(v string, html bool) string {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(html)
	_ = e.Encode(v) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// b64Middle encodes v preceded by shift bytes and keeps only the characters
// whose 6 bits all come from v: those are the same whatever bytes surround v
// in a longer stream.
func b64Middle(e *base64.Encoding, v string, shift int) string {
	enc := e.EncodeToString(append(make([]byte, shift), v...))
	from := (8*shift + 5) / 6
	to := 8 * (shift + len(v)) / 6
	return enc[from:to]
}

// Scan reports every occurrence of a value in data, named source.
func (s *Scanner) Scan(source string, data []byte) []Hit {
	var hits []Hit
	if len(s.patterns) == 0 {
		return nil
	}
	for i := 0; i+8 <= len(data); i++ {
		k := binary.LittleEndian.Uint64(data[i:])
		h := hash(k)
		if s.bloom[h/64]&(1<<(h%64)) == 0 {
			continue
		}
		for _, pi := range s.byPrefix[k] {
			p := s.patterns[pi]
			if bytes.HasPrefix(data[i:], p.b) {
				hits = append(hits, Hit{Source: source, Offset: i, Form: p.form, Value: p.value, Context: context(data, i, len(p.b))})
			}
		}
	}
	return hits
}

func context(data []byte, at, n int) string {
	from, to := max(0, at-60), min(len(data), at+n+60)
	return string(data[from:at]) + "<secret>" + string(data[at+n:to])
}

package main

import (
	"reflect"
	"testing"
)

func TestParseDepends(t *testing.T) {
	out := `redis-server
  Depends: libc6
 |Depends: libsystemd0
  Depends: libelogind0
  Depends: <awk>
    mawk
    gawk
 |Depends: <nothing>
  Depends: tar
  PreDepends: zlib1g
libc6
  Depends: libgcc-s1
`
	got := parseDepends(out)
	want := []string{"libc6", "libsystemd0", "mawk", "zlib1g", "libgcc-s1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

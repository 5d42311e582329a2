package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// hashCache remembers the sha256 of input files by path, size, mtime and
// inode, so a warm run only stats the big binaries.
type hashCache struct {
	file    string
	mu      sync.Mutex
	m       map[string]hashRec
	changed bool
}

type hashRec struct {
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Ino   uint64 `json:"ino"`
	Sum   string `json:"sha256"`
}

func loadHashCache(file string) *hashCache {
	h := &hashCache{file: file, m: map[string]hashRec{}}
	if b, err := os.ReadFile(file); err == nil {
		_ = json.Unmarshal(b, &h.m) // a corrupt cache is only slower
	}
	return h
}

func statRec(st fs.FileInfo) hashRec {
	r := hashRec{Size: st.Size(), Mtime: st.ModTime().UnixNano()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		r.Ino = s.Ino
	}
	return r
}

// sum is the sha256 of file p whose os.Stat is st.
func (h *hashCache) sum(p string, st fs.FileInfo) (string, error) {
	key := statRec(st)
	h.mu.Lock()
	r, ok := h.m[p]
	h.mu.Unlock()
	if ok && r.Size == key.Size && r.Mtime == key.Mtime && r.Ino == key.Ino {
		return r.Sum, nil
	}
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := sha256.New()
	if _, err := io.Copy(s, f); err != nil {
		return "", err
	}
	key.Sum = hex.EncodeToString(s.Sum(nil))
	h.mu.Lock()
	h.m[p] = key
	h.changed = true
	h.mu.Unlock()
	return key.Sum, nil
}

func (h *hashCache) save() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.changed || h.file == "" {
		return nil
	}
	// Forget files that are gone (old tool versions).
	for p := range h.m {
		if _, err := os.Lstat(p); err != nil {
			delete(h.m, p)
		}
	}
	b, err := json.Marshal(h.m)
	if err != nil {
		return err
	}
	tmp := h.file + ".tmp"
	if err := os.MkdirAll(filepath.Dir(h.file), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, h.file)
}

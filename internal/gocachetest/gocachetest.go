// Package gocachetest gives tests that run a Go build through k8s-single's
// builders (which keep their Go caches under a cache dir) a cache dir whose
// gocache and gomodcache are the go command's own, so a test compiles nothing
// twice. It is imported by tests only.
package gocachetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SharedCacheDir returns a temp cache dir whose gocache and gomodcache link
// to `go env GOCACHE GOMODCACHE`.
func SharedCacheDir(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	dirs := strings.Fields(string(out))
	dir := t.TempDir()
	for i, name := range []string{"gocache", "gomodcache"} {
		if err := os.Symlink(dirs[i], filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

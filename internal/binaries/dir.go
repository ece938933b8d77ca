package binaries

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/k8s-single/k8s-single/internal/config"
)

// dirLayouts are where binaries may sit under binaries.dir, in the order they
// are looked in: the directory itself (a flat directory of the 8), a
// Kubernetes checkout's `make` output, and the place a checkout's
// hack/install-etcd.sh puts etcd and etcdctl.
var dirLayouts = []string{".", "_output/bin", "third_party/etcd"}

// installFromDir copies the 8 binaries from the user's directory into dest
// after checking the versions of those it will copy, so a wrong set installs
// nothing, and returns the names it copied: Install need not run them again.
func installFromDir(c *config.Cluster, dest string) ([]string, error) {
	dir := c.Binaries.Dir
	paths := toCopy(locate(dir), dest)
	if err := checkPaths(paths, c); err != nil {
		return nil, fmt.Errorf("binaries.dir %s (looked in %v under it): %w", dir, dirLayouts, err)
	}
	return copyAll(paths, dest)
}

// toCopy keeps the binaries of paths (name to file) that dest does not
// already hold; a source that cannot be read stays, for the check to report.
func toCopy(paths map[string]string, dest string) map[string]string {
	out := make(map[string]string, len(paths))
	for name, src := range paths {
		st, err := os.Stat(src)
		if err != nil || !upToDate(filepath.Join(dest, name), st.Size(), st.ModTime()) {
			out[name] = src
		}
	}
	return out
}

// locate maps each name to the first file of that name in dir's layouts, or
// to dir/name when there is none (which the version check reports as missing).
func locate(dir string) map[string]string {
	paths := make(map[string]string, len(Names))
	for _, name := range Names {
		paths[name] = filepath.Join(dir, name)
		for _, sub := range dirLayouts {
			p := filepath.Join(dir, sub, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				paths[name] = p
				break
			}
		}
	}
	return paths
}

// Package binaries owns the 8 binaries of a node (etcd, etcdctl and the six
// Kubernetes ones): getting them from a source build, a user's directory or a
// checksummed release download, putting them into the install directory
// atomically, and proving with each one's version flag that they are the
// versions the config names.
//
// It must not configure, start or stop anything that runs them (units,
// phases and the CLI do that), and it never writes outside the install
// directory under the root and its own work, download and Go cache
// directories under binaries.cacheDir. binaries.dir and binaries.cacheDir are
// paths on the machine running k8s-single, not under the root.
package binaries

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

var (
	etcdNames       = []string{"etcd", "etcdctl"}
	kubernetesNames = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"}
)

// Names are the 8 binaries a node needs, in the order they are checked and reported.
var Names = slices.Concat(etcdNames, kubernetesNames)

// modeBinary is the mode of every installed binary.
const modeBinary = 0o755

// Install puts the 8 binaries into binaries.installDir under root, from the
// source the config names (build, dir or download), checks that each reports
// the configured version, and returns their host paths in Names order.
func Install(ctx context.Context, root host.Root, c *config.Cluster, out io.Writer) ([]string, error) {
	dest := root.Path(c.Binaries.InstallDir)
	if err := fill(ctx, c, dest, out); err != nil {
		return nil, err
	}
	if err := CheckVersions(dest, c); err != nil {
		return nil, fmt.Errorf("installed binaries in %s: %w", dest, err)
	}
	paths := make([]string, len(Names))
	for i, n := range Names {
		paths[i] = filepath.Join(c.Binaries.InstallDir, n)
	}
	fmt.Fprintf(out, "installed %d binaries into %s (kubernetes %s, etcd %s)\n",
		len(Names), c.Binaries.InstallDir, c.KubernetesVersion, c.EtcdVersion)
	return paths, nil
}

// fill writes the 8 binaries into dest from the configured source.
func fill(ctx context.Context, c *config.Cluster, dest string, out io.Writer) error {
	switch c.Binaries.Source {
	case "build":
		dir, err := Build(ctx, c, out)
		if err != nil {
			return err
		}
		return copyAll(pathsIn(dir, Names), dest)
	case "dir":
		return installFromDir(c, dest)
	case "download":
		return Download(ctx, c, dest, out)
	}
	return fmt.Errorf("binaries.source %q: want build, dir or download", c.Binaries.Source)
}

// copyAll copies each binary of paths (name to file) to dest/name, each
// atomically (temp file, fsync, rename), with mode 0755.
func copyAll(paths map[string]string, dest string) error {
	for _, name := range Names {
		src, ok := paths[name]
		if !ok {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("read %s: %w", src, err)
		}
		if err := host.WriteFileAtomic(filepath.Join(dest, name), data, modeBinary, layout.ModeDir); err != nil {
			return err
		}
	}
	return nil
}

// Package binaries owns the 8 binaries of a node (etcd, etcdctl and the six
// Kubernetes ones): getting them from a source build, a user's directory or a
// checksummed release download, putting them into the install directory
// atomically, and proving with each one's version flag that they are the
// versions the config names. It also builds the container runtime's binaries
// (containerd, runc, the CNI plugins) from source and checks their versions;
// the runtime phase installs them.
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
	"time"

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

// Install puts the 8 binaries into the config's release directory under
// binaries.installDir (see ReleaseDir) from the source the config names
// (build, dir or download), checks that each reports the configured version,
// and removes the release directories nothing uses any more. It leaves the
// binaries the units run alone: the phase that restarts a component switches
// it (Activate). It returns the host paths of every release directory and
// binary it keeps.
func Install(ctx context.Context, root host.Root, c *config.Cluster, out io.Writer) ([]string, error) {
	dest := root.Path(ReleaseDir(c))
	copied, checked, err := fill(ctx, c, dest, out)
	if err != nil {
		return nil, err
	}
	unchecked := pathsIn(dest, Names)
	for _, name := range checked {
		delete(unchecked, name)
	}
	if err := checkPaths(unchecked, c); err != nil {
		return nil, fmt.Errorf("binaries in %s: %w", dest, err)
	}
	kept, err := pruneReleases(root, c)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%d binaries in %s (kubernetes %s, etcd %s): %d copied, %d already identical\n",
		len(Names), ReleaseDir(c), c.KubernetesVersion, c.EtcdVersion, copied, len(Names)-copied)
	return kept, nil
}

// fill writes the 8 binaries into dest from the configured source and
// returns how many it wrote (the others were already there) and which of
// them it checked the versions of on the way.
func fill(ctx context.Context, c *config.Cluster, dest string, out io.Writer) (int, []string, error) {
	switch c.Binaries.Source {
	case "build":
		dir, err := Build(ctx, c, out)
		if err != nil {
			return 0, nil, err
		}
		n, err := linkOrCopyAll(pathsIn(dir, Names), dest)
		return n, nil, err
	case "dir":
		copied, err := installFromDir(c, dest)
		return len(copied), copied, err
	case "download":
		n, err := Download(ctx, c, dest, out)
		return n, nil, err
	}
	return 0, nil, fmt.Errorf("binaries.source %q: want build, dir or download", c.Binaries.Source)
}

// linkOrCopyAll puts each binary of paths (name to file) at dest/name as a
// hard link of its build output, which k8s-single's cache never rewrites in
// place, or a copy when they are on different filesystems; it returns how
// many it wrote.
func linkOrCopyAll(paths map[string]string, dest string) (int, error) {
	written := 0
	for _, name := range Names {
		src, dst := paths[name], filepath.Join(dest, name)
		if sameFile(src, dst) {
			continue
		}
		if err := linkAtomic(src, dst); err == nil {
			if err := os.Chmod(dst, modeBinary); err != nil {
				return written, err
			}
			written++
			continue
		}
		done, err := copyFile(src, dst)
		if err != nil {
			return written, err
		}
		if done {
			written++
		}
	}
	return written, nil
}

// copyAll puts each binary of paths (name to file) at dest/name with put and
// returns the names it copied.
func copyAll(paths map[string]string, dest string) ([]string, error) {
	var copied []string
	for _, name := range Names {
		src, ok := paths[name]
		if !ok {
			continue
		}
		done, err := copyFile(src, filepath.Join(dest, name))
		if err != nil {
			return copied, err
		}
		if done {
			copied = append(copied, name)
		}
	}
	return copied, nil
}

// copyFile puts the file src at dst with put, and reports whether it copied.
func copyFile(src, dst string) (bool, error) {
	f, err := os.Open(src)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", src, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("read %s: %w", src, err)
	}
	return put(dst, f, st.Size(), st.ModTime())
}

// upToDate is put's quick check: dst is a regular file with mode 0755, size
// bytes and modification time mtime.
func upToDate(dst string, size int64, mtime time.Time) bool {
	st, err := os.Lstat(dst)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm() == modeBinary &&
		st.Size() == size && st.ModTime().Equal(mtime)
}

// put makes dst a copy, with mode 0755, of the size bytes that r yields,
// whose modification time is mtime, and reports whether it copied. Like
// rsync's quick check, it copies nothing when dst already is a regular file
// with mode 0755, that size and that modification time, which a copy gets:
// so a second install of the same source copies no binary. As with
// rsync, a source rewritten with the same size and its old time is not
// noticed; the version check after every install is what proves the binaries
// right. The copy streams, atomically (host.CopyAtomic). A run killed between
// the copy and setting its time leaves a right file with a wrong time, which
// the next run copies again.
func put(dst string, r io.Reader, size int64, mtime time.Time) (bool, error) {
	if upToDate(dst, size, mtime) {
		return false, nil
	}
	if err := host.CopyAtomic(dst, r, modeBinary, layout.ModeDir); err != nil {
		return false, err
	}
	if err := os.Chtimes(dst, time.Time{}, mtime); err != nil {
		return false, fmt.Errorf("set the time of %s: %w", dst, err)
	}
	return true, nil
}

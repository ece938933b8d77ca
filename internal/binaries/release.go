package binaries

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// The binaries of a node live in release directories under
// <installDir>/.versions, one per pair of versions
// (kubernetes-v1.37.2-etcd-v3.7.3): the binaries phase fills the configured
// one while the cluster keeps running. The files in installDir itself, which
// the units run, are hard links into a release directory, switched one
// component at a time by the phase that restarts it (Activate), so a
// crash-restarted kubelet never runs a newer binary than the apiserver. The
// file a switch replaced is kept under .versions/previous, which is what
// Revert puts back when the new binary fails its health check.
const (
	versionsDirName = ".versions"
	previousDirName = "previous"
)

// VersionsDir is the host directory holding the release directories.
func VersionsDir(c *config.Cluster) string { return path.Join(c.Binaries.InstallDir, versionsDirName) }

// ReleaseDir is the host directory of the config's release.
func ReleaseDir(c *config.Cluster) string {
	return path.Join(VersionsDir(c), ReleaseName(c.KubernetesVersion, c.EtcdVersion))
}

// PreviousDir is the host directory keeping what each binary was before its
// last switch.
func PreviousDir(c *config.Cluster) string { return path.Join(VersionsDir(c), previousDirName) }

// ReleaseName names the release directory of a pair of versions.
func ReleaseName(kubernetesVersion, etcdVersion string) string {
	return "kubernetes-" + kubernetesVersion + "-etcd-" + etcdVersion
}

// parseReleaseName returns the versions a release directory's name carries.
func parseReleaseName(name string) (kubernetesVersion, etcdVersion string, ok bool) {
	rest, ok := strings.CutPrefix(name, "kubernetes-")
	if !ok {
		return "", "", false
	}
	kubernetesVersion, etcdVersion, ok = strings.Cut(rest, "-etcd-")
	return kubernetesVersion, etcdVersion, ok && kubernetesVersion != "" && etcdVersion != ""
}

// IsEtcd reports whether the binary is one of etcd's (its version is etcdVersion).
func IsEtcd(name string) bool { return slices.Contains(etcdNames, name) }

// Switch is one binary of installDir as Activate found and left it.
type Switch struct {
	Name string
	// Replaced is true when Activate replaced another binary (kept in
	// PreviousDir); false when the binary was already the release's or is new.
	Replaced bool
}

// Activate makes each named binary in installDir the one of the config's
// release: a hard link into ReleaseDir, put in place atomically. A binary
// already linked there is left alone. The file it replaces is first linked
// into PreviousDir, for Revert. It returns the host paths it wrote (for the
// journal) and what it did to each binary.
func Activate(root host.Root, c *config.Cluster, names ...string) ([]string, []Switch, error) {
	release, previous := ReleaseDir(c), PreviousDir(c)
	var paths []string
	switches := make([]Switch, 0, len(names))
	for _, name := range names {
		active := path.Join(c.Binaries.InstallDir, name)
		paths = append(paths, active)
		want := path.Join(release, name)
		if sameFile(root.Path(active), root.Path(want)) {
			switches = append(switches, Switch{Name: name})
			continue
		}
		if _, err := os.Stat(root.Path(want)); err != nil {
			return paths, switches, fmt.Errorf("switch %s to %s: %w (the binaries phase puts it there)", name, path.Base(release), err)
		}
		_, err := os.Lstat(root.Path(active))
		replaced := err == nil
		if replaced {
			if err := linkAtomic(root.Path(active), root.Path(path.Join(previous, name))); err != nil {
				return paths, switches, err
			}
			paths = append(paths, path.Join(previous, name))
		}
		if err := linkAtomic(root.Path(want), root.Path(active)); err != nil {
			return paths, switches, err
		}
		switches = append(switches, Switch{Name: name, Replaced: replaced})
	}
	return paths, switches, nil
}

// Revert puts back, for every switch where Activate replaced a binary, the
// one it replaced (kept in PreviousDir).
func Revert(root host.Root, c *config.Cluster, switches []Switch) error {
	var errs []error
	for _, s := range switches {
		if !s.Replaced {
			continue
		}
		prev := root.Path(path.Join(PreviousDir(c), s.Name))
		if _, err := os.Stat(prev); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := linkAtomic(prev, root.Path(path.Join(c.Binaries.InstallDir, s.Name))); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// WouldReplace reports whether Activate would replace an installed binary
// of the names with the config's release: an upgrade (or downgrade) of them.
func WouldReplace(root host.Root, c *config.Cluster, names ...string) bool {
	for _, name := range names {
		active := root.Path(path.Join(c.Binaries.InstallDir, name))
		if _, err := os.Stat(active); err == nil && !sameFile(active, root.Path(path.Join(ReleaseDir(c), name))) {
			return true
		}
	}
	return false
}

// Installed returns the Kubernetes or etcd version of the named binary in
// installDir: the release directory it is a link into, else what it reports
// with its version flag; "" when it is missing.
func Installed(root host.Root, c *config.Cluster, name string) (string, error) {
	active := root.Path(path.Join(c.Binaries.InstallDir, name))
	if _, err := os.Stat(active); errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	entries, _ := os.ReadDir(root.Path(VersionsDir(c)))
	for _, e := range entries {
		k, etcd, ok := parseReleaseName(e.Name())
		if ok && sameFile(active, filepath.Join(root.Path(VersionsDir(c)), e.Name(), name)) {
			if IsEtcd(name) {
				return etcd, nil
			}
			return k, nil
		}
	}
	found, problem := probes[name].run(active)
	if found == "" {
		return "", fmt.Errorf("%s %s", active, problem)
	}
	if IsEtcd(name) {
		return "v" + found, nil
	}
	return found, nil
}

// releasesInUse are the release directories (base names) that keep a file
// the install dir or PreviousDir links to.
func releasesInUse(root host.Root, c *config.Cluster) []string {
	var keep []string
	entries, _ := os.ReadDir(root.Path(VersionsDir(c)))
	for _, e := range entries {
		if _, _, ok := parseReleaseName(e.Name()); !ok {
			continue
		}
		for _, name := range Names {
			kept := filepath.Join(root.Path(VersionsDir(c)), e.Name(), name)
			if sameFile(kept, root.Path(path.Join(c.Binaries.InstallDir, name))) ||
				sameFile(kept, root.Path(path.Join(PreviousDir(c), name))) {
				keep = append(keep, e.Name())
				break
			}
		}
	}
	return keep
}

// pruneReleases removes the release directories other than the config's
// that no active or previous binary links to, and returns the host paths
// of every file and directory it kept (for the journal).
func pruneReleases(root host.Root, c *config.Cluster) ([]string, error) {
	inUse := releasesInUse(root, c)
	current := path.Base(ReleaseDir(c))
	entries, err := os.ReadDir(root.Path(VersionsDir(c)))
	if err != nil {
		return nil, err
	}
	kept := []string{VersionsDir(c)}
	for _, e := range entries {
		if _, _, ok := parseReleaseName(e.Name()); !ok {
			continue
		}
		dir := path.Join(VersionsDir(c), e.Name())
		if e.Name() != current && !slices.Contains(inUse, e.Name()) {
			if err := os.RemoveAll(root.Path(dir)); err != nil {
				return nil, fmt.Errorf("remove unused release %s: %w", dir, err)
			}
			continue
		}
		kept = append(kept, dir)
		for _, name := range Names {
			if _, err := os.Stat(root.Path(path.Join(dir, name))); err == nil {
				kept = append(kept, path.Join(dir, name))
			}
		}
	}
	return kept, nil
}

// linkAtomic makes to a hard link of from, replacing what is there atomically.
func linkAtomic(from, to string) error {
	if sameFile(from, to) {
		// rename(2) of a link onto the same file does nothing and would
		// leave the temporary link behind
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(to), layout.ModeDir); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(to), "."+filepath.Base(to)+".link")
	os.Remove(tmp) // left by a killed run
	if err := os.Link(from, tmp); err != nil {
		return fmt.Errorf("link %s: %w", to, err)
	}
	if err := os.Rename(tmp, to); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", to, err)
	}
	return nil
}

// sameFile reports whether a and b are the same file (hard links of one inode).
func sameFile(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

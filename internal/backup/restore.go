package backup

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
)

// ErrInstalled marks a node Restore refuses: a cluster is installed there,
// or etcd's data dir already holds data.
var ErrInstalled = errors.New("the node is not reset")

// RestoreOptions say where Restore writes and with which identity.
type RestoreOptions struct {
	// Root prefixes every host path.
	Root host.Root
	// Cluster is the config the node runs with after the restore: etcd's
	// data dir, and the node name and address (the etcd member's name and
	// peer URL).
	Cluster *config.Cluster
	// Snapshots checks and restores the snapshot; nil means etcd's own
	// (EtcdRestorer).
	Snapshots SnapshotRestorer
	// ConfigFile, when not nil, is written as the config k8s-single keeps
	// instead of the archive's (the user gave another config).
	ConfigFile []byte
	// HostAddrs lists this host's addresses, to refuse a node.address the
	// host lacks before writing anything; nil skips the check (a --root).
	HostAddrs func() ([]net.Addr, error)
}

// SnapshotRestorer reads a snapshot file's status and restores it into a
// new etcd data dir.
type SnapshotRestorer interface {
	Status(path string) (etcd.SnapshotInfo, error)
	Restore(snapshotPath, dataDir, name, peerURL string) error
}

// EtcdRestorer is the SnapshotRestorer of etcd's own snapshot code
// (etcd.SnapshotStatus, etcd.SnapshotRestore).
type EtcdRestorer struct{}

// Status reads the snapshot like etcdutl snapshot status.
func (EtcdRestorer) Status(path string) (etcd.SnapshotInfo, error) { return etcd.SnapshotStatus(path) }

// Restore restores the snapshot like etcdutl snapshot restore.
func (EtcdRestorer) Restore(snapshotPath, dataDir, name, peerURL string) error {
	return etcd.SnapshotRestore(snapshotPath, dataDir, name, peerURL)
}

// Restored is what Restore wrote.
type Restored struct {
	// Files are the host paths written, in order.
	Files []string
	// DataDir is etcd's restored data dir (a host path).
	DataDir string
	// Member and PeerURL are the restored etcd member's name and peer URL.
	Member, PeerURL string
}

// Restore brings the archive back onto a reset node. It first checks the
// node: no phase of the journal may be more than pending and etcd's data dir
// must be absent or empty (ErrInstalled otherwise), and the config's address
// must be the host's. It then extracts the archive into a staging dir under
// the state dir, verifying every member again, checks that etcd reads the
// snapshot with the hash and revision of the manifest, writes the PKI (keys 0600,
// certificates at most 0644, dirs 0700), the encryption key and the config
// (0600) atomically, and restores the snapshot into the data dir as a
// one-member cluster named after the node, whose peer URL is
// https://<node.address>:<etcd.peerPort>. The journal is not restored: the
// next up records everything anew and keeps the PKI it finds.
func (a *Archive) Restore(o RestoreOptions) (*Restored, error) {
	cfg := o.Cluster
	if err := CheckReset(o.Root, cfg); err != nil {
		return nil, err
	}
	if err := checkAddress(cfg.Node.Address, o.HostAddrs); err != nil {
		return nil, err
	}
	if err := o.Root.MkdirAll(layout.StateDir, layout.ModePrivateDir); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	stage, err := os.MkdirTemp(o.Root.Path(layout.StateDir), ".restore-*")
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer os.RemoveAll(stage)
	if err := a.extract(stage); err != nil {
		return nil, err
	}
	snaps := o.Snapshots
	if snaps == nil {
		snaps = EtcdRestorer{}
	}
	snapshot := filepath.Join(stage, filepath.FromSlash(SnapshotName))
	if err := checkSnapshot(snaps, snapshot, a.Manifest.Snapshot); err != nil {
		return nil, err
	}
	r := &Restored{DataDir: cfg.Etcd.DataDir, Member: cfg.Node.Name,
		PeerURL: "https://" + net.JoinHostPort(cfg.Node.Address, strconv.Itoa(cfg.Etcd.PeerPort))}
	if err := prepareDirs(o.Root, a.Manifest); err != nil {
		return nil, err
	}
	for _, x := range a.Manifest.Members {
		dst, mode := restoreTarget(x)
		if dst == "" {
			continue
		}
		if x.Name == ConfigName && o.ConfigFile != nil {
			continue
		}
		if err := copyStaged(o.Root.Path(dst), filepath.Join(stage, filepath.FromSlash(x.Name)), mode); err != nil {
			return nil, fmt.Errorf("restore %s: %w", dst, err)
		}
		r.Files = append(r.Files, dst)
	}
	if o.ConfigFile != nil {
		dst := hostPath(ConfigName)
		if err := o.Root.WriteFile(dst, o.ConfigFile, layout.ModePrivate, layout.ModeDir); err != nil {
			return nil, fmt.Errorf("restore %s: %w", dst, err)
		}
		r.Files = append(r.Files, dst)
	}
	dataDir := o.Root.Path(cfg.Etcd.DataDir)
	if err := os.MkdirAll(filepath.Dir(dataDir), layout.ModeDir); err != nil {
		return nil, fmt.Errorf("restore etcd: %w", err)
	}
	if err := snaps.Restore(snapshot, dataDir, r.Member, r.PeerURL); err != nil {
		return nil, err
	}
	return r, nil
}

// checkSnapshot reads the staged snapshot's status before anything is
// written: etcd must be able to read it, and its hash and revision must be
// those the backup recorded.
func checkSnapshot(snaps SnapshotRestorer, path string, want Snapshot) error {
	info, err := snaps.Status(path)
	if err != nil {
		return fmt.Errorf("restore: the archived etcd snapshot: %w; nothing was written", err)
	}
	if info.Hash != want.Hash || info.Revision != want.Revision {
		return fmt.Errorf("%w: the etcd snapshot has hash %08x at revision %d, the manifest says %08x at revision %d; nothing was written",
			ErrTampered, info.Hash, info.Revision, want.Hash, want.Revision)
	}
	return nil
}

// copyStaged copies a staged member to its place atomically.
func copyStaged(dst, staged string, mode os.FileMode) error {
	f, err := os.Open(staged)
	if err != nil {
		return err
	}
	defer f.Close()
	return host.CopyAtomic(dst, f, mode, layout.ModeDir)
}

// CheckReset refuses a node where a cluster is installed: a journal that
// records any phase beyond pending, or an etcd data dir that holds data.
func CheckReset(root host.Root, cfg *config.Cluster) error {
	j, err := phases.LoadJournal(root)
	if err != nil {
		return err
	}
	var installed []string
	for name, rec := range j.Phases {
		if rec.Status != phases.Pending {
			installed = append(installed, string(name)+" "+string(rec.Status))
		}
	}
	if len(installed) > 0 {
		slices.Sort(installed)
		return fmt.Errorf("%w: a cluster is installed here (the journal %s lists %s); run k8s-single reset --purge first",
			ErrInstalled, root.Path(layout.Journal), strings.Join(installed, ", "))
	}
	dataDir := root.Path(cfg.Etcd.DataDir)
	entries, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("restore: read etcd data dir: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("%w: etcd's data dir %s already holds data; run k8s-single reset --purge first (it deletes that data), or set etcd.dataDir to a new directory",
			ErrInstalled, dataDir)
	}
	return nil
}

// checkAddress refuses a node address the host does not have: etcd could
// not listen on it, and the restored member's peer URL would name it.
func checkAddress(address string, hostAddrs func() ([]net.Addr, error)) error {
	if hostAddrs == nil {
		return nil
	}
	addrs, err := hostAddrs()
	if err != nil {
		return fmt.Errorf("restore: list this host's addresses: %w", err)
	}
	want, _ := netip.ParseAddr(address)
	var have []string
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		if p.Addr() == want {
			return nil
		}
		if !p.Addr().IsLoopback() {
			have = append(have, p.Addr().String())
		}
	}
	return fmt.Errorf("restore: node.address %s is not an address of this host (it has %s): restore with -c FILE whose node.address is one of them",
		address, strings.Join(have, ", "))
}

// extract writes every member into stage, verifying the archive again as it
// goes (it may have changed since Open).
func (a *Archive) extract(stage string) error {
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var openErr error
	_, err := walk(a.Path, func(x Member) io.Writer {
		p := filepath.Join(stage, filepath.FromSlash(x.Name))
		if err := os.MkdirAll(filepath.Dir(p), layout.ModePrivateDir); err != nil {
			openErr = err
			return io.Discard
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, layout.ModePrivate)
		if err != nil {
			openErr = err
			return io.Discard
		}
		files = append(files, f)
		return f
	})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if openErr != nil {
		return fmt.Errorf("restore: stage the archive: %w", openErr)
	}
	for _, f := range files {
		if err := f.Close(); err != nil {
			return fmt.Errorf("restore: stage the archive: %w", err)
		}
	}
	files = nil
	return nil
}

// restoreTarget returns where a member goes and with which mode: PKI keys
// 0600, other PKI files their archived mode without execute or group and
// other write bits (at most 0644), the encryption key and the config 0600.
// The snapshot and the journal have no target ("").
func restoreTarget(x Member) (string, os.FileMode) {
	switch x.Name {
	case SnapshotName, JournalName:
		return "", 0
	case EncryptionConfigName, ConfigName:
		return hostPath(x.Name), layout.ModePrivate
	}
	if strings.HasSuffix(x.Name, ".key") {
		return hostPath(x.Name), layout.ModePrivate
	}
	mode, _ := x.FileMode() // checked by parseManifest
	return hostPath(x.Name), mode & layout.ModePublic
}

// prepareDirs creates the directories the members go into: the Kubernetes
// and k8s-single dirs 0755 when absent, the PKI dir and every dir under it
// 0700 (set even when they exist).
func prepareDirs(root host.Root, m *Manifest) error {
	for _, d := range []string{layout.KubernetesDir, path.Dir(hostPath(ConfigName))} {
		if err := os.MkdirAll(root.Path(d), layout.ModeDir); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	dirs := []string{layout.PKIDir}
	for _, x := range m.Members {
		if !strings.HasPrefix(x.Name, pkiPrefix) {
			continue
		}
		for d := path.Dir(hostPath(x.Name)); d != layout.PKIDir; d = path.Dir(d) {
			dirs = append(dirs, d)
		}
	}
	slices.Sort(dirs)
	for _, d := range slices.Compact(dirs) {
		if err := root.MkdirAll(d, layout.ModePrivateDir); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	return nil
}

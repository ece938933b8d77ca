package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Snapshotter saves a verified etcd snapshot to a file.
type Snapshotter interface {
	Snapshot(ctx context.Context, path string) (etcd.SnapshotInfo, error)
}

// EtcdSnapshotter returns the Snapshotter of a live etcd: SnapshotSave,
// which checks the stream's checksum and the database, then a status of
// the saved file that must agree with it.
func EtcdSnapshotter(c *etcd.Client) Snapshotter { return etcdSnapshotter{c} }

type etcdSnapshotter struct{ c *etcd.Client }

func (s etcdSnapshotter) Snapshot(ctx context.Context, path string) (etcd.SnapshotInfo, error) {
	info, err := s.c.SnapshotSave(ctx, path)
	if err != nil {
		return etcd.SnapshotInfo{}, err
	}
	again, err := etcd.SnapshotStatus(path)
	if err != nil {
		return etcd.SnapshotInfo{}, err
	}
	if again.Hash != info.Hash || again.Revision != info.Revision {
		return etcd.SnapshotInfo{}, fmt.Errorf("snapshot %s changed after it was saved: hash %08x at revision %d, saved %08x at revision %d",
			path, again.Hash, again.Revision, info.Hash, info.Revision)
	}
	return info, nil
}

// Options say what Create archives and where.
type Options struct {
	// Root prefixes every host path, Dir included.
	Root host.Root
	// Dir is the host directory the archive goes into (created 0700).
	Dir string
	// Cluster is the node's config: its identity and versions go into the
	// manifest.
	Cluster *config.Cluster
	// Version is k8s-single's own version.
	Version string
	// Snapshots saves the etcd snapshot.
	Snapshots Snapshotter
	// Now is the creation time; zero means time.Now().
	Now time.Time
}

// Result is the archive Create wrote.
type Result struct {
	// Path is the archive's path (under Root).
	Path string
	// Size is the archive's size in bytes.
	Size     int64
	Manifest *Manifest
}

// source is a member to archive: its bytes in memory, or a file to stream.
type source struct {
	Member
	data []byte
	file string
}

// Create writes one archive into Dir: the manifest, a fresh etcd snapshot,
// every file of the PKI dir, the encryption key, the config k8s-single
// keeps (when there is one) and the journal. The archive (mode 0600)
// appears at its path only complete and verified, as Open verifies it, and
// synced to disk; on any failure nothing but the directory is left.
func Create(ctx context.Context, o Options) (*Result, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Millisecond)
	dir := o.Root.Path(o.Dir)
	if err := o.Root.MkdirAll(o.Dir, layout.ModePrivateDir); err != nil {
		return nil, fmt.Errorf("create backup dir: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".snapshot-*")
	if err != nil {
		return nil, fmt.Errorf("create backup: %w", err)
	}
	defer os.RemoveAll(tmp)
	snapPath := filepath.Join(tmp, "snapshot.db")
	info, err := o.Snapshots.Snapshot(ctx, snapPath)
	if err != nil {
		return nil, fmt.Errorf("back up etcd: %w", err)
	}
	srcs, err := collect(o.Root, snapPath)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Format:            FormatVersion,
		Created:           now,
		K8sSingleVersion:  o.Version,
		Node:              Node{Name: o.Cluster.Node.Name, Address: o.Cluster.Node.Address},
		KubernetesVersion: o.Cluster.KubernetesVersion,
		EtcdVersion:       o.Cluster.EtcdVersion,
		Snapshot:          Snapshot{Revision: info.Revision, TotalKeys: info.TotalKeys, Hash: info.Hash, StorageVersion: info.Version},
	}
	for _, s := range srcs {
		m.Members = append(m.Members, s.Member)
	}
	out := filepath.Join(dir, ArchiveName(now))
	err = host.WriteAtomic(out, layout.ModePrivate, func(f *os.File) error {
		if err := writeArchive(f, m, srcs); err != nil {
			return fmt.Errorf("write %s: %w", out, err)
		}
		if _, err := walk(f.Name(), func(Member) io.Writer { return nil }); err != nil {
			return fmt.Errorf("verify %s: %w", out, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return nil, err
	}
	return &Result{Path: out, Size: st.Size(), Manifest: m}, nil
}

// collect reads the members: the snapshot (streamed later), the PKI files,
// the encryption key, the config and the journal, each with its digest.
func collect(root host.Root, snapPath string) ([]source, error) {
	snap, err := digestFile(SnapshotName, snapPath)
	if err != nil {
		return nil, err
	}
	srcs := []source{snap}
	pki, err := pkiSources(root)
	if err != nil {
		return nil, err
	}
	srcs = append(srcs, pki...)
	for _, name := range []string{EncryptionConfigName, ConfigName, JournalName} {
		s, err := readSource(root, name, hostPath(name))
		if errors.Is(err, fs.ErrNotExist) && name != EncryptionConfigName {
			continue // no config kept (up ran on the defaults), or no journal
		}
		if err != nil {
			return nil, err
		}
		srcs = append(srcs, s)
	}
	for _, name := range requiredMembers {
		if !containsMember(srcs, name) {
			return nil, fmt.Errorf("back up: %s is missing: is the cluster installed? (k8s-single up makes it)", hostPath(name))
		}
	}
	return srcs, nil
}

func containsMember(srcs []source, name string) bool {
	for _, s := range srcs {
		if s.Name == name {
			return true
		}
	}
	return false
}

// pkiSources reads every regular file under the PKI dir, its etcd/ dir
// included; a half-written temp file of an interrupted write is skipped and
// anything but files and directories is refused.
func pkiSources(root host.Root) ([]source, error) {
	base := root.Path(layout.PKIDir)
	var srcs []source
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("back up %s: not a regular file; remove it or replace it with one", p)
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			return err
		}
		name := pkiPrefix + filepath.ToSlash(rel)
		s, err := readSource(root, name, path.Join(layout.PKIDir, filepath.ToSlash(rel)))
		if err != nil {
			return err
		}
		srcs = append(srcs, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("back up the PKI: %w", err)
	}
	return srcs, nil
}

// readSource reads a small host file into memory with its digest and mode.
func readSource(root host.Root, name, hostPath string) (source, error) {
	p := root.Path(hostPath)
	st, err := os.Lstat(p)
	if err != nil {
		return source{}, fmt.Errorf("back up %s: %w", p, err)
	}
	if !st.Mode().IsRegular() {
		return source{}, fmt.Errorf("back up %s: not a regular file", p)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return source{}, fmt.Errorf("back up %s: %w", p, err)
	}
	sum := sha256.Sum256(data)
	return source{
		Member: Member{Name: name, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), Mode: modeString(st.Mode())},
		data:   data,
	}, nil
}

// digestFile describes a file to stream into the archive.
func digestFile(name, p string) (source, error) {
	sum, mode, err := host.FileDigest(p)
	if err != nil {
		return source{}, fmt.Errorf("back up %s: %w", p, err)
	}
	st, err := os.Stat(p)
	if err != nil {
		return source{}, fmt.Errorf("back up %s: %w", p, err)
	}
	return source{Member: Member{Name: name, Size: st.Size(), SHA256: sum, Mode: modeString(mode)}, file: p}, nil
}

// writeArchive writes the manifest, then every member, as a tar.gz to w.
func writeArchive(w io.Writer, m *Manifest, srcs []source) error {
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	manifest = append(manifest, '\n')
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	add := func(name string, mode os.FileMode, size int64, r io.Reader) error {
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(mode.Perm()), Size: size,
			ModTime: m.Created, Uname: "root", Gname: "root", Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, r); err != nil {
			return fmt.Errorf("archive %s: %w", name, err)
		}
		return nil
	}
	if err := add(ManifestName, layout.ModePrivate, int64(len(manifest)), bytes.NewReader(manifest)); err != nil {
		return err
	}
	for _, s := range srcs {
		mode, err := s.FileMode()
		if err != nil {
			return err
		}
		r := io.Reader(bytes.NewReader(s.data))
		if s.file != "" {
			f, err := os.Open(s.file)
			if err != nil {
				return err
			}
			defer f.Close()
			// A file that grew since its digest fails the verification
			// that follows; LimitReader keeps the tar header's size true.
			r = io.LimitReader(f, s.Size)
		}
		if err := add(s.Name, mode, s.Size, r); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

package etcd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/k8s-single/k8s-single/internal/host"
)

// SnapshotInfo describes a snapshot file like `etcdutl snapshot status`.
type SnapshotInfo struct {
	Path string `json:"path"`
	// Hash is the CRC-32 (Castagnoli) of the database's buckets, keys and values.
	Hash      uint32 `json:"hash"`
	Revision  int64  `json:"revision"`
	TotalKeys int    `json:"totalKeys"`
	TotalSize int64  `json:"totalSize"`
	// Version is the snapshot's storage version, e.g. 3.7.0.
	Version string `json:"version"`
}

// ErrDataDirNotEmpty is returned by SnapshotRestore for a data directory that
// already holds something, such as a live etcd's data.
var ErrDataDirNotEmpty = errors.New("data directory is not empty")

// restoreClusterToken is etcd's default --initial-cluster-token; a restored
// member keeps it in its data and ignores the flag afterwards.
const restoreClusterToken = "etcd-cluster"

// SnapshotSave streams a snapshot of the first endpoint's database to path,
// like `etcdctl snapshot save`, then checks it like `etcdutl snapshot status`.
// The file (mode 0600) appears at path only complete, checksummed, verified
// and synced to disk; on any failure path is left as it was.
func (c *Client) SnapshotSave(ctx context.Context, path string) (SnapshotInfo, error) {
	cli := c.byEndpoint[c.opts.Endpoints[0]]
	var info SnapshotInfo
	err := host.WriteAtomic(path, 0o600, func(f *os.File) error {
		err := c.run(ctx, cli, func(ctx context.Context) error { return fetchSnapshot(ctx, cli, f) })
		if err != nil {
			return err
		}
		info, err = SnapshotStatus(f.Name())
		return err
	})
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("save etcd snapshot to %s: %w", path, err)
	}
	info.Path = path
	return info, nil
}

// fetchSnapshot copies the snapshot stream into f and checks the sha256
// etcd appends to it.
func fetchSnapshot(ctx context.Context, cli *clientv3.Client, f *os.File) error {
	resp, err := cli.SnapshotWithVersion(ctx)
	if err != nil {
		return err
	}
	defer resp.Snapshot.Close()
	size, err := io.Copy(f, resp.Snapshot)
	if err != nil {
		return fmt.Errorf("receive snapshot: %w", err)
	}
	return verifyChecksum(f, size)
}

// verifyChecksum checks that the last sha256.Size bytes of f are the sha256
// of the bytes before them.
func verifyChecksum(f *os.File, size int64) error {
	if size%512 != sha256.Size {
		return fmt.Errorf("snapshot of %d bytes carries no checksum: the stream was cut short", size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size-sha256.Size)); err != nil {
		return fmt.Errorf("checksum snapshot: %w", err)
	}
	want := make([]byte, sha256.Size)
	if _, err := f.ReadAt(want, size-sha256.Size); err != nil {
		return fmt.Errorf("checksum snapshot: %w", err)
	}
	if !bytes.Equal(h.Sum(nil), want) {
		return errors.New("snapshot checksum mismatch: the file was corrupted in transit")
	}
	return nil
}

// SnapshotStatus reads a snapshot file like `etcdutl snapshot status`,
// checking the database's integrity on the way.
func SnapshotStatus(path string) (SnapshotInfo, error) {
	st, err := snapshot.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("snapshot %s is unreadable: %w", path, err)
	}
	return SnapshotInfo{
		Path:      path,
		Hash:      st.Hash,
		Revision:  st.Revision,
		TotalKeys: st.TotalKey,
		TotalSize: st.TotalSize,
		Version:   st.Version,
	}, nil
}

// SnapshotRestore restores a snapshot into a new etcd data directory for a
// one-member cluster named name that listens for peers on peerURL, like
// `etcdutl snapshot restore`. It refuses a dataDir that exists and is not
// empty (ErrDataDirNotEmpty), so a live data directory is never overwritten,
// and builds the directory beside dataDir before renaming it into place, so a
// failed restore leaves nothing behind.
func SnapshotRestore(snapshotPath, dataDir, name, peerURL string) error {
	if name == "" || peerURL == "" {
		return errors.New("restore etcd snapshot: a member name and a peer URL are required")
	}
	if err := requireEmptyDir(dataDir); err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(dataDir))
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dataDir)+".restore-*")
	if err != nil {
		return fmt.Errorf("restore etcd snapshot: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	err = snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:        snapshotPath,
		Name:                name,
		OutputDataDir:       tmp,
		PeerURLs:            []string{peerURL},
		InitialCluster:      name + "=" + peerURL,
		InitialClusterToken: restoreClusterToken,
	})
	if err != nil {
		return fmt.Errorf("restore etcd snapshot %s: %w", snapshotPath, err)
	}
	if err := os.Rename(tmp, dataDir); err != nil {
		return fmt.Errorf("restore etcd snapshot: %w", err)
	}
	return host.SyncDir(parent)
}

// requireEmptyDir accepts a directory that is absent or empty.
func requireEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("restore etcd snapshot into %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("refusing to restore into %s: %w (a live etcd's?); restore into a new directory and point etcd's --data-dir at it",
			dir, ErrDataDirNotEmpty)
	}
	return nil
}

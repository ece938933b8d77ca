// Package host owns every touch of the machine's file system: the root prefix
// (--root) that lets a whole install render into a temp dir, atomic writes
// (temp file, fsync, rename, fsync dir) and file digests. It knows nothing of
// Kubernetes.
package host

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Root is the directory every host path is resolved under ("/" on a real node).
type Root string

// Path maps an absolute host path (/etc/kubernetes) under the root.
func (r Root) Path(hostPath string) string {
	if r == "" || r == "/" {
		return filepath.Clean(hostPath)
	}
	return filepath.Join(string(r), hostPath)
}

// IsSystem reports whether the root is the real file system.
func (r Root) IsSystem() bool { return r == "" || r == "/" }

// WriteFile atomically writes data to the host path with the given mode,
// creating parent directories with dirMode. A reader, or a run killed at any
// instant, sees either the old file or the new one, never a part.
func (r Root) WriteFile(hostPath string, data []byte, mode, dirMode os.FileMode) error {
	return WriteFileAtomic(r.Path(hostPath), data, mode, dirMode)
}

// ReadFile reads a host path under the root.
func (r Root) ReadFile(hostPath string) ([]byte, error) { return os.ReadFile(r.Path(hostPath)) }

// MkdirAll creates a host directory under the root and sets its mode.
func (r Root) MkdirAll(hostPath string, mode os.FileMode) error {
	p := r.Path(hostPath)
	if err := os.MkdirAll(p, mode); err != nil {
		return err
	}
	return os.Chmod(p, mode)
}

// ChownAll gives a host directory and everything under it to uid:gid (a
// symlink itself, never its target).
func (r Root) ChownAll(hostPath string, uid, gid int) error {
	return filepath.WalkDir(r.Path(hostPath), func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", p, err)
		}
		return nil
	})
}

// WriteFileAtomic writes data to path with the given mode, creating its
// directory with dirMode, atomically as WriteAtomic does.
func WriteFileAtomic(path string, data []byte, mode, dirMode os.FileMode) error {
	return CopyAtomic(path, bytes.NewReader(data), mode, dirMode)
}

// CopyAtomic writes what r yields, up to EOF, to path with the given mode,
// creating its directory with dirMode, without holding the content in memory.
// It goes through WriteAtomic, so if r fails part-way, path is left as it was
// and no temp file remains.
func CopyAtomic(path string, r io.Reader, mode, dirMode os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return WriteAtomic(path, mode, func(f *os.File) error {
		if _, err := io.Copy(f, r); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// WriteAtomic creates or replaces path, whose directory must exist, through a
// temp file beside it: it removes the temp files an earlier, killed write of
// path left, creates the temp file with mode, lets fill write it (fill may
// also read it back, by f or by f.Name(), to check it), then fsyncs it,
// renames it to path and fsyncs the directory. If fill fails, its error is
// returned as is and path is untouched. A reader, or a run killed at any
// instant, sees either the old file or the new one, never a part. The
// failpoints of FailpointEnv count the writes made here.
func WriteAtomic(path string, mode os.FileMode, fill func(f *os.File) error) error {
	dir := filepath.Dir(path)
	removeStaleTemps(dir, filepath.Base(path))
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fill(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	failpoint("before-rename", path)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: sync dir: %w", path, err)
	}
	failpoint("after-write", path)
	return nil
}

// removeStaleTemps deletes temp files an earlier, killed write of the same
// file left behind; they were never renamed, so nothing refers to them.
func removeStaleTemps(dir, base string) {
	stale, _ := filepath.Glob(filepath.Join(dir, "."+base+".tmp-*"))
	for _, p := range stale {
		os.Remove(p)
	}
}

// SyncDir fsyncs a directory, making a rename or create in it durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// FileDigest returns the hex sha256 and the mode of a file.
func FileDigest(path string) (string, os.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), st.Mode().Perm(), nil
}

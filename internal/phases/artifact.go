package phases

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
)

// Artifact is one thing a phase left on the host, as the journal remembers it:
// a file (with its digest) or a directory (mode and owner only).
type Artifact struct {
	// Path is the host path (without --root).
	Path   string `json:"path"`
	SHA256 string `json:"sha256,omitempty"`
	Mode   string `json:"mode"`
	// UID and GID are the owner the phase left; drift in them is repaired.
	UID  int   `json:"uid"`
	GID  int   `json:"gid"`
	Size int64 `json:"size"`
	// Dir marks a directory: its mode and owner matter, its content is other artifacts.
	Dir bool `json:"dir,omitempty"`
	// ModTime lets an unchanged large file skip re-hashing (git's index trick).
	ModTime time.Time `json:"modTime"`
}

// smallFile is the size up to which a file is hashed on every check: keys,
// certificates, kubeconfigs, units and configs are verified by content, since
// an edit can keep size and time (touch -r). Larger files (the binaries) are
// trusted when size, time and mode are unchanged.
const smallFile = 1 << 20

// fileInfo is what a check reads of a path without reading its content.
type fileInfo struct {
	mode     os.FileMode
	uid, gid int
	size     int64
	modTime  time.Time
	dir      bool
}

func statPath(p string) (fileInfo, error) {
	st, err := os.Lstat(p)
	if err != nil {
		return fileInfo{}, err
	}
	fi := fileInfo{mode: st.Mode().Perm(), size: st.Size(), modTime: st.ModTime().UTC(), dir: st.IsDir()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fi.uid, fi.gid = int(sys.Uid), int(sys.Gid)
	}
	if !st.Mode().IsRegular() && !st.IsDir() {
		return fi, fmt.Errorf("%s is a %s, not a file or directory", p, st.Mode().Type())
	}
	return fi, nil
}

func modeString(m os.FileMode) string { return fmt.Sprintf("%04o", m.Perm()) }

// snapshotArtifact reads a path's digest, mode, owner, size and time. A large
// file that known (an earlier record) lists with the same size, time and mode
// is not read again: its digest is reused, as intact trusts size and time for
// such files.
func snapshotArtifact(root host.Root, hostPath string, known []Artifact) (Artifact, error) {
	p := root.Path(hostPath)
	fi, err := statPath(p)
	if err != nil {
		return Artifact{}, fmt.Errorf("record %s: %w", hostPath, err)
	}
	a := Artifact{Path: hostPath, Mode: modeString(fi.mode), UID: fi.uid, GID: fi.gid, Dir: fi.dir}
	if fi.dir {
		return a, nil
	}
	a.Size, a.ModTime = fi.size, fi.modTime
	if i := slices.IndexFunc(known, func(k Artifact) bool { return k.Path == hostPath }); i >= 0 && a.Size > smallFile {
		if k := known[i]; k.SHA256 != "" && k.Mode == a.Mode && k.Size == a.Size && k.ModTime.Equal(a.ModTime) {
			a.SHA256 = k.SHA256
			return a, nil
		}
	}
	if a.SHA256, _, err = host.FileDigest(p); err != nil {
		return Artifact{}, fmt.Errorf("record %s: %w", hostPath, err)
	}
	return a, nil
}

// intact reports whether the artifact is still on disk as recorded (kind,
// mode, owner, content), and if not, why. Small files are hashed every time;
// a large one whose size and time are unchanged is taken as unchanged.
func (a Artifact) intact(root host.Root) (bool, string) {
	p := root.Path(a.Path)
	fi, err := statPath(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, a.Path + " is missing"
	case err != nil:
		return false, err.Error()
	case fi.dir != a.Dir:
		return false, a.Path + " changed between file and directory"
	case modeString(fi.mode) != a.Mode:
		return false, fmt.Sprintf("%s has mode %s, want %s", a.Path, modeString(fi.mode), a.Mode)
	case fi.uid != a.UID || fi.gid != a.GID:
		return false, fmt.Sprintf("%s is owned by %d:%d, want %d:%d", a.Path, fi.uid, fi.gid, a.UID, a.GID)
	case a.Dir:
		return true, ""
	case fi.size > smallFile && fi.size == a.Size && fi.modTime.Equal(a.ModTime):
		return true, ""
	}
	sum, _, err := host.FileDigest(p)
	if err != nil || sum != a.SHA256 {
		return false, a.Path + " was changed"
	}
	return true, ""
}

// repair puts back the recorded mode and owner of an artifact that is still
// there: drift is repaired, never accepted as the new truth. The phase then
// rewrites content that drifted. It returns what it changed, if anything.
func (a Artifact) repair(root host.Root) (string, error) {
	p := root.Path(a.Path)
	fi, err := statPath(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var fixed string
	if want := a.Mode; modeString(fi.mode) != want {
		var m uint32
		if _, err := fmt.Sscanf(want, "%o", &m); err != nil {
			return "", fmt.Errorf("journal mode %q of %s: %w", want, a.Path, err)
		}
		if err := os.Chmod(p, os.FileMode(m)); err != nil {
			return "", fmt.Errorf("repair the mode of %s: %w", a.Path, err)
		}
		fixed = fmt.Sprintf("mode %s -> %s", modeString(fi.mode), want)
	}
	if fi.uid != a.UID || fi.gid != a.GID {
		if err := os.Lchown(p, a.UID, a.GID); err != nil {
			return "", fmt.Errorf("repair the owner of %s: %w", a.Path, err)
		}
		fixed += fmt.Sprintf(" owner %d:%d -> %d:%d", fi.uid, fi.gid, a.UID, a.GID)
	}
	return fixed, nil
}

// repairArtifacts repairs the mode and owner of every recorded artifact of
// the phase before it runs, telling the user what it changed.
func repairArtifacts(c *Context, arts []Artifact) error {
	for _, a := range arts {
		fixed, err := a.repair(c.Root)
		if err != nil {
			return err
		}
		if fixed != "" {
			c.Printf("repaired %s: %s", a.Path, fixed)
		}
	}
	return nil
}

// IrreplaceableError says which recorded file is gone or changed, what it
// was, and the ways out; nothing was written.
type IrreplaceableError struct {
	Phase    Name
	Path     string
	What     string // "is missing", "is empty", "was changed"
	Why      string
	Recorded time.Time
}

func (e *IrreplaceableError) Error() string {
	return fmt.Sprintf("%s %s since phase %s recorded it on %s; k8s-single will not make it anew: %s. "+
		"Restore the file from a backup (it must be the same file), or start over with `k8s-single reset --purge` and `k8s-single up` "+
		"(a new cluster: its etcd data is deleted too)", e.Path, e.What, e.Phase, e.Recorded.Format(time.RFC3339), e.Why)
}

// guardIrreplaceable refuses a phase whose recorded irreplaceable file is
// missing, empty or changed. Files the journal never recorded (a first run,
// or a run killed before it recorded them) are not guarded.
func guardIrreplaceable(root host.Root, p Phase, rec *Record) error {
	for _, irr := range p.Irreplaceable {
		i := slices.IndexFunc(rec.Artifacts, func(a Artifact) bool { return a.Path == irr.Path })
		if i < 0 {
			continue
		}
		a := rec.Artifacts[i]
		e := &IrreplaceableError{Phase: p.Name, Path: irr.Path, Why: irr.Why, Recorded: rec.Finished}
		if e.Recorded.IsZero() {
			e.Recorded = rec.Started
		}
		fi, err := statPath(root.Path(irr.Path))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			e.What = "is missing"
		case err != nil:
			return err
		case fi.size == 0:
			e.What = "is empty"
		default:
			if sum, _, err := host.FileDigest(root.Path(irr.Path)); err != nil || sum != a.SHA256 {
				e.What = "was changed"
			}
		}
		if e.What != "" {
			return e
		}
	}
	return nil
}

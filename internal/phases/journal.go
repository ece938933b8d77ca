package phases

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Status is where a phase stands in the journal.
type Status string

// The statuses a phase moves through. Rendered means its files are written
// (a dry run stops there); Done means started and verified as well.
const (
	Pending  Status = "pending"
	Running  Status = "running"
	Rendered Status = "rendered"
	Done     Status = "done"
	Failed   Status = "failed"
)

// Artifact is one thing a phase left on the host, as the journal remembers it.
type Artifact struct {
	// Path is the host path (without --root).
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Mode   string `json:"mode"`
	Size   int64  `json:"size"`
	// ModTime lets an unchanged file skip re-hashing (git's index trick).
	ModTime time.Time `json:"modTime"`
}

// Record is one phase's entry in the journal.
type Record struct {
	Status     Status     `json:"status"`
	Started    time.Time  `json:"started,omitzero"`
	Finished   time.Time  `json:"finished,omitzero"`
	DurationMS int64      `json:"durationMs"`
	InputHash  string     `json:"inputHash,omitempty"`
	Artifacts  []Artifact `json:"artifacts,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// Journal is the install's memory: per phase, what ran, on which inputs, and
// what it left behind. It lives at layout.Journal and is written atomically.
type Journal struct {
	Version int                `json:"version"`
	Phases  map[string]*Record `json:"phases"`
}

const journalVersion = 1

// LoadJournal reads the journal under root; a missing one is empty.
func LoadJournal(root host.Root) (*Journal, error) {
	j := &Journal{Version: journalVersion, Phases: map[string]*Record{}}
	data, err := root.ReadFile(layout.Journal)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	if err := json.Unmarshal(data, j); err != nil {
		return nil, fmt.Errorf("read journal %s: %w; move it aside to start over", root.Path(layout.Journal), err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("journal %s has version %d, this k8s-single reads %d", root.Path(layout.Journal), j.Version, journalVersion)
	}
	if j.Phases == nil {
		j.Phases = map[string]*Record{}
	}
	return j, nil
}

// Save writes the journal atomically.
func (j *Journal) Save(root host.Root) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return root.WriteFile(layout.Journal, append(data, '\n'), layout.ModePrivate, layout.ModePrivateDir)
}

// Record returns the phase's record, creating a pending one.
func (j *Journal) Record(phase string) *Record {
	r, ok := j.Phases[phase]
	if !ok {
		r = &Record{Status: Pending}
		j.Phases[phase] = r
	}
	return r
}

// snapshotArtifact reads a file's digest, mode, size and time. A file that
// known (an earlier record) lists with the same size, time and mode is not
// read again: its digest is reused, as intact trusts size and time.
func snapshotArtifact(root host.Root, hostPath string, known []Artifact) (Artifact, error) {
	p := root.Path(hostPath)
	st, err := os.Stat(p)
	if err != nil {
		return Artifact{}, fmt.Errorf("record %s: %w", hostPath, err)
	}
	a := Artifact{Path: hostPath, Mode: fmt.Sprintf("%04o", st.Mode().Perm()), Size: st.Size(), ModTime: st.ModTime().UTC()}
	if i := slices.IndexFunc(known, func(k Artifact) bool { return k.Path == hostPath }); i >= 0 {
		if k := known[i]; k.SHA256 != "" && k.Mode == a.Mode && k.Size == a.Size && k.ModTime.Equal(a.ModTime) {
			return k, nil
		}
	}
	if a.SHA256, _, err = host.FileDigest(p); err != nil {
		return Artifact{}, fmt.Errorf("record %s: %w", hostPath, err)
	}
	return a, nil
}

// intact reports whether the artifact is still on disk as recorded, and if
// not, why. Size, time and mode unchanged means unchanged; otherwise the
// content is hashed again.
func (a Artifact) intact(root host.Root) (bool, string) {
	p := root.Path(a.Path)
	st, err := os.Stat(p)
	if err != nil {
		return false, a.Path + " is missing"
	}
	if fmt.Sprintf("%04o", st.Mode().Perm()) != a.Mode {
		return false, fmt.Sprintf("%s has mode %04o, want %s", a.Path, st.Mode().Perm(), a.Mode)
	}
	if st.Size() == a.Size && st.ModTime().UTC().Equal(a.ModTime) {
		return true, ""
	}
	sum, _, err := host.FileDigest(p)
	if err != nil || sum != a.SHA256 {
		return false, a.Path + " was changed"
	}
	return true, ""
}

package phases

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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

package phases

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
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
	Version int              `json:"version"`
	Phases  map[Name]*Record `json:"phases"`
}

const journalVersion = 1

// LoadJournal reads the journal under root; a missing one is empty.
func LoadJournal(root host.Root) (*Journal, error) {
	j := &Journal{Version: journalVersion, Phases: map[Name]*Record{}}
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
		j.Phases = map[Name]*Record{}
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

// sharedJournal is the journal of one up, which phases running at once
// change: every change and its atomic save happen under one lock, and the
// phases work on copies of their records, so the file on disk always holds
// whole records and a phase never sees another's half-made one.
type sharedJournal struct {
	mu   sync.Mutex
	j    *Journal
	root host.Root
}

// record returns a copy of the phase's record (pending when the journal
// has none) and whether the journal has one.
func (s *sharedJournal) record(phase Name) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.j.Phases[phase]
	if !ok {
		return Record{Status: Pending}, false
	}
	c := *r
	c.Artifacts = slices.Clone(r.Artifacts)
	return c, true
}

// put stores a copy of the phase's record and saves the journal.
func (s *sharedJournal) put(phase Name, r Record) error {
	r.Artifacts = slices.Clone(r.Artifacts)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.j.Phases[phase] = &r
	return s.j.Save(s.root)
}

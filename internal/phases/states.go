package phases

import (
	"time"
)

// State is one phase as `phase list` shows it.
type State struct {
	Name     Name   `json:"name"`
	Short    string `json:"description"`
	Status   Status `json:"status"`
	Duration string `json:"lastDuration,omitempty"`
	// Took is Duration as a number, for callers that add or compare it.
	Took     time.Duration `json:"-"`
	Finished time.Time     `json:"finished,omitzero"`
	// Drift says why a done phase would run again (an artifact changed), if it would.
	Drift string `json:"drift,omitempty"`
	Error string `json:"error,omitempty"`
}

// States is the phase list, printable as a table.
type States []State

// Table lays the states out for the printer.
func (s States) Table() ([]string, [][]string) {
	rows := make([][]string, len(s))
	for i, st := range s {
		note := st.Drift
		if st.Error != "" {
			note = st.Error
		}
		rows[i] = []string{string(st.Name), string(st.Status), st.Duration, note, st.Short}
	}
	return []string{"PHASE", "STATE", "LAST DURATION", "NOTE", "DESCRIPTION"}, rows
}

// States reads the journal and reports every phase in order.
func (r *Runner) States() (States, error) {
	j, err := LoadJournal(r.Root)
	if err != nil {
		return nil, err
	}
	out := make(States, 0, len(r.Phases))
	for _, p := range r.Phases {
		st := State{Name: p.Name, Short: p.Short, Status: Pending}
		if rec, ok := j.Phases[p.Name]; ok {
			st.Status, st.Error, st.Finished = rec.Status, rec.Error, rec.Finished
			if !rec.Finished.IsZero() {
				st.Took = time.Duration(rec.DurationMS) * time.Millisecond
				st.Duration = elapsed(st.Took)
			}
			for _, a := range rec.Artifacts {
				if ok, why := a.intact(r.Root); !ok {
					st.Drift = why
					break
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

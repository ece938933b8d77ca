package install

import (
	"slices"
	"testing"

	"github.com/k8s-single/k8s-single/internal/phases"
)

// TestPhasesFormAGraph: every dependency names a phase, comes earlier in
// the list (so the list is an order the graph allows and the graph has no
// cycle), and every phase but preflight runs after it.
func TestPhasesFormAGraph(t *testing.T) {
	ps := Phases()
	if err := phases.CheckGraph(ps); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps[1:] {
		if !reaches(ps, p.Name, PhasePreflight) {
			t.Errorf("phase %s does not wait for preflight: it could change the host before the host is checked", p.Name)
		}
	}
}

// reaches reports whether phase from waits, directly or not, for phase to.
func reaches(ps []phases.Phase, from, to phases.Name) bool {
	i := slices.IndexFunc(ps, func(p phases.Phase) bool { return p.Name == from })
	for _, d := range slices.Concat(ps[i].DependsOn, ps[i].After) {
		if d == to || reaches(ps, d, to) {
			return true
		}
	}
	return false
}

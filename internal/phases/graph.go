package phases

import (
	"fmt"
	"slices"
)

// CheckGraph proves that the phases form a graph the runner can walk: every
// name is unique, and every phase of DependsOn and After exists and comes
// earlier in the list. The list is then an order the graph allows (a serial
// run walks it), and the graph has no cycle, since a cycle would need a phase
// that names a later one.
func CheckGraph(ps []Phase) error {
	seen := map[Name]int{}
	for i, p := range ps {
		if p.Name == "" {
			return fmt.Errorf("phase %d has no name", i+1)
		}
		if j, dup := seen[p.Name]; dup {
			return fmt.Errorf("phases %d and %d are both named %s", j+1, i+1, p.Name)
		}
		seen[p.Name] = i
	}
	for i, p := range ps {
		for _, dep := range slices.Concat(p.DependsOn, p.After) {
			j, ok := seen[dep]
			switch {
			case !ok:
				return fmt.Errorf("phase %s depends on %q, which is not a phase", p.Name, dep)
			case j == i:
				return fmt.Errorf("phase %s depends on itself", p.Name)
			case j > i:
				return fmt.Errorf("phase %s depends on %s, which comes after it in the list: "+
					"the list must be an order the graph allows (a cycle cannot be)", p.Name, dep)
			}
		}
	}
	return nil
}

// waitsFor lists the indices of the phases that phase i waits for within
// [first, last]: those of its DependsOn and After that run in the same up.
// A dependency outside the range is not waited for (its record must show it
// done: inputHash checks that).
func (r *Runner) waitsFor(i, first, last int) []int {
	var out []int
	for _, dep := range slices.Concat(r.Phases[i].DependsOn, r.Phases[i].After) {
		if j := slices.IndexFunc(r.Phases, func(p Phase) bool { return p.Name == dep }); j >= first && j <= last {
			out = append(out, j)
		}
	}
	return out
}

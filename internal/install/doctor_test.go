package install

import (
	"strings"
	"testing"
)

// TestDoctorLines: a finding prints its part, problem, unit state, log lines
// and fix; no finding says what was checked.
func TestDoctorLines(t *testing.T) {
	well := DoctorReport{Checked: []string{"components", "certificates"}}
	if got := strings.Join(well.Lines(), "\n"); got != "all well: checked components, certificates" {
		t.Errorf("healthy report: %q", got)
	}
	h := ComponentHealth{Component: "kube-scheduler", Unit: "kube-scheduler.service", UnitState: "inactive", Detail: "connection refused"}
	r := DoctorReport{Checked: []string{"components"}, Findings: []Finding{{Part: h.Component, Problem: h.Detail,
		UnitState: h.UnitState, Journal: "line 1\nline 2", Fix: componentFix(h)}}}
	got := strings.Join(r.Lines(), "\n")
	for _, want := range []string{"PROBLEM kube-scheduler: connection refused", "unit state: inactive", "    line 2",
		"fix: start it: systemctl start kube-scheduler.service", "1 problem(s); checked components"} {
		if !strings.Contains(got, want) {
			t.Errorf("report does not say %q:\n%s", want, got)
		}
	}
	if fix := componentFix(ComponentHealth{Unit: "etcd.service", UnitState: "activating"}); !strings.Contains(fix, "keeps restarting") {
		t.Errorf("a crash-looping unit's fix: %q", fix)
	}
}

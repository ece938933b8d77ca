package install

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/dashboard"
	"github.com/k8s-single/k8s-single/internal/golden"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/version"
)

// summaryStates is a journal where every phase is done, each with a
// distinct last duration.
func summaryStates() phases.States {
	var st phases.States
	for i, p := range Phases() {
		st = append(st, phases.State{Name: p.Name, Status: phases.Done, Took: time.Duration(i+1) * 100 * time.Millisecond})
	}
	return st
}

func TestSummary(t *testing.T) {
	old := version.Version
	version.Version = "v0.1.0"
	t.Cleanup(func() { version.Version = old })
	runtimeVersions := []string{
		"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1",
		"runc version 1.1.5+ds1",
	}
	states := summaryStates()
	// A resumed run: the first five phases skipped, the rest ran.
	var outcomes []phases.Outcome
	for i, st := range states {
		o := phases.Outcome{Phase: st.Name, Action: "ran", Duration: time.Duration(i+1) * time.Second}
		if i < 5 {
			o.Action, o.Duration = "skipped", 0
		}
		outcomes = append(outcomes, o)
	}
	// `up --only certs` on a host where only preflight and binaries ran.
	partial := summaryStates()
	for i := range partial[3:] {
		partial[3+i] = phases.State{Name: partial[3+i].Name, Status: phases.Pending}
	}
	// The dashboard failed alone (its image missing); the rest was verified.
	noUI, noUIOutcomes := summaryStates(), []phases.Outcome{}
	for i, st := range noUI {
		o := phases.Outcome{Phase: st.Name, Action: "skipped"}
		if st.Name == PhaseDashboard {
			noUI[i].Status, o.Action, o.Duration = phases.Failed, "failed", 3*time.Second
		}
		noUIOutcomes = append(noUIOutcomes, o)
	}
	cases := []struct {
		name     string
		edit     func(*config.Cluster)
		states   phases.States
		outcomes []phases.Outcome
	}{
		{name: "resumed", states: states, outcomes: outcomes},
		{name: "no-dashboard", edit: func(c *config.Cluster) { c.Dashboard.Kind = dashboard.None }, states: states, outcomes: outcomes},
		{name: "dashboard-failed", states: noUI, outcomes: noUIOutcomes},
		{name: "pending", states: partial, outcomes: []phases.Outcome{{Phase: "certs", Action: "ran", Duration: 2 * time.Second}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := sampleCluster(t)
			if tc.edit != nil {
				tc.edit(c)
			}
			var out bytes.Buffer
			s := NewSummary("/", c, tc.outcomes, tc.states, 42*time.Second, false, runtimeVersions)
			if err := s.Write(&out); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, "testdata/summary-"+tc.name+".txt", out.Bytes())
		})
	}
}

// TestFailedAlone: up prints the summary when only the dashboard failed,
// not when another phase did or the run was interrupted.
func TestFailedAlone(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		failed []phases.Name
		err    error
		want   bool
	}{
		{[]phases.Name{PhaseDashboard}, boom, true},
		{[]phases.Name{PhaseDashboard, PhaseVerify}, boom, false},
		{[]phases.Name{PhaseAddons}, boom, false},
		{[]phases.Name{PhaseDashboard}, context.Canceled, false},
		{nil, nil, false},
	} {
		var outcomes []phases.Outcome
		for _, n := range tc.failed {
			outcomes = append(outcomes, phases.Outcome{Phase: n, Action: "failed"})
		}
		if got := FailedAlone(tc.err, outcomes); got != tc.want {
			t.Errorf("FailedAlone(%v, %v) = %v, want %v", tc.err, tc.failed, got, tc.want)
		}
	}
}

func TestSummaryDryRunPathsUnderRoot(t *testing.T) {
	s := NewSummary("/tmp/stage", sampleCluster(t), nil, nil, time.Second, true, nil)
	var out bytes.Buffer
	if err := s.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Dry run: every file is rendered under /tmp/stage", "/tmp/stage/etc/kubernetes/admin.conf", "/tmp/stage/etc/kubernetes/pki/ca.crt"} {
		if !bytes.Contains(out.Bytes(), []byte(want)) {
			t.Errorf("dry-run summary lacks %q:\n%s", want, out.String())
		}
	}
	if bytes.Contains(out.Bytes(), []byte("containerd")) {
		t.Errorf("a dry run reports no runtime versions:\n%s", out.String())
	}
}

func TestVersionField(t *testing.T) {
	for line, want := range map[string]string{
		"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1": "1.6.20~ds1",
		"containerd github.com/containerd/containerd/v2 v2.4.2":                  "v2.4.2",
		"runc version 1.1.5+ds1":    "1.1.5+ds1",
		"exec: \"runc\": not found": "exec: \"runc\": not found",
	} {
		if got := versionField(line); got != want {
			t.Errorf("versionField(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestWithResumeHint(t *testing.T) {
	boom := errors.New("phase etcd: etcd did not become healthy")
	failed := []phases.Outcome{{Phase: "certs", Action: "skipped"}, {Phase: "etcd", Action: "failed"}}
	err := WithResumeHint(boom, failed)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "resumes at phase etcd") {
		t.Errorf("failed phase: %v; want the cause and where a re-run resumes", err)
	}
	lock := errors.New("another k8s-single is running")
	if got := WithResumeHint(lock, nil); got != lock {
		t.Errorf("an error before any phase: %v, want it unchanged", got)
	}
	if WithResumeHint(nil, failed) != nil {
		t.Error("no error must stay nil")
	}
}

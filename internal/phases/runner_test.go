package phases

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

// fakeInstall is a three-phase install whose phases write files from the
// config, so the runner's skip/re-run logic can be tested without the real
// components (that is the integration tests' job).
type fakeInstall struct {
	root    host.Root
	mu      sync.Mutex // phases running at once append to calls
	calls   []string
	failOn  Name
	content map[Name]string // phase -> what it writes
}

func newFakeInstall(t *testing.T) *fakeInstall {
	return &fakeInstall{root: host.Root(t.TempDir()), content: map[Name]string{"a": "A", "b": "B", "c": "C"}}
}

func (f *fakeInstall) call(what string, name Name) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, what+" "+string(name))
}

func (f *fakeInstall) phase(name Name, deps ...Name) Phase {
	return Phase{
		Name:      name,
		Short:     "fake " + string(name),
		DependsOn: deps,
		Inputs:    func(*Context) (any, error) { return f.content[name], nil },
		Render: func(c *Context) error {
			f.call("render", name)
			return c.WriteFile("/etc/fake/"+string(name), []byte(f.content[name]), 0o600)
		},
		Start: func(*Context) error {
			f.call("start", name)
			if f.failOn == name {
				return errors.New("boom")
			}
			return nil
		},
		Plan: func(*Context) []string { return []string{"start " + string(name) + ".service"} },
	}
}

func (f *fakeInstall) runner() *Runner {
	return &Runner{Root: f.root, Out: io.Discard, Version: "test", Parallel: 3,
		Phases: []Phase{f.phase("a"), f.phase("b", "a"), f.phase("c", "b")}}
}

func (f *fakeInstall) up(t *testing.T, opts Options) []string {
	t.Helper()
	f.calls = nil
	outs, err := f.runner().Up(context.Background(), &config.Cluster{}, opts)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	return actions(outs)
}

// actions lists each outcome as phase=action.
func actions(outs []Outcome) []string {
	var out []string
	for _, o := range outs {
		out = append(out, string(o.Phase)+"="+o.Action)
	}
	return out
}

func want(t *testing.T, got []string, wantStr string) {
	t.Helper()
	if g := strings.Join(got, " "); g != wantStr {
		t.Errorf("got  %s\nwant %s", g, wantStr)
	}
}

func TestUpRunsThenSkips(t *testing.T) {
	f := newFakeInstall(t)
	want(t, f.up(t, Options{}), "a=ran b=ran c=ran")
	want(t, f.calls, "render a start a render b start b render c start c")
	want(t, f.up(t, Options{}), "a=skipped b=skipped c=skipped")
	want(t, f.calls, "")
}

func TestChangedInputRerunsDependents(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	f.content["b"] = "B2"
	want(t, f.up(t, Options{}), "a=skipped b=ran c=ran")
}

func TestUnchangedOutputStopsTheRipple(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	// a's file is tampered with: a re-runs and renders the same output as
	// before, so b and c, which depend only on that output, stay skipped.
	if err := os.WriteFile(f.root.Path("/etc/fake/a"), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	want(t, f.up(t, Options{}), "a=ran b=skipped c=skipped")
}

func TestDeletedArtifactRerunsPhase(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	os.Remove(f.root.Path("/etc/fake/c"))
	want(t, f.up(t, Options{}), "a=skipped b=skipped c=ran")
	if _, err := os.Stat(f.root.Path("/etc/fake/c")); err != nil {
		t.Errorf("c not restored: %v", err)
	}
}

func TestChangedModeRerunsPhase(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	os.Chmod(f.root.Path("/etc/fake/b"), 0o644)
	want(t, f.up(t, Options{}), "a=skipped b=ran c=skipped")
}

func TestForceFromOnly(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	want(t, f.up(t, Options{Force: true}), "a=ran b=ran c=ran")
	want(t, f.up(t, Options{From: "b"}), "b=ran c=ran")
	want(t, f.up(t, Options{Only: "b"}), "b=ran")
}

func TestOnlyNeedsDependencies(t *testing.T) {
	f := newFakeInstall(t)
	_, err := f.runner().Up(context.Background(), &config.Cluster{}, Options{Only: "b"})
	if err == nil || !strings.Contains(err.Error(), "phase b needs phase a") || !strings.Contains(err.Error(), "k8s-single phase run a") {
		t.Fatalf("want a dependency error naming the fix, got %v", err)
	}
}

func TestUnknownPhase(t *testing.T) {
	f := newFakeInstall(t)
	_, err := f.runner().Up(context.Background(), &config.Cluster{}, Options{Only: "nope"})
	var upe *UnknownPhaseError
	if !errors.As(err, &upe) || !strings.Contains(err.Error(), "a, b, c") {
		t.Fatalf("want UnknownPhaseError listing phases, got %v", err)
	}
}

func TestDryRunRendersOnly(t *testing.T) {
	f := newFakeInstall(t)
	want(t, f.up(t, Options{DryRun: true}), "a=rendered b=rendered c=rendered")
	want(t, f.calls, "render a render b render c")
	want(t, f.up(t, Options{DryRun: true}), "a=skipped b=skipped c=skipped")
	// A real run after a dry run still starts everything.
	want(t, f.up(t, Options{}), "a=ran b=ran c=ran")
	want(t, f.up(t, Options{DryRun: true}), "a=skipped b=skipped c=skipped")
}

func TestFailureIsRecordedAndResumed(t *testing.T) {
	f := newFakeInstall(t)
	f.failOn = "b"
	_, err := f.runner().Up(context.Background(), &config.Cluster{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "phase b: boom") {
		t.Fatalf("want phase b to fail, got %v", err)
	}
	states, err := f.runner().States()
	if err != nil {
		t.Fatal(err)
	}
	if states[0].Status != Done || states[1].Status != Failed || states[1].Error != "boom" || states[2].Status != Pending {
		t.Errorf("states after failure: %+v", states)
	}
	f.failOn = ""
	want(t, f.up(t, Options{}), "a=skipped b=ran c=ran")
}

func TestStatesReportDrift(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	os.WriteFile(f.root.Path("/etc/fake/a"), []byte("edited"), 0o600)
	states, err := f.runner().States()
	if err != nil {
		t.Fatal(err)
	}
	if states[0].Drift != "/etc/fake/a was changed" {
		t.Errorf("drift = %q", states[0].Drift)
	}
	h, rows := states.Table()
	if len(h) != 5 || len(rows) != 3 || rows[0][0] != "a" {
		t.Errorf("table = %v %v", h, rows)
	}
}

func TestSecondRunnerIsLockedOut(t *testing.T) {
	f := newFakeInstall(t)
	r := f.runner()
	unlock, err := r.lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = f.runner().Up(context.Background(), &config.Cluster{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "another k8s-single is running") {
		t.Fatalf("want lock error, got %v", err)
	}
}

func TestCorruptJournalNamesTheFix(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	os.WriteFile(f.root.Path("/var/lib/k8s-single/state.json"), []byte("{"), 0o600)
	_, err := f.runner().Up(context.Background(), &config.Cluster{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Fatalf("want corrupt-journal error, got %v", err)
	}
}

// TestResetUndoesInReverseAndKeepsPrecious: a Precious phase keeps its files
// and a phase's Keep files stay, unless --purge.
func TestResetUndoesInReverseAndKeepsPrecious(t *testing.T) {
	f := newFakeInstall(t)
	r := f.runner()
	var undone []string
	for i := range r.Phases {
		name := r.Phases[i].Name
		r.Phases[i].Undo = func(*Context) error { undone = append(undone, string(name)); return nil }
	}
	r.Phases[0].Precious = true
	r.Phases[2].Keep = []string{"/etc/fake/c"}
	if _, err := r.Up(context.Background(), &config.Cluster{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Reset(context.Background(), &config.Cluster{}, ResetOptions{}); err != nil {
		t.Fatal(err)
	}
	want(t, undone, "c b a")
	for name, keep := range map[string]bool{"a": true, "b": false, "c": true} {
		_, err := os.Stat(f.root.Path("/etc/fake/" + name))
		if (err == nil) != keep {
			t.Errorf("/etc/fake/%s exists=%v after reset, want %v", name, err == nil, keep)
		}
	}
	states, _ := r.States()
	for _, s := range states {
		if s.Status != Pending {
			t.Errorf("%s is %s after reset, want pending", s.Name, s.Status)
		}
	}
	// Purge removes the precious files too and the journal.
	r.Up(context.Background(), &config.Cluster{}, Options{})
	if err := r.Reset(context.Background(), &config.Cluster{}, ResetOptions{Purge: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/fake/a", "/etc/fake/c", "/var/lib/k8s-single/state.json"} {
		if _, err := os.Stat(f.root.Path(p)); err == nil {
			t.Errorf("%s survived reset --purge", p)
		}
	}
}

func TestResetAfterDryRunStartsNoUndo(t *testing.T) {
	f := newFakeInstall(t)
	r := f.runner()
	undone := 0
	r.Phases[1].Undo = func(*Context) error { undone++; return nil }
	if _, err := r.Up(context.Background(), &config.Cluster{}, Options{DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.Reset(context.Background(), &config.Cluster{}, ResetOptions{}); err != nil {
		t.Fatal(err)
	}
	if undone != 0 {
		t.Errorf("Undo ran for a phase that was only rendered")
	}
}

// TestFailedStartKeepsItsFilesInTheJournal: files a phase wrote before it
// failed are recorded, so reset removes them.
func TestFailedStartKeepsItsFilesInTheJournal(t *testing.T) {
	f := newFakeInstall(t)
	f.failOn = "a"
	r := f.runner()
	if _, err := r.Up(context.Background(), &config.Cluster{}, Options{}); err == nil {
		t.Fatal("phase a did not fail")
	}
	j, err := LoadJournal(f.root)
	if err != nil {
		t.Fatal(err)
	}
	if arts := j.Phases["a"].Artifacts; len(arts) != 1 || arts[0].Path != "/etc/fake/a" {
		t.Fatalf("failed phase recorded %+v, want /etc/fake/a", arts)
	}
	if err := r.Reset(context.Background(), &config.Cluster{}, ResetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.root.Path("/etc/fake/a")); err == nil {
		t.Errorf("reset left the failed phase's file behind")
	}
}

func TestMergeArtifacts(t *testing.T) {
	got := mergeArtifacts([]Artifact{{Path: "/b", SHA256: "old"}, {Path: "/a"}}, []Artifact{{Path: "/b", SHA256: "new"}, {Path: "/c"}})
	if len(got) != 3 || got[0].Path != "/a" || got[1].SHA256 != "new" || got[2].Path != "/c" {
		t.Errorf("merge = %+v", got)
	}
}

// TestRecordingReusesKnownDigests: re-running a phase whose large file kept
// its size, time and mode does not read the file again (the recorded digest is
// reused, as intact trusts them); a file that changed is hashed anew.
func TestRecordingReusesKnownDigests(t *testing.T) {
	f := newFakeInstall(t)
	// Only large files are trusted by size and time; small ones are always hashed.
	f.content["a"] = strings.Repeat("A", smallFile+1)
	f.content["b"] = strings.Repeat("B", smallFile+1)
	f.up(t, Options{})
	j, err := LoadJournal(f.root)
	if err != nil {
		t.Fatal(err)
	}
	// A digest no hash of the file could give: kept only if not recomputed.
	const marker = "recorded-earlier"
	for _, name := range []Name{"a", "b"} {
		j.Phases[name].Artifacts[0].SHA256 = marker
	}
	if err := j.Save(f.root); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(f.root.Path("/etc/fake/b"), later, later); err != nil {
		t.Fatal(err)
	}
	f.up(t, Options{Force: true})
	j, err = LoadJournal(f.root)
	if err != nil {
		t.Fatal(err)
	}
	if got := j.Phases["a"].Artifacts[0].SHA256; got != marker {
		t.Errorf("a's unchanged file was hashed again: digest %q, want the recorded %q", got, marker)
	}
	if got := j.Phases["b"].Artifacts[0].SHA256; got == marker || len(got) != 64 {
		t.Errorf("b's file got a new time but its digest is %q, want a fresh sha256", got)
	}
}

// TestHeadline: a phase's FAILED line carries its error's first line only;
// the log lines an error may carry are printed once, with the whole error.
func TestHeadline(t *testing.T) {
	if got := headline(errors.New("etcd did not start")); got != "etcd did not start" {
		t.Errorf("one line: %q", got)
	}
	got := headline(errors.New("kube-apiserver failed\nlast log lines:\nDec 02 boom"))
	if got != "kube-apiserver failed (the whole error follows at the end)" {
		t.Errorf("several lines: %q", got)
	}
}

package phases

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config"
)

// TestEditKeepingSizeAndTimeIsDrift: a small file edited in place with its
// size and time put back (touch -r) is noticed, reported by phase list and
// rewritten by up.
func TestEditKeepingSizeAndTimeIsDrift(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	p := f.root.Path("/etc/fake/b")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("X"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	states, err := f.runner().States()
	if err != nil {
		t.Fatal(err)
	}
	if got := states[1].Drift; got != "/etc/fake/b was changed" {
		t.Errorf("phase list drift of b = %q, want it to say the file was changed", got)
	}
	want(t, f.up(t, Options{}), "a=skipped b=ran c=skipped")
	if data, _ := os.ReadFile(p); string(data) != "B" {
		t.Errorf("b holds %q after up, want its content B back", data)
	}
}

// TestModeDriftIsRepairedNotRecorded: a file chmod-ed wider is put back to
// its recorded mode by the phase (even when the phase's own writer would keep
// the file, as the PKI keeps a CA), and the journal keeps the recorded mode.
func TestModeDriftIsRepairedNotRecorded(t *testing.T) {
	f := newFakeInstall(t)
	r := f.runner()
	// A phase that keeps its file when it exists, whatever its mode.
	r.Phases[0].Render = func(c *Context) error {
		p := c.Root.Path("/etc/fake/a")
		if _, err := os.Stat(p); err != nil {
			if err := c.WriteFile("/etc/fake/a", []byte("A"), 0o600); err != nil {
				return err
			}
		}
		c.Track("/etc/fake/a")
		return nil
	}
	ctx := context.Background()
	if _, err := r.Up(ctx, &config.Cluster{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f.root.Path("/etc/fake/a"), 0o644); err != nil {
		t.Fatal(err)
	}
	states, _ := r.States()
	if got := states[0].Drift; got != "/etc/fake/a has mode 0644, want 0600" {
		t.Errorf("drift = %q, want the mode named", got)
	}
	outs, err := r.Up(ctx, &config.Cluster{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if outs[0].Action != "ran" {
		t.Errorf("phase a %s after a chmod, want ran", outs[0].Action)
	}
	st, _ := os.Stat(f.root.Path("/etc/fake/a"))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode after up = %04o, want 0600 (repaired)", st.Mode().Perm())
	}
	j, _ := LoadJournal(f.root)
	if got := j.Phases["a"].Artifacts[0].Mode; got != "0600" {
		t.Errorf("journal records mode %s, want 0600", got)
	}
	if outs, _ := r.Up(ctx, &config.Cluster{}, Options{}); outs[0].Action != "skipped" {
		t.Errorf("a third up ran a again: %v", outs[0])
	}
}

// TestDirectoryArtifactsRecordModeAndOwner: a tracked directory is recorded
// with its mode and owner, a chmod of it is drift, and up repairs it.
func TestDirectoryArtifactsRecordModeAndOwner(t *testing.T) {
	f := newFakeInstall(t)
	r := f.runner()
	render := r.Phases[0].Render
	r.Phases[0].Render = func(c *Context) error {
		if err := c.Root.MkdirAll("/etc/fake/private", 0o700); err != nil {
			return err
		}
		c.Track("/etc/fake/private")
		return render(c)
	}
	ctx := context.Background()
	if _, err := r.Up(ctx, &config.Cluster{}, Options{}); err != nil {
		t.Fatal(err)
	}
	j, _ := LoadJournal(f.root)
	var dir *Artifact
	for i, a := range j.Phases["a"].Artifacts {
		if a.Path == "/etc/fake/private" {
			dir = &j.Phases["a"].Artifacts[i]
		}
	}
	if dir == nil || !dir.Dir || dir.Mode != "0700" || dir.UID != os.Getuid() || dir.GID != os.Getgid() {
		t.Fatalf("directory record = %+v, want a dir, 0700, owned by %d:%d", dir, os.Getuid(), os.Getgid())
	}
	if err := os.Chmod(f.root.Path("/etc/fake/private"), 0o755); err != nil {
		t.Fatal(err)
	}
	if states, _ := r.States(); !strings.Contains(states[0].Drift, "/etc/fake/private has mode 0755") {
		t.Errorf("drift = %q, want the directory's mode named", states[0].Drift)
	}
	if _, err := r.Up(ctx, &config.Cluster{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(f.root.Path("/etc/fake/private")); st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode after up = %04o, want 0700", st.Mode().Perm())
	}
}

// TestIrreplaceableFileIsNeverMadeAnew: once recorded, an irreplaceable
// file that is deleted, emptied or replaced stops the phase (even forced)
// with the way out, and nothing is written; before it was ever recorded it
// is simply made.
func TestIrreplaceableFileIsNeverMadeAnew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(p string) error
		what    string
	}{
		{"deleted", os.Remove, "is missing"},
		{"emptied", func(p string) error { return os.WriteFile(p, nil, 0o600) }, "is empty"},
		{"replaced", func(p string) error { return os.WriteFile(p, []byte("another key"), 0o600) }, "was changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeInstall(t)
			r := f.runner()
			r.Phases[0].Irreplaceable = []Irreplaceable{{Path: "/etc/fake/a", Why: "it is the fake CA"}}
			ctx := context.Background()
			if _, err := r.Up(ctx, &config.Cluster{}, Options{}); err != nil {
				t.Fatalf("first up (nothing recorded yet): %v", err)
			}
			p := f.root.Path("/etc/fake/a")
			if err := tc.breakIt(p); err != nil {
				t.Fatal(err)
			}
			f.calls = nil
			_, err := r.Up(ctx, &config.Cluster{}, Options{Force: true})
			var irr *IrreplaceableError
			if !errors.As(err, &irr) || irr.What != tc.what {
				t.Fatalf("up after the file %s: %v, want an IrreplaceableError that says it %s", tc.name, err, tc.what)
			}
			for _, s := range []string{"/etc/fake/a", "it is the fake CA", "Restore the file from a backup", "reset --purge"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if len(f.calls) != 0 {
				t.Errorf("the refused phase still ran: %v", f.calls)
			}
		})
	}
}

// TestRecordedTellsKilledWritesFromRecordedFiles: Context.Recorded is true
// only for files an earlier run of the phase recorded.
func TestRecordedTellsKilledWritesFromRecordedFiles(t *testing.T) {
	f := newFakeInstall(t)
	r := f.runner()
	var seen []bool
	render := r.Phases[0].Render
	r.Phases[0].Render = func(c *Context) error {
		seen = append(seen, c.Recorded("/etc/fake/a"), c.Recorded("/etc/fake/never"))
		return render(c)
	}
	for range 2 {
		if _, err := r.Up(context.Background(), &config.Cluster{}, Options{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	if want := []bool{false, false, true, false}; !slices.Equal(seen, want) {
		t.Errorf("Recorded answered %v, want %v", seen, want)
	}
}

// TestResetRefusesPathsThatEscape: a journal entry that climbs out of the
// root with "..", or names a file k8s-single does not own, is not deleted
// and reset says which entry and why; the phase's own files still go.
func TestResetRefusesPathsThatEscape(t *testing.T) {
	f := newFakeInstall(t)
	f.up(t, Options{})
	victim := filepath.Join(filepath.Dir(string(f.root)), "victim")
	if err := os.WriteFile(victim, []byte("not k8s-single's"), 0o600); err != nil {
		t.Fatal(err)
	}
	owned := f.root.Path("/etc/other/file")
	if err := os.MkdirAll(filepath.Dir(owned), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(owned, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	j, _ := LoadJournal(f.root)
	j.Phases["a"].Artifacts = append(j.Phases["a"].Artifacts,
		Artifact{Path: "/etc/fake/../../../victim"}, Artifact{Path: "/etc/other/file"})
	if err := j.Save(f.root); err != nil {
		t.Fatal(err)
	}
	r := f.runner()
	r.Owns = func(_ *config.Cluster, p string) bool { return strings.HasPrefix(p, "/etc/fake/") }
	err := r.Reset(context.Background(), &config.Cluster{}, ResetOptions{})
	if err == nil || !strings.Contains(err.Error(), `"/etc/fake/../../../victim"`) || !strings.Contains(err.Error(), `"/etc/other/file"`) {
		t.Fatalf("reset = %v, want both bad entries named", err)
	}
	for _, p := range []string{victim, owned} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("reset deleted %s: %v", p, err)
		}
	}
	if _, err := os.Stat(f.root.Path("/etc/fake/a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the phase's own file /etc/fake/a is still there: %v", err)
	}
}

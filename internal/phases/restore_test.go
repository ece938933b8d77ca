package phases

import (
	"context"
	"os"
	"testing"

	"github.com/k8s-single/k8s-single/internal/host"
)

// TestRestorePutsBackWhatWriteFileReplaced: a failed upgrade's component
// goes back to the unit it ran with; a file this run created, or left
// unchanged, is not touched.
func TestRestorePutsBackWhatWriteFileReplaced(t *testing.T) {
	root := host.Root(t.TempDir())
	c := &Context{Context: context.Background(), Root: root}
	if err := root.WriteFile("/etc/unit", []byte("old\n"), 0o600, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		path, data string
	}{{"/etc/unit", "new\n"}, {"/etc/unit", "newer\n"}, {"/etc/created", "made here\n"}} {
		if err := c.WriteFile(w.path, []byte(w.data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	restored, err := c.Restore("/etc/unit", "/etc/created", "/etc/never-written")
	if err != nil {
		t.Fatal(err)
	}
	if len(restored) != 1 || restored[0] != "/etc/unit" {
		t.Errorf("Restore restored %v, want only /etc/unit", restored)
	}
	if got, _ := root.ReadFile("/etc/unit"); string(got) != "old\n" {
		t.Errorf("/etc/unit holds %q after Restore, want the content before the run's first write", got)
	}
	if st, _ := os.Stat(root.Path("/etc/unit")); st.Mode().Perm() != 0o600 {
		t.Errorf("/etc/unit has mode %v after Restore, want its old 0600", st.Mode().Perm())
	}
	if got, _ := root.ReadFile("/etc/created"); string(got) != "made here\n" {
		t.Errorf("/etc/created holds %q; a file the run created has nothing to go back to", got)
	}
}

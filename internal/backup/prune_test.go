package backup_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/backup"
)

func TestPrune(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 16, 0, 0, 0, time.UTC)
	// Five archives, written newest first so directory order is no help.
	var names []string
	for i := 4; i >= 0; i-- {
		names = append(names, backup.ArchiveName(t0.Add(time.Duration(i)*time.Hour+time.Duration(i)*time.Millisecond)))
	}
	slices.Reverse(names) // oldest first
	others := []string{"notes.txt", "k8s-single-backup-latest.tar.gz", ".snapshot-123"}
	tests := []struct {
		keep        int
		wantRemoved []string
		wantErr     bool
	}{
		{keep: 2, wantRemoved: names[:3]},
		{keep: 1, wantRemoved: names[:4]},
		{keep: 5},
		{keep: 9},
		{keep: 0, wantErr: true},
		{keep: -1, wantErr: true},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		for _, n := range append(slices.Clone(names), others...) {
			if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		removed, err := backup.Prune(dir, tt.keep)
		if (err != nil) != tt.wantErr {
			t.Errorf("Prune(keep %d) error = %v, want error %v", tt.keep, err, tt.wantErr)
			continue
		}
		var want []string
		for _, n := range tt.wantRemoved {
			want = append(want, filepath.Join(dir, n))
		}
		if !slices.Equal(removed, want) {
			t.Errorf("Prune(keep %d) removed %v, want %v", tt.keep, removed, want)
		}
		left, _ := os.ReadDir(dir)
		if wantLeft := len(names) + len(others) - len(want); len(left) != wantLeft {
			t.Errorf("Prune(keep %d) left %d files, want %d", tt.keep, len(left), wantLeft)
		}
		for _, n := range others {
			if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
				t.Errorf("Prune(keep %d) removed %s, which is not an archive: %v", tt.keep, n, err)
			}
		}
	}
}

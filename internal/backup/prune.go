package backup

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/k8s-single/k8s-single/internal/host"
)

// Prune removes the oldest archives in dir beyond the newest keep and
// returns the paths it removed, oldest first. Only files named as Create
// names archives are considered; anything else in dir is left alone. keep
// must be at least 1.
func Prune(dir string, keep int) ([]string, error) {
	if keep < 1 {
		return nil, fmt.Errorf("prune backups: keep %d: want at least 1 (the newest archive is always kept)", keep)
	}
	archives, err := List(dir)
	if err != nil {
		return nil, err
	}
	if len(archives) <= keep {
		return nil, nil
	}
	old := archives[:len(archives)-keep]
	var removed []string
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return removed, fmt.Errorf("prune backups: %w", err)
		}
		removed = append(removed, p)
	}
	if err := host.SyncDir(dir); err != nil {
		return removed, fmt.Errorf("prune backups: %w", err)
	}
	return removed, nil
}

// List returns the paths of the archives in dir, oldest first (their names
// carry their creation time).
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && archiveNameRE.MatchString(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

package phases

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// ResetOptions choose how much reset undoes.
type ResetOptions struct {
	// Purge also removes precious files (the PKI) and the phases' data.
	Purge bool
}

// Reset undoes the install in reverse phase order, exactly as the journal
// recorded it: each phase's Undo (when its Start may have run), then its
// files. Precious files (the PKI) stay unless Purge. Phases are marked pending
// as they are undone, so a reset that fails half-way can be run again.
func (r *Runner) Reset(ctx context.Context, cfg *config.Cluster, opts ResetOptions) error {
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	j, err := LoadJournal(r.Root)
	if err != nil {
		return err
	}
	var errs []error
	for i := len(r.Phases) - 1; i >= 0; i-- {
		p := r.Phases[i]
		rec, ok := j.Phases[p.Name]
		if !ok || rec.Status == Pending {
			continue
		}
		if err := r.resetPhase(ctx, cfg, p, rec, opts); err != nil {
			errs = append(errs, fmt.Errorf("reset %s: %w", p.Name, err))
			continue
		}
		delete(j.Phases, p.Name)
		if err := j.Save(r.Root); err != nil {
			return err
		}
	}
	if len(errs) == 0 && opts.Purge {
		return removeJournal(r)
	}
	return errors.Join(errs...)
}

func (r *Runner) resetPhase(ctx context.Context, cfg *config.Cluster, p Phase, rec *Record, opts ResetOptions) error {
	c := &Context{Context: ctx, Root: r.Root, Config: cfg, Verbose: r.Verbose, Purge: opts.Purge, out: r.Out}
	started := rec.Status == Done || rec.Status == Failed || rec.Status == Running
	if p.Undo != nil && started {
		fmt.Fprintf(r.Out, "reset %s: undoing\n", p.Name)
		if err := p.Undo(c); err != nil {
			return err
		}
	}
	if p.Precious && !opts.Purge {
		fmt.Fprintf(r.Out, "reset %s: keeping its %d files (use --purge to delete them)\n", p.Name, len(rec.Artifacts))
		return nil
	}
	removed := 0
	var refused []error
	// Files first, then directories deepest first: a directory goes only
	// once empty, and one that still holds data (etcd's) stays.
	arts := slices.Clone(rec.Artifacts)
	slices.SortStableFunc(arts, func(a, b Artifact) int {
		switch {
		case a.Dir == b.Dir:
			return strings.Compare(b.Path, a.Path)
		case b.Dir:
			return -1
		}
		return 1
	})
	for _, a := range arts {
		if slices.Contains(p.Keep, a.Path) && !opts.Purge {
			fmt.Fprintf(r.Out, "reset %s: keeping %s (use --purge to delete it)\n", p.Name, a.Path)
			continue
		}
		if err := r.mayDelete(cfg, a.Path); err != nil {
			refused = append(refused, err)
			continue
		}
		err := os.Remove(r.Root.Path(a.Path))
		switch {
		case err == nil:
			removed++
			r.removeEmptyParents(a.Path)
		case a.Dir && (errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)):
			fmt.Fprintf(r.Out, "reset %s: keeping %s (not empty)\n", p.Name, a.Path)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	fmt.Fprintf(r.Out, "reset %s: removed %d files\n", p.Name, removed)
	return errors.Join(refused...)
}

// mayDelete refuses a journal path reset must not delete: one that is not a
// clean absolute path (a ".." could climb out of --root) or, when the runner
// knows what k8s-single owns, one outside it. Such an entry means the journal
// was edited or damaged; nothing is deleted for it.
func (r *Runner) mayDelete(cfg *config.Cluster, hostPath string) error {
	clean := path.IsAbs(hostPath) && path.Clean(hostPath) == hostPath && hostPath != "/"
	if clean && (r.Owns == nil || r.Owns(cfg, hostPath)) {
		return nil
	}
	return fmt.Errorf("the journal lists %q, which is not a file k8s-single owns (a clean absolute path in its own directories): "+
		"not deleted; the journal %s was edited or damaged, check that entry", hostPath, r.Root.Path(layout.Journal))
}

// ownDirs are the directories k8s-single creates; reset removes those a
// removed file leaves empty, and never a directory outside them (/etc/cni,
// /etc/systemd belong to the system).
var ownDirs = []string{layout.KubernetesDir, "/opt/kubernetes", layout.KubeletDir, layout.KubeProxyDir, "/etc/k8s-single"}

// removeEmptyParents deletes the directories under ownDirs that a removed
// host file leaves empty; a directory with anything else in it stays.
func (r *Runner) removeEmptyParents(hostPath string) {
	for dir := filepath.Dir(hostPath); dir != "/"; dir = filepath.Dir(dir) {
		if !slices.ContainsFunc(ownDirs, func(own string) bool { return dir == own || strings.HasPrefix(dir, own+"/") }) {
			return
		}
		if os.Remove(r.Root.Path(dir)) != nil {
			return
		}
	}
}

func removeJournal(r *Runner) error {
	for _, p := range []string{layout.Journal, layout.StateDir + "/lock"} {
		if err := os.Remove(r.Root.Path(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

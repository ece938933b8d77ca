package phases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Runner walks the phases in order against one root.
type Runner struct {
	Phases  []Phase
	Root    host.Root
	Out     io.Writer
	Verbose bool
	// Version is k8s-single's own version: a new k8s-single re-renders.
	Version string
	// Owns reports whether reset may delete a host path of the journal; nil
	// allows any clean absolute path.
	Owns func(cfg *config.Cluster, hostPath string) bool
}

// Options choose which phases run and how.
type Options struct {
	// DryRun renders every file but starts nothing.
	DryRun bool
	// Force re-runs phases whose inputs are unchanged.
	Force bool
	// From re-runs this phase and every later one; earlier ones are untouched.
	From string
	// Only runs this one phase (forced); its dependencies must have run.
	Only string
}

// Outcome is what happened to one phase in a run.
type Outcome struct {
	Phase    string        `json:"phase"`
	Action   string        `json:"action"` // ran, rendered, skipped, failed
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration"`
}

// UnknownPhaseError names a phase that does not exist and the ones that do.
type UnknownPhaseError struct {
	Name  string
	Known []string
}

func (e *UnknownPhaseError) Error() string {
	return fmt.Sprintf("unknown phase %q; the phases are: %s", e.Name, strings.Join(e.Known, ", "))
}

// Names lists the phases in order.
func (r *Runner) Names() []string {
	names := make([]string, len(r.Phases))
	for i, p := range r.Phases {
		names[i] = p.Name
	}
	return names
}

func (r *Runner) index(name string) (int, error) {
	for i, p := range r.Phases {
		if p.Name == name {
			return i, nil
		}
	}
	return -1, &UnknownPhaseError{Name: name, Known: r.Names()}
}

// Up runs the phases as opts says and returns what happened to each.
func (r *Runner) Up(ctx context.Context, cfg *config.Cluster, opts Options) ([]Outcome, error) {
	first, last, forced, err := r.selection(opts)
	if err != nil {
		return nil, err
	}
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	j, err := LoadJournal(r.Root)
	if err != nil {
		return nil, err
	}
	var outcomes []Outcome
	for i := first; i <= last; i++ {
		p := r.Phases[i]
		o, err := r.runPhase(ctx, cfg, j, p, fmt.Sprintf("[%d/%d]", i+1, len(r.Phases)), opts.DryRun, forced(i))
		outcomes = append(outcomes, o)
		if err != nil {
			return outcomes, err
		}
	}
	return outcomes, nil
}

// selection turns Options into a range of phases and which of them are forced.
func (r *Runner) selection(opts Options) (first, last int, forced func(int) bool, err error) {
	first, last = 0, len(r.Phases)-1
	switch {
	case opts.Only != "" && opts.From != "":
		return 0, 0, nil, errors.New("--only and --from cannot be used together")
	case opts.Only != "":
		if first, err = r.index(opts.Only); err != nil {
			return 0, 0, nil, err
		}
		return first, first, func(int) bool { return true }, nil
	case opts.From != "":
		if first, err = r.index(opts.From); err != nil {
			return 0, 0, nil, err
		}
		return first, last, func(int) bool { return true }, nil
	}
	return first, last, func(int) bool { return opts.Force }, nil
}

// lock takes the root's lock for a run of the runner.
func (r *Runner) lock() (func(), error) { return Lock(r.Root) }

// Lock takes the exclusive lock that every command changing the host holds
// (up, phase run, reset, certs renew), so two never interleave on one root.
// It fails at once, saying so, when another holds it; call the returned func
// to release it.
func Lock(root host.Root) (func(), error) {
	if err := root.MkdirAll(layout.StateDir, layout.ModePrivateDir); err != nil {
		return nil, fmt.Errorf("create state dir: %w", err)
	}
	path := root.Path(layout.StateDir + "/lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, layout.ModePrivate)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another k8s-single is running on this root (lock %s held); wait for it to finish", path)
	}
	return func() { f.Close() }, nil
}

// inputHash hashes what the phase reads: its config slice, k8s-single's
// version, and the outputs of the phases it depends on.
func (r *Runner) inputHash(c *Context, j *Journal, p Phase) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", p.Name, r.Version)
	if p.Inputs != nil {
		data, err := json.Marshal(p.Inputs(c))
		if err != nil {
			return "", fmt.Errorf("phase %s: hash inputs: %w", p.Name, err)
		}
		h.Write(data)
	}
	for _, dep := range p.DependsOn {
		rec, ok := j.Phases[dep]
		if !ok || (rec.Status != Done && rec.Status != Rendered) {
			return "", fmt.Errorf("phase %s needs phase %s, which has not run: run `k8s-single phase run %s` (or `k8s-single up`) first", p.Name, dep, dep)
		}
		for _, a := range rec.Artifacts {
			fmt.Fprintf(h, "%s %s %s\n", a.Path, a.SHA256, a.Mode)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// skipReason says why a phase need not run, or "" when it must.
func skipReason(root host.Root, rec *Record, hash string, dryRun bool) string {
	if rec.Status != Done && !(dryRun && rec.Status == Rendered) {
		return ""
	}
	if rec.InputHash != hash {
		return ""
	}
	for _, a := range rec.Artifacts {
		if ok, _ := a.intact(root); !ok {
			return ""
		}
	}
	return "inputs unchanged, artifacts intact"
}

func (r *Runner) runPhase(ctx context.Context, cfg *config.Cluster, j *Journal, p Phase, step string, dryRun, force bool) (Outcome, error) {
	c := &Context{Context: ctx, Root: r.Root, Config: cfg, DryRun: dryRun, Verbose: r.Verbose, out: r.Out}
	hash, err := r.inputHash(c, j, p)
	if err != nil {
		return Outcome{Phase: p.Name, Action: "failed", Reason: err.Error()}, err
	}
	rec := j.Record(p.Name)
	if reason := skipReason(r.Root, rec, hash, dryRun); reason != "" && !force {
		fmt.Fprintf(r.Out, "%s %s: skipped (%s)\n", step, p.Name, reason)
		return Outcome{Phase: p.Name, Action: "skipped", Reason: reason}, nil
	}
	if err := guardIrreplaceable(r.Root, p, rec); err != nil {
		fmt.Fprintf(r.Out, "%s %s: REFUSED: %v\n", step, p.Name, err)
		return Outcome{Phase: p.Name, Action: "failed", Reason: err.Error()}, fmt.Errorf("phase %s: %w", p.Name, err)
	}
	fmt.Fprintf(r.Out, "%s %s: %s\n", step, p.Name, p.Short)
	start := time.Now()
	c.recorded = rec.Artifacts
	if err := repairArtifacts(c, rec.Artifacts); err != nil {
		return Outcome{Phase: p.Name, Action: "failed", Reason: err.Error()}, fmt.Errorf("phase %s: %w", p.Name, err)
	}
	// Keep what an earlier run recorded until this one knows better: a run
	// killed half-way must not make reset forget files already on disk.
	*rec = Record{Status: Running, Started: start.UTC(), Artifacts: rec.Artifacts}
	if err := j.Save(r.Root); err != nil {
		return Outcome{Phase: p.Name, Action: "failed"}, err
	}
	// Once the files are written and before anything starts, record them.
	afterRender := func() error {
		rec.Artifacts = mergeArtifacts(rec.Artifacts, existingArtifacts(r.Root, c.tracked, rec.Artifacts))
		return j.Save(r.Root)
	}
	err = runSteps(c, p, afterRender)
	if err == nil {
		rec.Artifacts, err = snapshotArtifacts(r.Root, c.tracked, rec.Artifacts)
	}
	// The phase's time includes recording its files (hashing 600 MB of
	// binaries is part of what the binaries phase costs).
	rec.Finished = time.Now().UTC()
	rec.DurationMS = time.Since(start).Milliseconds()
	out := Outcome{Phase: p.Name, Duration: time.Since(start)}
	if err != nil {
		rec.Artifacts = mergeArtifacts(rec.Artifacts, existingArtifacts(r.Root, c.tracked, rec.Artifacts))
		rec.Status, rec.Error = Failed, err.Error()
		out.Action, out.Reason = "failed", err.Error()
		fmt.Fprintf(r.Out, "%s %s: FAILED after %s: %v\n", step, p.Name, elapsed(out.Duration), err)
		if serr := j.Save(r.Root); serr != nil {
			err = errors.Join(err, serr)
		}
		return out, fmt.Errorf("phase %s: %w", p.Name, err)
	}
	rec.InputHash = hash
	rec.Status, out.Action = Done, "ran"
	if dryRun {
		rec.Status, out.Action = Rendered, "rendered"
	}
	fmt.Fprintf(r.Out, "%s %s: %s in %s (%d files)\n", step, p.Name, rec.Status, elapsed(out.Duration), len(rec.Artifacts))
	return out, j.Save(r.Root)
}

// runSteps runs Render, records its files with afterRender, then (unless
// dry) Start and Verify.
func runSteps(c *Context, p Phase, afterRender func() error) error {
	if p.Render != nil {
		if err := p.Render(c); err != nil {
			return err
		}
	}
	if err := afterRender(); err != nil {
		return err
	}
	if c.DryRun {
		if p.Plan != nil {
			for _, s := range p.Plan(c) {
				c.Printf("would %s", s)
			}
		}
		return nil
	}
	for _, step := range []func(*Context) error{p.Start, p.Verify} {
		if step == nil {
			continue
		}
		if err := step(c); err != nil {
			return err
		}
	}
	return nil
}

// existingArtifacts snapshots the tracked paths that exist, skipping the rest
// (a failed phase may not have written them all); known as for snapshotArtifact.
func existingArtifacts(root host.Root, paths []string, known []Artifact) []Artifact {
	var arts []Artifact
	for _, p := range paths {
		if a, err := snapshotArtifact(root, p, known); err == nil {
			arts = append(arts, a)
		}
	}
	return arts
}

// mergeArtifacts adds newer to older, a newer record of a path replacing the
// older one, sorted by path.
func mergeArtifacts(older, newer []Artifact) []Artifact {
	byPath := map[string]Artifact{}
	for _, a := range slices.Concat(older, newer) {
		byPath[a.Path] = a
	}
	merged := make([]Artifact, 0, len(byPath))
	for _, a := range byPath {
		merged = append(merged, a)
	}
	slices.SortFunc(merged, func(a, b Artifact) int { return strings.Compare(a.Path, b.Path) })
	return merged
}

// snapshotArtifacts snapshots every tracked path; known as for snapshotArtifact.
func snapshotArtifacts(root host.Root, paths []string, known []Artifact) ([]Artifact, error) {
	sort.Strings(paths)
	paths = slices.Compact(paths)
	arts := make([]Artifact, 0, len(paths))
	for _, p := range paths {
		a, err := snapshotArtifact(root, p, known)
		if err != nil {
			return nil, err
		}
		arts = append(arts, a)
	}
	return arts, nil
}

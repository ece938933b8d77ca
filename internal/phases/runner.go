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

// Runner walks the phases against one root: every phase whose dependencies
// are done starts, up to Parallel at once.
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
	// Parallel bounds the phases running at once; 0 or 1 runs them one
	// after another in the list's order.
	Parallel int
}

// Options choose which phases run and how.
type Options struct {
	// DryRun renders every file but starts nothing.
	DryRun bool
	// Force re-runs phases whose inputs are unchanged.
	Force bool
	// From re-runs this phase and every later one; earlier ones are untouched.
	From Name
	// Only runs this one phase (forced); its dependencies must have run.
	Only Name
	// Serial runs one phase at a time in the list's order, as k8s-single
	// did before the phases formed a graph (to compare the two).
	Serial bool
}

// Outcome is what happened to one phase in a run.
type Outcome struct {
	Phase    Name          `json:"phase"`
	Action   string        `json:"action"` // ran, rendered, skipped, failed
	Reason   string        `json:"reason,omitempty"`
	Duration time.Duration `json:"duration"`
}

// UnknownPhaseError names a phase that does not exist and the ones that do.
type UnknownPhaseError struct {
	Name  Name
	Known []Name
}

func (e *UnknownPhaseError) Error() string {
	known := make([]string, len(e.Known))
	for i, n := range e.Known {
		known[i] = string(n)
	}
	return fmt.Sprintf("unknown phase %q; the phases are: %s", e.Name, strings.Join(known, ", "))
}

// Names lists the phases in order.
func (r *Runner) Names() []Name {
	names := make([]Name, len(r.Phases))
	for i, p := range r.Phases {
		names[i] = p.Name
	}
	return names
}

func (r *Runner) index(name Name) (int, error) {
	if i := slices.Index(r.Names(), name); i >= 0 {
		return i, nil
	}
	return -1, &UnknownPhaseError{Name: name, Known: r.Names()}
}

// run is one up in progress: what its phases share.
type run struct {
	cfg     *config.Cluster
	journal *sharedJournal
	console *console
	dryRun  bool
}

// finished is a phase's end, as its goroutine reports it.
type finished struct {
	i   int
	out Outcome
	err error
}

// Up runs the phases as opts says and returns what happened to each, in
// the list's order. A phase starts once every phase it waits for (see
// waitsFor) is done, up to Parallel at once. After a failure no phase
// starts (but for a FailsAlone phase's: then only the phases depending on
// it do not); those running end on their own, and every failure is returned.
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
	u := &run{cfg: cfg, journal: &sharedJournal{j: j, root: r.Root}, console: newConsole(r.Out, r.Phases), dryRun: opts.DryRun}
	limit := r.Parallel
	if opts.Serial || limit < 1 {
		limit = 1
	}
	outcomes := make([]*Outcome, len(r.Phases))
	started, done := map[int]bool{}, map[int]bool{}
	ends := make(chan finished)
	running := 0
	var errs []error
	stopped := false // a phase failed that stops the run
	for {
		for i := first; i <= last && running < limit && !stopped && ctx.Err() == nil; i++ {
			if started[i] || slices.ContainsFunc(r.waitsFor(i, first, last), func(d int) bool { return !done[d] }) {
				continue
			}
			started[i] = true
			running++
			go func() {
				o, err := r.runPhase(ctx, u, i, forced(i))
				ends <- finished{i, o, err}
			}()
		}
		if running == 0 {
			break
		}
		end := <-ends
		running--
		outcomes[end.i] = &end.out
		if end.err != nil {
			errs = append(errs, end.err)
			stopped = stopped || !r.Phases[end.i].FailsAlone
		} else {
			done[end.i] = true
		}
	}
	var out []Outcome
	for _, o := range outcomes {
		if o != nil {
			out = append(out, *o)
		}
	}
	if len(errs) == 0 && len(done) < last-first+1 {
		err := ctx.Err()
		if err == nil { // CheckGraph forbids what leads here
			err = fmt.Errorf("%d phases could not start: their dependencies form a cycle", last-first+1-len(done))
		}
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
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
func (r *Runner) inputHash(c *Context, j *sharedJournal, p Phase) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", p.Name, r.Version)
	if p.Inputs != nil {
		in, err := p.Inputs(c)
		if err != nil {
			return "", fmt.Errorf("phase %s: read its inputs: %w", p.Name, err)
		}
		data, err := json.Marshal(in)
		if err != nil {
			return "", fmt.Errorf("phase %s: hash inputs: %w", p.Name, err)
		}
		h.Write(data)
	}
	for _, dep := range p.DependsOn {
		rec, ok := j.record(dep)
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

// runPhase runs phase i (or skips it) and records it in the journal. It
// works on its own copy of the phase's record and puts every change into
// the shared journal, which saves it.
func (r *Runner) runPhase(ctx context.Context, u *run, i int, force bool) (Outcome, error) {
	p := r.Phases[i]
	step := fmt.Sprintf("[%d/%d]", i+1, len(r.Phases))
	w := u.console.phase(p.Name)
	defer w.flush()
	c := &Context{Context: ctx, Root: r.Root, Config: u.cfg, DryRun: u.dryRun, Verbose: r.Verbose, out: w}
	hash, err := r.inputHash(c, u.journal, p)
	if err != nil {
		return Outcome{Phase: p.Name, Action: "failed", Reason: err.Error()}, err
	}
	rec, _ := u.journal.record(p.Name)
	if reason := skipReason(r.Root, &rec, hash, u.dryRun); reason != "" && !force {
		u.console.printf("%s %s: skipped (%s)\n", step, p.Name, reason)
		return Outcome{Phase: p.Name, Action: "skipped", Reason: reason}, nil
	}
	if err := guardIrreplaceable(r.Root, p, &rec); err != nil {
		u.console.printf("%s %s: REFUSED: %v\n", step, p.Name, err)
		return Outcome{Phase: p.Name, Action: "failed", Reason: err.Error()}, fmt.Errorf("phase %s: %w", p.Name, err)
	}
	u.console.printf("%s %s: %s\n", step, p.Name, p.Short)
	start := time.Now()
	c.recorded = rec.Artifacts
	if err := repairArtifacts(c, rec.Artifacts); err != nil {
		return Outcome{Phase: p.Name, Action: "failed", Reason: err.Error()}, fmt.Errorf("phase %s: %w", p.Name, err)
	}
	// Keep what an earlier run recorded until this one knows better: a run
	// killed half-way must not make reset forget files already on disk.
	rec = Record{Status: Running, Started: start.UTC(), Artifacts: rec.Artifacts}
	if err := u.journal.put(p.Name, rec); err != nil {
		return Outcome{Phase: p.Name, Action: "failed"}, err
	}
	// Once the files are written and before anything starts, record them.
	afterRender := func() error {
		rec.Artifacts = mergeArtifacts(rec.Artifacts, existingArtifacts(r.Root, c.tracked, rec.Artifacts))
		return u.journal.put(p.Name, rec)
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
	w.flush()
	if err != nil {
		rec.Artifacts = mergeArtifacts(rec.Artifacts, existingArtifacts(r.Root, c.tracked, rec.Artifacts))
		rec.Status, rec.Error = Failed, err.Error()
		out.Action, out.Reason = "failed", err.Error()
		u.console.printf("%s %s: FAILED after %s: %s\n", step, p.Name, elapsed(out.Duration), headline(err))
		if serr := u.journal.put(p.Name, rec); serr != nil {
			err = errors.Join(err, serr)
		}
		return out, fmt.Errorf("phase %s: %w", p.Name, err)
	}
	rec.InputHash = hash
	rec.Status, out.Action = Done, "ran"
	if u.dryRun {
		rec.Status, out.Action = Rendered, "rendered"
	}
	u.console.printf("%s %s: %s in %s (%d files)\n", step, p.Name, rec.Status, elapsed(out.Duration), len(rec.Artifacts))
	return out, u.journal.put(p.Name, rec)
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

// headline is an error's first line, for the FAILED line of a phase: the
// whole error, with the log lines it may carry, is what the run returns (and
// the CLI prints once, at the end).
func headline(err error) string {
	first, rest, multi := strings.Cut(err.Error(), "\n")
	if multi && strings.TrimSpace(rest) != "" {
		return first + " (the whole error follows at the end)"
	}
	return first
}

// Package phases owns the install's spine: the ordered list of phases as data,
// the journal that remembers what each did, and the runner that decides what
// to skip, re-run or render only (dry run). It must not know how any phase does
// its work; the phase values carry that.
package phases

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Name names a phase. The install declares one constant per phase, so a
// misspelt dependency does not compile.
type Name string

// Phase is one step of the install. The runner, not the phase, decides whether
// it runs: it hashes Inputs and the outputs of DependsOn, and skips a phase
// whose hash and artifacts are unchanged. The phases form a graph: the runner
// starts a phase once every phase of DependsOn and After that runs in the
// same up is done, several at once.
type Phase struct {
	Name  Name
	Short string
	// DependsOn names earlier phases whose outputs this phase reads or whose
	// components it needs running. Their outputs are part of its input hash,
	// and it runs only once they have run (`phase run` refuses otherwise).
	DependsOn []Name
	// After names earlier phases that must finish first when they run in
	// the same up, though this phase reads nothing of theirs (systemd's
	// After= beside Requires=): preflight checks the host before any phase
	// changes it. They are not hashed and need not have run.
	After []Name
	// FailsAlone marks a phase no other phase needs but those that depend on
	// it (the dashboard): when it fails, the runner still runs every phase
	// that does not depend on it, and the run fails at the end. Any other
	// phase's failure stops the run (no phase starts after it).
	FailsAlone bool
	// Inputs returns the slice of the config this phase reads; it is hashed.
	// An error (a file it reads is unreadable) fails the phase.
	Inputs func(*Context) (any, error)
	// Render writes the phase's files through Context.WriteFile or Track.
	// A dry run stops after Render.
	Render func(*Context) error
	// Start brings up what Render wrote (units, containers).
	Start func(*Context) error
	// Verify proves the phase's work is live and healthy.
	Verify func(*Context) error
	// Plan says what Start would do, for the dry run ("start etcd.service").
	Plan func(*Context) []string
	// Undo reverses Start (stops units, removes runtime state) before reset
	// deletes the phase's files. It runs only if Start may have run.
	Undo func(*Context) error
	// Precious marks files reset keeps unless --purge: the PKI, so a reset
	// and re-install never silently makes a new CA.
	Precious bool
	// Keep lists host paths of the phase's files that reset keeps unless
	// --purge, for a phase whose other files go: the encryption key, which
	// the Secrets in etcd's data (kept too) need.
	Keep []string
	// Irreplaceable lists host paths of the phase's files that nothing may
	// make anew once the journal recorded them (the CAs, the service-account
	// key, the Secrets' encryption key): if one is missing, emptied or
	// changed, the runner refuses to run the phase and names the way out.
	Irreplaceable []Irreplaceable
}

// Irreplaceable is one file that must never be silently made anew, and why.
type Irreplaceable struct {
	Path string
	// Why completes "it cannot be made anew: ...".
	Why string
}

// Context is what a running phase sees.
type Context struct {
	context.Context
	Root    host.Root
	Config  *config.Cluster
	DryRun  bool
	Verbose bool
	// Purge is set during reset --purge: Undo also removes data (etcd's).
	Purge   bool
	out     io.Writer
	tracked []string
	// recorded is what the journal held for the phase when it started.
	recorded []Artifact
	// replaced keeps what WriteFile overwrote in this run, for Restore.
	replaced map[string]replacedFile
}

// replacedFile is a file's content and mode before WriteFile replaced it.
type replacedFile struct {
	data []byte
	mode os.FileMode
}

// Recorded reports whether the journal recorded the host path as a file of
// the phase by an earlier run. A file that is on disk but was never recorded
// is what a run killed between two writes leaves: it may be made again.
func (c *Context) Recorded(hostPath string) bool {
	return slices.ContainsFunc(c.recorded, func(a Artifact) bool { return a.Path == hostPath })
}

// WriteFile writes a host file atomically unless it already holds exactly
// data with mode (so unchanged files keep their bytes and times), and records
// it as an artifact of the phase. Parent directories get mode 0755 unless they exist.
func (c *Context) WriteFile(hostPath string, data []byte, mode os.FileMode) error {
	c.Track(hostPath)
	p := c.Root.Path(hostPath)
	old, err := os.ReadFile(p)
	st, serr := os.Stat(p)
	if err == nil && serr == nil {
		if bytes.Equal(old, data) && st.Mode().Perm() == mode {
			return nil
		}
		if _, ok := c.replaced[hostPath]; !ok {
			if c.replaced == nil {
				c.replaced = map[string]replacedFile{}
			}
			c.replaced[hostPath] = replacedFile{old, st.Mode().Perm()}
		}
	}
	return c.Root.WriteFile(hostPath, data, mode, layout.ModeDir)
}

// Restore writes back, atomically, each of the host files that WriteFile
// replaced in this run (a failed upgrade's unit goes back to the one its
// previous binary ran with), and returns those it restored.
func (c *Context) Restore(hostPaths ...string) ([]string, error) {
	var restored []string
	for _, hp := range hostPaths {
		old, ok := c.replaced[hp]
		if !ok {
			continue
		}
		if err := c.Root.WriteFile(hp, old.data, old.mode, layout.ModeDir); err != nil {
			return restored, fmt.Errorf("restore %s: %w", hp, err)
		}
		delete(c.replaced, hp)
		restored = append(restored, hp)
	}
	return restored, nil
}

// Track records host paths that another package wrote as artifacts of the phase.
func (c *Context) Track(hostPaths ...string) { c.tracked = append(c.tracked, hostPaths...) }

// Waitf tells the user what the phase is waiting for.
func (c *Context) Waitf(format string, args ...any) {
	fmt.Fprintf(c.Out(), indent+"waiting for "+format+"\n", args...)
}

// Printf prints a line of the phase's progress.
func (c *Context) Printf(format string, args ...any) {
	fmt.Fprintf(c.Out(), indent+format+"\n", args...)
}

// Detailf prints only with -v.
func (c *Context) Detailf(format string, args ...any) {
	if c.Verbose {
		c.Printf(format, args...)
	}
}

// Out is the writer for long progress output (build logs, download bars);
// a Context made without a runner (in a test) discards it.
func (c *Context) Out() io.Writer {
	if c.out == nil {
		return io.Discard
	}
	return c.out
}

// elapsed formats a duration for progress lines: 812ms, 3.2s, 4m05s.
func elapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

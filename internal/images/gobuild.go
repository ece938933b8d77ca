package images

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// progressTick is how often a running go build prints that it is alive.
const progressTick = 15 * time.Second

// goCommand runs go the way internal/binaries does, with the same environment
// (the Go build cache keys on it, so both share compiled packages): the
// module and build caches under cacheDir, -mod=mod so a wrapper's go.mod
// gains its requirements on the first build, and no cgo.
func goCommand(ctx context.Context, cacheDir, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOMODCACHE="+filepath.Join(cacheDir, "gomodcache"),
		"GOCACHE="+filepath.Join(cacheDir, "gocache"),
		"GOFLAGS=-mod=mod",
		"CGO_ENABLED=0",
	)
	// On cancel, let go stop its compilers itself before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// progress writes an image's progress lines, each with the time since the
// image's work started. A go build's output and the ticker share it.
type progress struct {
	mu    sync.Mutex
	out   io.Writer
	name  string
	start time.Time
}

func newProgress(out io.Writer, name string) *progress {
	return &progress{out: out, name: name, start: time.Now()}
}

func (p *progress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// printf writes one line: "coredns: <message> (1m5s)".
func (p *progress) printf(format string, args ...any) {
	fmt.Fprintf(p, "%s: %s (%s)\n", p.name, fmt.Sprintf(format, args...), p.elapsed())
}

func (p *progress) elapsed() time.Duration { return time.Since(p.start).Round(100 * time.Millisecond) }

// run runs cmd with its output passed through, printing what is running
// every progressTick so a long build shows it is alive.
func (p *progress) run(cmd *exec.Cmd, what string) error {
	cmd.Stdout, cmd.Stderr = p, p
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(progressTick)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			p.printf("%s ...", what)
		}
	}
}

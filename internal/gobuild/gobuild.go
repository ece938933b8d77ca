// Package gobuild owns how k8s-single runs the go command on a wrapper module:
// a generated module under the cache directory whose go build makes binaries
// from the Go module proxy. It owns the go environment (the module and build
// caches under the cache directory, -mod=mod, no cgo) and go build's common
// flags, which are what the Go build cache keys on (Command, Build); writing a
// wrapper's go.mod and main.go so that a go.mod go build has grown is kept and
// a warm build stays warm (WriteModule, GoMod); and passing a build's output
// through with a line every 15s that shows a long build is alive (Run).
//
// It must not know what is built: Kubernetes, etcd and their versions belong
// to internal/binaries, the images to internal/images. Anything that changes
// the environment, the flags or the bytes of a go.mod written here turns every
// warm rebuild under /var/cache/k8s-single into a cold one.
package gobuild

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// GoVersion is every wrapper module's go directive. It is part of what the Go
// build cache keys on, so it must not change between runs.
const GoVersion = "1.26.0"

// tick is how often Run reports that a command is still running.
var tick = 15 * time.Second

// Command returns the go command with args, run in dir the way every build of
// k8s-single runs it: the module cache in <cacheDir>/gomodcache, the build
// cache in <cacheDir>/gocache, -mod=mod so a wrapper's go.mod gains its
// requirements on the first build, and no cgo. When ctx is done, go is
// interrupted so it stops its compilers itself, and killed 10s later.
func Command(ctx context.Context, cacheDir, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOMODCACHE="+filepath.Join(cacheDir, "gomodcache"),
		"GOCACHE="+filepath.Join(cacheDir, "gocache"),
		"GOFLAGS=-mod=mod",
		"CGO_ENABLED=0",
	)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Build returns the command `go build -trimpath -ldflags <ldflags> <targets>`
// in the wrapper module dir, run as Command runs go. targets are -o and the
// packages.
func Build(ctx context.Context, cacheDir, dir, ldflags string, targets ...string) *exec.Cmd {
	args := append([]string{"build", "-trimpath", "-ldflags", ldflags}, targets...)
	return Command(ctx, cacheDir, dir, args...)
}

// Run runs cmd with its output going to out and, every 15s until it exits,
// writes the line alive returns to out too, so a long build shows it is alive.
// The command's writes and alive's lines reach out one at a time.
func Run(cmd *exec.Cmd, out io.Writer, alive func() string) error {
	w := &lockedWriter{w: out}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-t.C:
			io.WriteString(w, alive())
		}
	}
}

// lockedWriter lets a command's output copiers and Run's ticker share one
// writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

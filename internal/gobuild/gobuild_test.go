package gobuild

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCommand pins go's environment: it is part of the Go build cache's key,
// so a change turns every warm build into a cold one.
func TestCommand(t *testing.T) {
	cmd := Command(context.Background(), "/var/cache/k8s-single", "/work/dir", "mod", "download")
	if want := []string{"go", "mod", "download"}; !slices.Equal(cmd.Args, want) {
		t.Errorf("args %q, want %q", cmd.Args, want)
	}
	if cmd.Dir != "/work/dir" {
		t.Errorf("dir %s, want /work/dir", cmd.Dir)
	}
	want := []string{
		"GOMODCACHE=/var/cache/k8s-single/gomodcache",
		"GOCACHE=/var/cache/k8s-single/gocache",
		"GOFLAGS=-mod=mod",
		"CGO_ENABLED=0",
	}
	if len(cmd.Env) < len(want) || !slices.Equal(cmd.Env[len(cmd.Env)-len(want):], want) {
		t.Errorf("env ends %q, want %q", cmd.Env[max(0, len(cmd.Env)-len(want)):], want)
	}
	if !slices.Equal(cmd.Env[:len(cmd.Env)-len(want)], os.Environ()) {
		t.Error("the environment does not start with this process's")
	}
	if cmd.Cancel == nil || cmd.WaitDelay != 10*time.Second {
		t.Errorf("cancel set %v, wait delay %s: want an interrupt, then a kill 10s later", cmd.Cancel != nil, cmd.WaitDelay)
	}
}

// TestBuild pins go build's flags, part of the cache key like the environment.
func TestBuild(t *testing.T) {
	cmd := Build(context.Background(), "/cache", "/cache/work/etcd-v3.7.3", "-s -w", "-o", "bin/etcd", ".")
	want := []string{"go", "build", "-trimpath", "-ldflags", "-s -w", "-o", "bin/etcd", "."}
	if !slices.Equal(cmd.Args, want) {
		t.Errorf("args %q, want %q", cmd.Args, want)
	}
	if cmd.Dir != "/cache/work/etcd-v3.7.3" || !slices.Contains(cmd.Env, "GOCACHE=/cache/gocache") {
		t.Errorf("dir %s, env %q: want Command's", cmd.Dir, cmd.Env)
	}
}

// TestRun passes a command's output through and prints alive's line while it
// runs, then returns how it exited.
func TestRun(t *testing.T) {
	defer func(d time.Duration) { tick = d }(tick)
	tick = 20 * time.Millisecond

	dir := t.TempDir()
	script := filepath.Join(dir, "build")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho compiling\nsleep 0.2\necho oops >&2\nexit $1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		code    string
		wantErr bool
	}{{"0", false}, {"3", true}} {
		var out bytes.Buffer
		cmd := Command(context.Background(), dir, dir, "version")
		cmd.Path, cmd.Args = script, []string{script, tc.code}
		alive := 0
		err := Run(cmd, &out, func() string { alive++; return "still building\n" })
		if (err != nil) != tc.wantErr {
			t.Errorf("exit %s: Run = %v", tc.code, err)
		}
		o := out.String()
		if !strings.Contains(o, "compiling\n") || !strings.Contains(o, "oops\n") ||
			strings.Index(o, "compiling") > strings.Index(o, "oops") ||
			alive == 0 || strings.Count(o, "still building\n") != alive {
			t.Errorf("exit %s: %d alive lines, output:\n%s", tc.code, alive, out.String())
		}
	}
}

// TestRunStartError returns the error of a command that does not start.
func TestRunStartError(t *testing.T) {
	cmd := Command(context.Background(), t.TempDir(), filepath.Join(t.TempDir(), "missing"), "version")
	if err := Run(cmd, &bytes.Buffer{}, func() string { return "" }); err == nil {
		t.Error("a command in a missing directory ran")
	}
}

package images

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildPause builds the pause program of this package into a temp dir.
func buildPause(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pause")
	cmd := exec.Command("go", "build", "-o", bin, "./pause")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./pause: %v\n%s", err, out)
	}
	return bin
}

// startUntilReady starts cmd and waits for its first stderr line, which pause
// prints once its signal handlers are in place.
func startUntilReady(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stderr)
		s.Scan()
		line <- s.Text()
		for s.Scan() { // drain, so pause never blocks on a full pipe
		}
	}()
	select {
	case l := <-line:
		t.Logf("%s: %s", cmd.Path, l)
	case <-time.After(5 * time.Second):
		t.Fatalf("%s printed nothing in 5s", cmd.Args)
	}
}

// waitExit waits up to d for cmd to exit and returns its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("%s still running %s after the signal", cmd.Args, d)
		return -1
	}
}

func TestPauseExitsZeroOnSignal(t *testing.T) {
	bin := buildPause(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			startUntilReady(t, cmd)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, cmd, time.Second); code != 0 {
				t.Errorf("exit code %d after %v, want 0", code, sig)
			}
		})
	}
}

// TestPauseReapsChildren makes pause the parent of two children by exec'ing
// it from a shell that started them: one exits before pause starts (reaped
// at start), one after (reaped on SIGCHLD). A sleep in pause's place, which
// reaps nothing, shows the check can fail.
func TestPauseReapsChildren(t *testing.T) {
	bin := buildPause(t)
	for _, tc := range []struct {
		name      string
		script    string
		wantReaps bool
	}{
		{"pause", "true & sleep 0.3 & exec " + bin, true},
		{"sleep (control)", "true & sleep 0.3 & echo ready >&2; exec sleep 30", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("sh", "-c", tc.script)
			startUntilReady(t, cmd)
			pid := cmd.Process.Pid
			deadline := time.Now().Add(2 * time.Second)
			for len(children(t, pid)) > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			left := children(t, pid)
			if tc.wantReaps && len(left) > 0 {
				t.Fatalf("children of pause left after 2s: %v", left)
			}
			if !tc.wantReaps && len(left) == 0 {
				t.Fatal("the control left no zombies: the check cannot tell reaping from not")
			}
			if !tc.wantReaps {
				return
			}
			cmd.Process.Signal(syscall.SIGTERM)
			if code := waitExit(t, cmd, time.Second); code != 0 {
				t.Errorf("exit code %d after SIGTERM, want 0", code)
			}
		})
	}
}

// children lists "pid state" of the processes whose parent is ppid.
func children(t *testing.T, ppid int) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
			out = append(out, strings.Fields(s)[0]+" "+f[0])
		}
	}
	return out
}

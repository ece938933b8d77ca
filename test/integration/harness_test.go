//go:build integration

// Package integration runs the real etcd and control plane from the files
// k8s-single renders: certificates, kubeconfigs, configs and the exact
// command lines of its systemd units. This machine has no systemd as PID 1, so
// a small supervisor here plays systemd's part for ExecStart, Environment and
// Restart=always; the same units under real systemd are the smoke test's job.
//
// Run: make integration (needs root and the binaries from `k8s-single build`,
// found through K8S_SINGLE_BIN_DIR).
package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/units"
)

// binDir holds the 8 binaries; the test is skipped without it.
func binDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("K8S_SINGLE_BIN_DIR")
	if dir == "" {
		t.Skip("K8S_SINGLE_BIN_DIR is not set: run `make integration`, which builds the binaries first")
	}
	if os.Geteuid() != 0 {
		t.Skip("the control plane binds privileged paths and ports: run as root")
	}
	return dir
}

// cluster is one rendered install under a temp root.
type cluster struct {
	t    testing.TB
	root host.Root
	cfg  *config.Cluster
	bin  string
}

// render writes every file of every phase with a dry run, binaries taken
// from bin in place.
func render(t testing.TB, bin string) *cluster {
	t.Helper()
	cfg := config.Default(config.DetectHost())
	cfg.Binaries.Source, cfg.Binaries.Dir, cfg.Binaries.InstallDir = "dir", bin, bin
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config for this host: %v", err)
	}
	root := host.Root(t.TempDir())
	var out bytes.Buffer
	r := install.NewRunner(root, &out, true)
	if _, err := r.Up(context.Background(), cfg, phases.Options{DryRun: true}); err != nil {
		t.Fatalf("up --dry-run: %v\n%s", err, out.String())
	}
	t.Logf("rendered into %s", root)
	return &cluster{t: t, root: root, cfg: cfg, bin: bin}
}

// hostPrefixes are the host directories the rendered units name; the
// supervisor maps them under the temp root.
var hostPrefixes = []string{layout.KubernetesDir, "/var/lib/", "/var/log/"}

// mapArg rewrites every host path in one argument to its place under root.
func (c *cluster) mapArg(arg string) string {
	name, value, ok := strings.Cut(arg, "=")
	if !ok {
		return arg
	}
	parts := strings.Split(value, ",")
	for i, p := range parts {
		for _, prefix := range hostPrefixes {
			if strings.HasPrefix(p, prefix) {
				parts[i] = c.root.Path(p)
			}
		}
	}
	return name + "=" + strings.Join(parts, ",")
}

// service is a daemon run from its unit file, restarted like Restart=always.
type service struct {
	name string
	log  *bytes.Buffer
	mu   sync.Mutex
	cmd  *exec.Cmd
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// start runs a component's unit ExecStart with its Environment.
func (c *cluster) start(component string) *service { return c.startWith(component, nil) }

// startWith is start with some flags' values replaced.
func (c *cluster) startWith(component string, override map[string]string) *service {
	c.t.Helper()
	data, err := c.root.ReadFile(layout.Unit(component))
	if err != nil {
		c.t.Fatalf("read unit: %v", err)
	}
	argv, env, err := units.ParseExecStart(data)
	if err != nil {
		c.t.Fatalf("parse %s unit: %v", component, err)
	}
	// systemd's part for LoadCredential=: the daemon reads the source files.
	creds, err := units.LoadCredentials(data)
	if err != nil {
		c.t.Fatalf("parse %s unit: %v", component, err)
	}
	for id, src := range creds {
		from := units.CredentialsDir(component+".service") + "/" + id
		for i := range argv {
			argv[i] = strings.ReplaceAll(argv[i], from, src)
		}
	}
	for i := range argv {
		argv[i] = c.mapArg(argv[i])
		if name, _, ok := strings.Cut(argv[i], "="); ok && override[name] != "" {
			argv[i] = name + "=" + override[name]
		}
	}
	s := &service{name: component, log: &bytes.Buffer{}, stop: make(chan struct{}), done: make(chan struct{})}
	go s.supervise(argv, append(os.Environ(), env...))
	c.t.Cleanup(func() {
		s.terminate()
		if c.t.Failed() {
			c.t.Logf("---- last output of %s ----\n%s", component, tail(s.output(), 40))
		}
	})
	return s
}

func (s *service) supervise(argv, env []string) {
	defer close(s.done)
	for {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = s.writer(), s.writer()
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		s.mu.Lock()
		s.cmd = cmd
		err := cmd.Start()
		s.mu.Unlock()
		if err == nil {
			err = cmd.Wait()
		}
		fmt.Fprintf(s.writer(), "[supervisor] %s exited: %v; restarting in 2s (Restart=always)\n", s.name, err)
		select {
		case <-s.stop:
			return
		case <-time.After(2 * time.Second):
		}
	}
}

type lockedWriter struct{ s *service }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

func (s *service) writer() io.Writer { return lockedWriter{s} }

func (s *service) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// terminate stops the daemon (SIGTERM, then SIGKILL) and its supervisor.
func (s *service) terminate() { s.once.Do(s.kill) }

func (s *service) kill() {
	close(s.stop)
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubectl runs the real kubectl with a kubeconfig from the rendered root.
func (c *cluster) kubectl(kubeconfig string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(c.bin, "kubectl"), append([]string{"--kubeconfig", c.root.Path(layout.Kubeconfig(kubeconfig))}, args...)...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

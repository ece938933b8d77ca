package binaries

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// buildTick is how often a running go build prints that it is alive.
const buildTick = 15 * time.Second

// goEnv runs the go command the way every build of k8s-single does, with the
// module and build caches under cacheDir. The environment (and the flags in
// group) are what the Go build cache keys on: changing them turns a warm
// rebuild of Kubernetes (seconds) into a cold one (half an hour).
type goEnv struct {
	cacheDir string
}

func (e goEnv) command(ctx context.Context, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GOMODCACHE="+filepath.Join(e.cacheDir, "gomodcache"),
		"GOCACHE="+filepath.Join(e.cacheDir, "gocache"),
		"GOFLAGS=-mod=mod",
		"CGO_ENABLED=0",
	)
	// On cancel, let go stop its compilers itself before it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// moduleSource is what the module cache holds of one module version.
type moduleSource struct {
	goMod []byte
	// time is the version's publication time from the proxy's .info file.
	time time.Time
}

// download fetches a module version into the module cache (a no-op when it
// is there) and reads its go.mod and time.
func (e goEnv) download(ctx context.Context, path, version string) (moduleSource, error) {
	if err := os.MkdirAll(e.cacheDir, layout.ModeDir); err != nil {
		return moduleSource{}, err
	}
	var stderr bytes.Buffer
	cmd := e.command(ctx, e.cacheDir, "mod", "download", "-json", path+"@"+version)
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var files struct{ GoMod, Info, Error string }
	jsonErr := json.Unmarshal(out, &files)
	switch {
	case files.Error != "":
		return moduleSource{}, fmt.Errorf("go mod download %s@%s: %s", path, version, files.Error)
	case runErr != nil:
		return moduleSource{}, fmt.Errorf("go mod download %s@%s: %w: %s", path, version, runErr, strings.TrimSpace(stderr.String()))
	case jsonErr != nil:
		return moduleSource{}, fmt.Errorf("go mod download %s@%s: %w", path, version, jsonErr)
	}
	goMod, err := os.ReadFile(files.GoMod)
	if err != nil {
		return moduleSource{}, err
	}
	info, err := os.ReadFile(files.Info)
	if err != nil {
		return moduleSource{}, err
	}
	var meta struct{ Time time.Time }
	if err := json.Unmarshal(info, &meta); err != nil {
		return moduleSource{}, fmt.Errorf("%s: %w", files.Info, err)
	}
	return moduleSource{goMod: goMod, time: meta.Time}, nil
}

// goBuild is one go build invocation and the binaries it writes.
type goBuild struct {
	names []string
	// targets are go build's arguments after the common flags: -o and packages.
	targets []string
}

// group is one wrapper module under <cacheDir>/work and the go builds that
// make its binaries into its bin/.
type group struct {
	label   string // "kubernetes v1.37.2"
	env     goEnv
	workDir string
	// prepare writes the wrapper module into dir and returns the -ldflags value.
	prepare func(ctx context.Context, dir string) (string, error)
	builds  []goBuild
}

// kubernetesGroup builds the six Kubernetes binaries in one go build, so the
// packages they share compile once.
func kubernetesGroup(c *config.Cluster, env goEnv) group {
	version := c.KubernetesVersion
	targets := []string{"-o", "bin/"}
	for _, n := range kubernetesNames {
		targets = append(targets, "k8s.io/kubernetes/cmd/"+n)
	}
	return group{
		label:   "kubernetes " + version,
		env:     env,
		workDir: filepath.Join(env.cacheDir, "work", "kubernetes-"+version),
		prepare: func(ctx context.Context, dir string) (string, error) {
			date, err := WriteKubernetesWrapper(ctx, dir, version, env.cacheDir)
			if err != nil {
				return "", err
			}
			return KubernetesLDFlags(version, date)
		},
		builds: []goBuild{{kubernetesNames, targets}},
	}
}

// etcdGroup builds etcd from the wrapper's main package and etcdctl from its
// own module, as etcd's release does.
func etcdGroup(c *config.Cluster, env goEnv) (group, error) {
	version := c.EtcdVersion
	r, err := parseRelease(version)
	if err != nil {
		return group{}, fmt.Errorf("etcdVersion: %w", err)
	}
	return group{
		label:   "etcd " + version,
		env:     env,
		workDir: filepath.Join(env.cacheDir, "work", "etcd-"+version),
		prepare: func(_ context.Context, dir string) (string, error) { return "-s -w", WriteEtcdWrapper(dir, version) },
		builds: []goBuild{
			{[]string{"etcd"}, []string{"-o", "bin/etcd", "."}},
			{[]string{"etcdctl"}, []string{"-o", "bin/etcdctl", etcdModule("etcdctl", r)}},
		},
	}, nil
}

func (g group) bin() string { return filepath.Join(g.workDir, "bin") }

func (g group) names() []string {
	var names []string
	for _, b := range g.builds {
		names = append(names, b.names...)
	}
	return names
}

// ensure leaves the group's binaries, at the configured versions, in its bin/:
// it runs no go build when they are there already.
func (g group) ensure(ctx context.Context, c *config.Cluster, out io.Writer) error {
	if checkPaths(pathsIn(g.bin(), g.names()), c) == nil {
		fmt.Fprintf(out, "%s: %s holds %s at the configured version; no build needed\n",
			g.label, g.bin(), strings.Join(g.names(), ", "))
		return nil
	}
	ldflags, err := g.prepare(ctx, g.workDir)
	if err != nil {
		return fmt.Errorf("%s: %w", g.label, err)
	}
	if err := os.MkdirAll(g.bin(), layout.ModeDir); err != nil {
		return err
	}
	for _, b := range g.builds {
		args := append([]string{"build", "-trimpath", "-ldflags", ldflags}, b.targets...)
		label := g.label + ": " + strings.Join(b.names, ", ")
		if err := runWithProgress(g.env.command(ctx, g.workDir, args...), label, out); err != nil {
			return fmt.Errorf("build %s in %s: %w; the output above says why, "+
				"and the caches under %s keep what was built for the next try", label, g.workDir, err, g.env.cacheDir)
		}
	}
	if err := checkPaths(pathsIn(g.bin(), g.names()), c); err != nil {
		return fmt.Errorf("%s: the build finished but: %w", g.label, err)
	}
	return nil
}

// runWithProgress runs a go build, passing its output through and printing
// a line with the elapsed time every buildTick so a long build shows it is alive.
func runWithProgress(cmd *exec.Cmd, label string, out io.Writer) error {
	w := &lockedWriter{w: out}
	cmd.Stdout, cmd.Stderr = w, w
	start := time.Now()
	w.printf("building %s ...\n", label)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(buildTick)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				w.printf("built %s in %s\n", label, since(start))
			}
			return err
		case <-tick.C:
			w.printf("building %s ... %s\n", label, since(start))
		}
	}
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Second) }

// Build builds the 8 binaries from source with the Go toolchain into wrapper
// modules under <cacheDir>/work (kubernetes-<version>, etcd-<version>), and
// returns a directory holding all 8 (hard links to the builds' outputs).
// Builds whose bin/ already holds binaries at the configured versions are
// skipped, so a warm run takes seconds.
func Build(ctx context.Context, c *config.Cluster, out io.Writer) (string, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("building from source needs the go command (Go %s or newer) on PATH (%w); "+
			"or set binaries.source to download or dir", wrapperGoVersion, err)
	}
	env := goEnv{c.Binaries.CacheDir}
	etcd, err := etcdGroup(c, env)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(env.cacheDir, "work", "bin-kubernetes-"+c.KubernetesVersion+"-etcd-"+c.EtcdVersion)
	for _, g := range []group{etcd, kubernetesGroup(c, env)} {
		if err := g.ensure(ctx, c, out); err != nil {
			return "", err
		}
		if err := linkAll(g.bin(), dir, g.names()); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// linkAll hard-links each named file of from into to, replacing what is there.
func linkAll(from, to string, names []string) error {
	if err := os.MkdirAll(to, layout.ModeDir); err != nil {
		return err
	}
	for _, n := range names {
		tmp := filepath.Join(to, "."+n+".link")
		os.Remove(tmp) // left by a killed run
		if err := os.Link(filepath.Join(from, n), tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(to, n)); err != nil {
			return err
		}
	}
	return nil
}

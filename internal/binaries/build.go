package binaries

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/gobuild"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// goBuild is one go build invocation and the binaries it writes.
type goBuild struct {
	names []string
	// targets are go build's arguments after the common flags: -o and packages.
	targets []string
	// cgo builds with CGO_ENABLED=1 (runc's libseccomp).
	cgo bool
}

// group is one wrapper module under <cacheDir>/work and the go builds that
// make its binaries into its bin/.
type group struct {
	label    string // "kubernetes v1.37.2"
	cacheDir string
	workDir  string
	// prepare writes the wrapper module into dir and returns the -ldflags value.
	prepare func(ctx context.Context, dir string) (string, error)
	builds  []goBuild
}

// kubernetesGroup builds the six Kubernetes binaries in one go build, so the
// packages they share compile once.
func kubernetesGroup(c *config.Cluster, cacheDir string) group {
	version := c.KubernetesVersion
	targets := []string{"-o", "bin/"}
	for _, n := range kubernetesNames {
		targets = append(targets, "k8s.io/kubernetes/cmd/"+n)
	}
	return group{
		label:    "kubernetes " + version,
		cacheDir: cacheDir,
		workDir:  filepath.Join(cacheDir, "work", "kubernetes-"+version),
		prepare: func(ctx context.Context, dir string) (string, error) {
			date, err := WriteKubernetesWrapper(ctx, dir, version, cacheDir)
			if err != nil {
				return "", err
			}
			return KubernetesLDFlags(version, date)
		},
		builds: []goBuild{{names: kubernetesNames, targets: targets}},
	}
}

// etcdGroup builds etcd from the wrapper's main package and etcdctl from its
// own module, as etcd's release does.
func etcdGroup(c *config.Cluster, cacheDir string) (group, error) {
	version := c.EtcdVersion
	r, err := parseRelease(version)
	if err != nil {
		return group{}, fmt.Errorf("etcdVersion: %w", err)
	}
	return group{
		label:    "etcd " + version,
		cacheDir: cacheDir,
		workDir:  filepath.Join(cacheDir, "work", "etcd-"+version),
		prepare:  func(_ context.Context, dir string) (string, error) { return "-s -w", WriteEtcdWrapper(dir, version) },
		builds: []goBuild{
			{names: []string{"etcd"}, targets: []string{"-o", "bin/etcd", "."}},
			{names: []string{"etcdctl"}, targets: []string{"-o", "bin/etcdctl", etcdModule("etcdctl", r)}},
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
		label := g.label + ": " + strings.Join(b.names, ", ")
		cmd := gobuild.Build(ctx, g.cacheDir, g.workDir, ldflags, b.targets...)
		if b.cgo {
			cmd.Env = append(cmd.Env, "CGO_ENABLED=1") // the last value of a name wins
		}
		if err := runWithProgress(cmd, label, out); err != nil {
			return fmt.Errorf("build %s in %s: %w; the output above says why, "+
				"and the caches under %s keep what was built for the next try", label, g.workDir, err, g.cacheDir)
		}
	}
	if err := checkPaths(pathsIn(g.bin(), g.names()), c); err != nil {
		return fmt.Errorf("%s: the build finished but: %w", g.label, err)
	}
	return nil
}

// runWithProgress runs a go build, passing its output through, between a
// "building" and a "built" line, and prints a line with the elapsed time
// while it runs so a long build shows it is alive.
func runWithProgress(cmd *exec.Cmd, label string, out io.Writer) error {
	start := time.Now()
	fmt.Fprintf(out, "building %s ...\n", label)
	err := gobuild.Run(cmd, out, func() string { return fmt.Sprintf("building %s ... %s\n", label, since(start)) })
	if err == nil {
		fmt.Fprintf(out, "built %s in %s\n", label, since(start))
	}
	return err
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Second) }

// Build builds the 8 binaries from source with the Go toolchain into wrapper
// modules under <cacheDir>/work (kubernetes-<version>, etcd-<version>), and
// returns a directory holding all 8 (hard links to the builds' outputs).
// When runtime.source is build, the runtime's binaries are built too and
// linked into the same directory (laid out as RuntimeNames), so that it
// serves as binaries.dir for runtime.source dir.
// Builds whose bin/ already holds binaries at the configured versions are
// skipped, so a warm run takes seconds.
func Build(ctx context.Context, c *config.Cluster, out io.Writer) (string, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return "", fmt.Errorf("building from source needs the go command (Go %s or newer) on PATH (%w); "+
			"or set binaries.source to download or dir", gobuild.GoVersion, err)
	}
	cacheDir := c.Binaries.CacheDir
	etcd, err := etcdGroup(c, cacheDir)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cacheDir, "work", "bin-kubernetes-"+c.KubernetesVersion+"-etcd-"+c.EtcdVersion)
	for _, g := range []group{etcd, kubernetesGroup(c, cacheDir)} {
		if err := g.ensure(ctx, c, out); err != nil {
			return "", err
		}
		if err := linkAll(g.bin(), dir, g.names()); err != nil {
			return "", err
		}
	}
	if c.Runtime.Source == "build" {
		if err := buildRuntimeInto(ctx, c, dir, out); err != nil {
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
		if err := linkAtomic(filepath.Join(from, n), filepath.Join(to, n)); err != nil {
			return err
		}
	}
	return nil
}

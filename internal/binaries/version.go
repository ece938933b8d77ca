package binaries

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
)

// probeTimeout bounds one `--version` run; the first run of a 100 MB binary
// from a cold page cache takes a few seconds on a busy VM, and more than 30 s
// under qemu's software emulation with a cluster running (the Vagrant tier).
const probeTimeout = 2 * time.Minute

// probe says how a binary reports its version: the arguments that make it
// print it, the start of the output line that carries it, and the version the
// config wants in that line's spelling.
type probe struct {
	args   []string
	prefix string
	want   func(c *config.Cluster) string
	// anyExit accepts a non-zero exit when the output has the line (a CNI
	// plugin prints its version and exits 1 without CNI_COMMAND).
	anyExit bool
}

var (
	kubeProbe = probe{args: []string{"--version"}, prefix: "Kubernetes ", want: kubernetesVersion}
	// probes is keyed by every name in Names.
	probes = map[string]probe{
		"etcd":                    {args: []string{"--version"}, prefix: "etcd Version: ", want: etcdVersion},
		"etcdctl":                 {args: []string{"version"}, prefix: "etcdctl version: ", want: etcdVersion},
		"kube-apiserver":          kubeProbe,
		"kube-controller-manager": kubeProbe,
		"kube-scheduler":          kubeProbe,
		"kubelet":                 kubeProbe,
		"kube-proxy":              kubeProbe,
		"kubectl":                 {args: []string{"version", "--client"}, prefix: "Client Version: ", want: kubernetesVersion},
	}
)

func kubernetesVersion(c *config.Cluster) string { return c.KubernetesVersion }

// etcdVersion is etcd's own spelling: "3.7.3" for the config's "v3.7.3".
func etcdVersion(c *config.Cluster) string { return strings.TrimPrefix(c.EtcdVersion, "v") }

// Mismatch is one binary that is missing or reports another version.
type Mismatch struct {
	Name string
	// Path is the file that was probed (or looked for).
	Path string
	Want string
	// Found is the version the binary reports; empty when Problem says why
	// none could be read ("is missing", "does not run (...)").
	Found   string
	Problem string
}

// VersionError lists every binary of a set that is missing or reports the
// wrong version, so one run shows the whole problem.
type VersionError struct {
	Mismatches []Mismatch
}

// Error names each binary with what was found and what was wanted.
func (e *VersionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of the binaries do not match the config:", len(e.Mismatches))
	for _, m := range e.Mismatches {
		if m.Found != "" {
			fmt.Fprintf(&b, "\n  %s: %s reports %s, want %s", m.Name, m.Path, m.Found, m.Want)
		} else {
			fmt.Fprintf(&b, "\n  %s: %s %s, want %s", m.Name, m.Path, m.Problem, m.Want)
		}
	}
	b.WriteString("\nrebuild or replace them, or set the config's versions (kubernetesVersion, etcdVersion, runtime.*Version) to what they are")
	return b.String()
}

// pathsIn maps each name to its file in dir.
func pathsIn(dir string, names []string) map[string]string {
	paths := make(map[string]string, len(names))
	for _, n := range names {
		paths[n] = filepath.Join(dir, n)
	}
	return paths
}

// checkPaths probes each binary of paths (name to file), as many at once as
// there are CPUs (a probe is mostly a large binary's start), and reports the
// mismatches in Names order, then RuntimeNames order.
func checkPaths(paths map[string]string, c *config.Cluster) error {
	var names []string
	for _, name := range slices.Concat(Names, RuntimeNames) {
		if _, ok := paths[name]; ok {
			names = append(names, name)
		}
	}
	found := make([]Mismatch, len(names))
	slots := make(chan struct{}, max(2, goruntime.NumCPU()))
	var wg sync.WaitGroup
	for i, name := range names {
		p, ok := probes[name]
		if !ok {
			p = runtimeProbes[name]
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			v, problem := p.run(paths[name])
			found[i] = Mismatch{Name: name, Path: paths[name], Want: p.want(c), Found: v, Problem: problem}
		}()
	}
	wg.Wait()
	var bad []Mismatch
	for _, m := range found {
		if m.Found != m.Want {
			bad = append(bad, m)
		}
	}
	if len(bad) > 0 {
		return &VersionError{Mismatches: bad}
	}
	return nil
}

// run returns the version the binary at path reports, or the problem that
// kept it from reporting one.
func (p probe) run(path string) (version, problem string) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", "is missing"
	}
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmdline := filepath.Base(path) + " " + strings.Join(p.args, " ")
	out, err := exec.CommandContext(ctx, path, p.args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(p.anyExit && errors.As(err, &exit)) {
		return "", fmt.Sprintf("does not run (%s: %v%s)", cmdline, err, firstLine(out))
	}
	if v, ok := p.parse(out); ok {
		return v, ""
	}
	return "", fmt.Sprintf("prints no %q line (%s%s)", p.prefix+"...", cmdline, firstLine(out))
}

// parse finds the version on the output line that starts with the prefix:
// the first word after it ("containerd ... v2.4.2 <revision>").
func (p probe) parse(out []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), p.prefix); ok {
			if f := strings.Fields(v); len(f) > 0 {
				return f[0], true
			}
			return "", true
		}
	}
	return "", false
}

// firstLine returns ": " and the first line of a command's output, or
// nothing when it printed nothing.
func firstLine(out []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return ""
	}
	return ": " + line
}

// release is a version string taken apart: v1.37.2 or v1.37.0-rc.1.
type release struct {
	major, minor, patch, pre string
}

var releaseRE = regexp.MustCompile(`^v(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$`)

func parseRelease(v string) (release, error) {
	m := releaseRE.FindStringSubmatch(v)
	if m == nil {
		return release{}, fmt.Errorf("version %q is not of the form v1.37.2", v)
	}
	return release{major: m[1], minor: m[2], patch: m[3], pre: m[4]}, nil
}

// staging is the version the Kubernetes staging modules (k8s.io/api...) are
// tagged with for this Kubernetes release: v1.37.2 -> v0.37.2.
func (r release) staging() string {
	return "v0." + r.minor + "." + r.patch + r.pre
}

//go:build integration

package integration

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// BenchmarkEtcdHealthCLI times one `k8s-single etcd health` process against
// one `etcdctl endpoint health` process on the same etcd, both over mTLS with
// the healthcheck-client certificate: what a user types, start to exit. Each
// iteration runs every command, the first one rotating, so a machine shared
// with other work slows them alike; it reports each one's median and the
// ratio to etcdctl's. With K8S_SINGLE_BASELINE naming another k8s-single
// build (e.g. main's), that one runs in the same rotation ("baseline"), for a
// before/after figure from one run.
//
//	make bench-cli
func BenchmarkEtcdHealthCLI(b *testing.B) {
	c := render(b, binDir(b))
	c.start("etcd")
	cli, err := etcd.New(etcdconn.OptionsFromConfig(c.root, c.cfg))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(time.Minute)
	for !cli.Health(b.Context()).Healthy() {
		if time.Now().After(deadline) {
			b.Fatal("etcd not healthy")
		}
		time.Sleep(200 * time.Millisecond)
	}
	pki := func(p string) string { return c.root.Path(p) }
	config := writeConfig(b, c)
	commands := map[string][]string{
		"etcdctl": {filepath.Join(c.bin, "etcdctl"), "endpoint", "health", "--endpoints=https://127.0.0.1:2379",
			"--cacert=" + pki(layout.Cert("etcd/ca")), "--cert=" + pki(layout.Cert("etcd/healthcheck-client")), "--key=" + pki(layout.Key("etcd/healthcheck-client"))},
	}
	for name, bin := range k8sSingleBuilds(b) {
		commands[name] = []string{bin, "etcd", "health", "--root", string(c.root), "-c", config}
	}
	took := rotate(b, commands, nil)
	etcdctl := median(took["etcdctl"])
	for name, ms := range took {
		b.ReportMetric(median(ms), name+"-ms")
		if name != "etcdctl" {
			b.ReportMetric(median(ms)/etcdctl, name+"/etcdctl")
		}
	}
}

// BenchmarkVersionCLI times `k8s-single version`, the start-up every command
// pays, and the part of it that is Go package initialisation (the sum of
// GODEBUG=inittrace=1's clocks); it reports both medians, and the baseline's
// with K8S_SINGLE_BASELINE (see BenchmarkEtcdHealthCLI).
//
//	make bench-cli
func BenchmarkVersionCLI(b *testing.B) {
	commands := map[string][]string{}
	for name, bin := range k8sSingleBuilds(b) {
		commands[name] = []string{bin, "version"}
	}
	inits := map[string][]float64{}
	took := rotate(b, commands, func(name string, argv []string) {
		var trace bytes.Buffer
		timeRun(b, argv, &trace)
		inits[name] = append(inits[name], initMillis(b, trace.String()))
	})
	for name := range commands {
		b.ReportMetric(median(took[name]), name+"-version-ms")
		b.ReportMetric(median(inits[name]), name+"-init-ms")
	}
}

// k8sSingleBuilds are the k8s-single binaries to time by name: this tree's
// front ("k8s-single") and the full binary beside it ("k8s-single-full", the
// same command without the quick start), built, and K8S_SINGLE_BASELINE's
// when it is set.
func k8sSingleBuilds(b *testing.B) map[string]string {
	front := buildK8sSingle(b)
	builds := map[string]string{"k8s-single": front, "k8s-single-full": filepath.Join(filepath.Dir(front), "k8s-single-full")}
	if baseline := os.Getenv("K8S_SINGLE_BASELINE"); baseline != "" {
		builds["baseline"] = baseline
	}
	return builds
}

// rotate runs every command once per benchmark iteration, starting with a
// different one each time, and returns each one's wall times in milliseconds;
// also, when not nil, runs after each timed run of a command.
func rotate(b *testing.B, commands map[string][]string, also func(name string, argv []string)) map[string][]float64 {
	names := slices.Sorted(maps.Keys(commands))
	took := map[string][]float64{}
	for i := 0; b.Loop(); i++ {
		for j := range names {
			name := names[(i+j)%len(names)]
			took[name] = append(took[name], timeRun(b, commands[name], nil))
			if also != nil {
				also(name, commands[name])
			}
		}
	}
	return took
}

// timeRun runs argv to completion and returns its wall time in milliseconds;
// with trace, the process runs with GODEBUG=inittrace=1 and its stderr goes
// there.
func timeRun(b *testing.B, argv []string, trace *bytes.Buffer) float64 {
	b.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if trace != nil {
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		cmd.Stderr = trace
	}
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
	}
	return float64(took.Microseconds()) / 1000
}

// initMillis sums the clock of every "init PACKAGE @T ms, N ms clock, ..."
// line of an inittrace.
func initMillis(b *testing.B, trace string) float64 {
	b.Helper()
	var total float64
	for line := range strings.Lines(trace) {
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			b.Fatalf("inittrace line %q: %v", line, err)
		}
		total += ms
	}
	if total == 0 {
		b.Fatalf("no inittrace lines in:\n%s", trace)
	}
	return total
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// buildK8sSingle builds k8s-single's two binaries as `make build` does
// (static, no cgo), so the figures are those of the shipped ones, and
// returns the front's path.
func buildK8sSingle(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "../../cmd/k8s-single", "../../cmd/k8s-single-full")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, msg)
	}
	return filepath.Join(dir, "k8s-single")
}

// writeConfig writes the test cluster's config where k8s-single reads it.
func writeConfig(b *testing.B, c *cluster) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "cluster.yaml")
	if err := os.WriteFile(p, c.cfg.Marshal(), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

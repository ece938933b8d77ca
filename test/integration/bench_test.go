//go:build integration

package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// BenchmarkEtcdHealthCLI times one `k8s-single etcd health` process against
// one `etcdctl endpoint health` process on the same etcd, both over mTLS with
// the healthcheck-client certificate: what a user types, start to exit. Each
// iteration runs both, the first one alternating, so a machine shared with
// other work slows both alike; it reports each one's median and their ratio.
//
//	make bench-cli
func BenchmarkEtcdHealthCLI(b *testing.B) {
	c := render(b, binDir(b))
	c.start("etcd")
	cli, err := etcd.New(etcd.OptionsFromConfig(c.root, c.cfg))
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
	commands := [][]string{
		{buildK8sSingle(b), "etcd", "health", "--root", string(c.root), "-c", writeConfig(b, c)},
		{filepath.Join(c.bin, "etcdctl"), "endpoint", "health", "--endpoints=https://127.0.0.1:2379",
			"--cacert=" + pki(layout.Cert("etcd/ca")), "--cert=" + pki(layout.Cert("etcd/healthcheck-client")), "--key=" + pki(layout.Key("etcd/healthcheck-client"))},
	}
	took := make([][]float64, len(commands))
	for i := 0; b.Loop(); i++ {
		for j := range commands {
			k := (i + j) % len(commands)
			took[k] = append(took[k], timeRun(b, commands[k], nil))
		}
	}
	k8sSingle, etcdctl := median(took[0]), median(took[1])
	b.ReportMetric(k8sSingle, "k8s-single-ms")
	b.ReportMetric(etcdctl, "etcdctl-ms")
	b.ReportMetric(k8sSingle/etcdctl, "ratio")
}

// BenchmarkVersionCLI times `k8s-single version`, the start-up every command
// pays, and the part of it that is Go package initialisation (the sum of
// GODEBUG=inittrace=1's clocks); it reports both medians.
//
//	make bench-cli
func BenchmarkVersionCLI(b *testing.B) {
	bin := buildK8sSingle(b)
	var wall, inits []float64
	for b.Loop() {
		wall = append(wall, timeRun(b, []string{bin, "version"}, nil))
		var trace bytes.Buffer
		timeRun(b, []string{bin, "version"}, &trace)
		inits = append(inits, initMillis(b, trace.String()))
	}
	b.ReportMetric(median(wall), "version-ms")
	b.ReportMetric(median(inits), "init-ms")
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

// buildK8sSingle builds k8s-single as `make build` does (static, no cgo), so
// the figures are those of the shipped binary.
func buildK8sSingle(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "k8s-single")
	cmd := exec.Command("go", "build", "-o", out, "../../cmd/k8s-single")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, msg)
	}
	return out
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

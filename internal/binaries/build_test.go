package binaries

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/golden"
	"github.com/k8s-single/k8s-single/internal/host"
)

// buildTestEnv turns on TestBuildEtcd, which runs the real go toolchain:
//
//	K8S_SINGLE_BUILD_TEST=1 go test ./internal/binaries -run TestBuildEtcd -v
//
// K8S_SINGLE_CACHE_DIR picks the cache (default /var/cache/k8s-single). With a
// warm cache it takes seconds; with a cold one, minutes and the network.
const buildTestEnv = "K8S_SINGLE_BUILD_TEST"

// buildTestCluster is a config on the real cache, or skips the test unless
// buildTestEnv is set.
func buildTestCluster(t *testing.T) *config.Cluster {
	t.Helper()
	if os.Getenv(buildTestEnv) != "1" {
		t.Skipf("set %s=1 to run the Go toolchain with the real caches", buildTestEnv)
	}
	c, _ := testCluster(t, "build")
	c.Binaries.CacheDir = "/var/cache/k8s-single"
	if dir := os.Getenv("K8S_SINGLE_CACHE_DIR"); dir != "" {
		c.Binaries.CacheDir = dir
	}
	return c
}

// TestBuildEtcd builds etcd and etcdctl through Build's etcd path, with the
// real module and build caches, into a fresh wrapper directory (so go build
// really runs: compiles hit the cache, only the links are new), checks the
// real binaries' versions, then checks that a second run skips go build.
func TestBuildEtcd(t *testing.T) {
	c := buildTestCluster(t)
	g, err := etcdGroup(c, c.Binaries.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	handMade := g.workDir
	g.workDir = filepath.Join(t.TempDir(), filepath.Base(handMade))
	// A wrapper that was built before keeps its go.mod and go.sum; start from
	// them when there are any, as a second build of the same version would.
	for _, name := range []string{"go.mod", "go.sum"} {
		if data, err := os.ReadFile(filepath.Join(handMade, name)); err == nil {
			writeExecutable(t, filepath.Join(g.workDir, name), data)
		}
	}

	var out bytes.Buffer
	start := time.Now()
	if err := g.ensure(context.Background(), c, &out); err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	t.Logf("build into a fresh wrapper dir: %s\n%s", time.Since(start).Round(time.Millisecond), out.String())
	for _, want := range []string{"building etcd v3.7.3: etcd ...", "built etcd v3.7.3: etcdctl in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	if err := checkPaths(pathsIn(g.bin(), etcdNames), c); err != nil {
		t.Fatal(err)
	}
	assertSameBinaries(t, filepath.Join(handMade, "bin"), g.bin(), etcdNames)

	out.Reset()
	start = time.Now()
	if err := g.ensure(context.Background(), c, &out); err != nil {
		t.Fatal(err)
	}
	t.Logf("second run: %s\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if !strings.Contains(out.String(), "no build needed") || strings.Contains(out.String(), "building") {
		t.Errorf("second run built again:\n%s", out.String())
	}
}

// assertSameBinaries checks that a build reproduced, byte for byte, the
// binaries of an earlier one made with the same flags, when there is one.
func assertSameBinaries(t *testing.T, earlier, now string, names []string) {
	t.Helper()
	for _, n := range names {
		want, _, err := host.FileDigest(filepath.Join(earlier, n))
		if err != nil {
			t.Logf("no earlier %s to compare with: %v", n, err)
			continue
		}
		if got, _, _ := host.FileDigest(filepath.Join(now, n)); got != want {
			t.Errorf("%s: sha256 %s, the earlier build's %s: the build flags differ", n, got, want)
		}
	}
}

// TestWriteKubernetesWrapper reads k8s.io/kubernetes v1.37.2 through the real
// module cache and writes the wrapper the hand-made build used, with the
// release's time for buildDate.
func TestWriteKubernetesWrapper(t *testing.T) {
	c := buildTestCluster(t)
	dir := t.TempDir()
	released, err := WriteKubernetesWrapper(context.Background(), dir, "v1.37.2", c.Binaries.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 10, 27, 12, 1, 4, 0, time.UTC); !released.Equal(want) {
		t.Errorf("release time %s, want %s", released, want)
	}
	got, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "kubernetes-v1.37.2-wrapper.go.mod.golden"), got)
}

// TestBuildWarm runs Build against caches whose wrapper bin/ directories
// already hold the 8 binaries: it must run no go build, take seconds, and
// return a directory holding all 8 at the configured versions. It skips when
// the Kubernetes binaries are not built yet rather than start a half-hour build.
func TestBuildWarm(t *testing.T) {
	c := buildTestCluster(t)
	kube := kubernetesGroup(c, c.Binaries.CacheDir)
	if err := checkPaths(pathsIn(kube.bin(), kubernetesNames), c); err != nil {
		t.Skipf("no built Kubernetes to be warm with: %v", err)
	}
	var out bytes.Buffer
	start := time.Now()
	dir, err := Build(context.Background(), c, &out)
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, out.String())
	}
	t.Logf("warm Build: %s\n%s", time.Since(start).Round(time.Millisecond), out.String())
	if strings.Contains(out.String(), "building") {
		t.Errorf("a warm Build ran go build:\n%s", out.String())
	}
	if err := checkPaths(pathsIn(dir, Names), c); err != nil {
		t.Error(err)
	}
}

package binaries

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/binaries/binariestest"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

// The download, dir and install tests run fake binaries (binariestest): tiny
// shell scripts that print what the real ones print for their version flag;
// the real binaries are exercised by TestBuildEtcd and the smoke tests.

const (
	testKubernetesVersion = "v1.37.2"
	testEtcdVersion       = "v3.7.3"
)

// testCluster is a defaulted config whose cache is a temp dir, with a temp
// root to install under.
func testCluster(t *testing.T, source string) (*config.Cluster, host.Root) {
	t.Helper()
	c := config.Default(config.HostFacts{Hostname: "node1", DefaultRouteAddress: "192.0.2.10"})
	c.KubernetesVersion = testKubernetesVersion
	c.EtcdVersion = testEtcdVersion
	c.Binaries.Source = source
	c.Binaries.CacheDir = t.TempDir()
	return c, host.Root(t.TempDir())
}

// fakeBinary returns a fake of the named binary reporting version.
func fakeBinary(name, version string) []byte { return binariestest.Script(name, version) }

// wantVersion is the version the test config wants of a binary.
func wantVersion(name string) string {
	if strings.HasPrefix(name, "etcd") {
		return testEtcdVersion
	}
	return testKubernetesVersion
}

func writeExecutable(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// assertInstalled checks that the config's release dir holds the 8
// binaries with mode 0755 and the fake content for the test versions, and
// that paths are the host paths of the versions dir, the release dir and
// its binaries.
func assertInstalled(t *testing.T, root host.Root, c *config.Cluster, paths []string) {
	t.Helper()
	wantPaths := []string{VersionsDir(c), ReleaseDir(c)}
	for _, name := range Names {
		wantPaths = append(wantPaths, filepath.Join(ReleaseDir(c), name))
	}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("Install returned %v, want %v", paths, wantPaths)
	}
	for _, name := range Names {
		want := filepath.Join(ReleaseDir(c), name)
		p := root.Path(want)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", name, st.Mode().Perm())
		}
		if data, _ := os.ReadFile(p); string(data) != string(fakeBinary(name, wantVersion(name))) {
			t.Errorf("%s: installed content is not the source's", name)
		}
	}
}

// assertEmptyDir fails when dir holds any file (a missing dir is empty).
func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s holds %s, want nothing", dir, e.Name())
	}
}

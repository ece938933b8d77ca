package binaries

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/k8s-single/k8s-single/internal/binaries/binariestest"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

// installRelease installs fake binaries of the given versions from a
// directory, as the binaries phase does.
func installRelease(t *testing.T, root host.Root, c *config.Cluster, kubernetesVersion, etcdVersion string) {
	t.Helper()
	c.KubernetesVersion, c.EtcdVersion = kubernetesVersion, etcdVersion
	c.Binaries.Dir = t.TempDir()
	binariestest.Dir(t, c.Binaries.Dir, kubernetesVersion, etcdVersion)
	if _, err := Install(context.Background(), root, c, io.Discard); err != nil {
		t.Fatalf("Install %s/%s: %v", kubernetesVersion, etcdVersion, err)
	}
}

func assertInstalledVersion(t *testing.T, root host.Root, c *config.Cluster, name, want string) {
	t.Helper()
	if got, err := Installed(root, c, name); err != nil || got != want {
		t.Errorf("Installed(%s) = %q, %v; want %q", name, got, err, want)
	}
}

// TestActivateSwitchesOneComponentAndRevertGoesBack walks an upgrade: the
// new release is staged beside the running one, one binary is switched (the
// others keep running the old release), reverted, and switched again.
func TestActivateSwitchesOneComponentAndRevertGoesBack(t *testing.T) {
	c, root := testCluster(t, "dir")
	installRelease(t, root, c, "v1.36.3", "v3.6.16")
	if WouldReplace(root, c, Names...) {
		t.Error("WouldReplace before anything is active: true, want false (a fresh install replaces nothing)")
	}
	if _, sw, err := Activate(root, c, Names...); err != nil || slices.ContainsFunc(sw, func(s Switch) bool { return s.Replaced }) {
		t.Fatalf("first Activate: %+v, %v; want every binary new, none replaced", sw, err)
	}
	assertInstalledVersion(t, root, c, "kubelet", "v1.36.3")
	assertInstalledVersion(t, root, c, "etcd", "v3.6.16")

	installRelease(t, root, c, "v1.37.2", "v3.7.3")
	for _, rel := range []string{ReleaseName("v1.36.3", "v3.6.16"), ReleaseName("v1.37.2", "v3.7.3")} {
		if _, err := os.Stat(root.Path(filepath.Join(VersionsDir(c), rel))); err != nil {
			t.Errorf("release %s: %v; want both kept while the old one runs", rel, err)
		}
	}
	if !WouldReplace(root, c, "kubelet") {
		t.Error("WouldReplace(kubelet) after staging a new release: false, want true")
	}
	paths, sw, err := Activate(root, c, "kubelet")
	if err != nil || len(sw) != 1 || !sw[0].Replaced {
		t.Fatalf("Activate(kubelet): %+v, %v; want it replaced", sw, err)
	}
	if !slices.Contains(paths, filepath.Join(PreviousDir(c), "kubelet")) {
		t.Errorf("Activate paths %v lack the kept previous kubelet", paths)
	}
	assertInstalledVersion(t, root, c, "kubelet", "v1.37.2")
	assertInstalledVersion(t, root, c, "kube-apiserver", "v1.36.3")

	if err := Revert(root, c, sw); err != nil {
		t.Fatal(err)
	}
	assertInstalledVersion(t, root, c, "kubelet", "v1.36.3")

	if _, _, err := Activate(root, c, Names...); err != nil {
		t.Fatal(err)
	}
	for _, n := range Names {
		want := "v1.37.2"
		if IsEtcd(n) {
			want = "v3.7.3"
		}
		assertInstalledVersion(t, root, c, n, want)
	}
	if _, sw, _ := Activate(root, c, "kubelet"); sw[0].Replaced {
		t.Error("a second Activate replaced the kubelet again; want it left alone")
	}
}

// TestInstallPrunesReleasesNothingUses keeps the running release and the
// one before it (for a rollback) and removes older ones.
func TestInstallPrunesReleasesNothingUses(t *testing.T) {
	c, root := testCluster(t, "dir")
	for _, v := range [][2]string{{"v1.35.4", "v3.6.15"}, {"v1.36.3", "v3.6.16"}, {"v1.37.2", "v3.7.3"}} {
		installRelease(t, root, c, v[0], v[1])
		if _, _, err := Activate(root, c, Names...); err != nil {
			t.Fatal(err)
		}
	}
	installRelease(t, root, c, "v1.37.2", "v3.7.3")
	entries, err := os.ReadDir(root.Path(VersionsDir(c)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{ReleaseName("v1.36.3", "v3.6.16"), ReleaseName("v1.37.2", "v3.7.3"), previousDirName}
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %v, want %v (the oldest release removed)", VersionsDir(c), got, want)
	}
}

// TestInstalledProbesAFileOfNoRelease reads the version of a binary an
// older k8s-single copied into the install dir by running it.
func TestInstalledProbesAFileOfNoRelease(t *testing.T) {
	c, root := testCluster(t, "dir")
	writeExecutable(t, root.Path(filepath.Join(c.Binaries.InstallDir, "etcd")), fakeBinary("etcd", "v3.6.16"))
	assertInstalledVersion(t, root, c, "etcd", "v3.6.16")
	assertInstalledVersion(t, root, c, "kubelet", "")
}

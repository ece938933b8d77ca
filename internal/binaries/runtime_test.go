package binaries

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/binaries/binariestest"
	"github.com/k8s-single/k8s-single/internal/config/configtest"
)

func TestRuntimeDest(t *testing.T) {
	c := configtest.Cluster(t)
	for name, want := range map[string]string{
		"containerd": "/opt/kubernetes/bin/containerd",
		"runc":       "/opt/kubernetes/bin/runc",
		"cni/bridge": "/opt/cni/bin/bridge",
	} {
		if got := RuntimeDest(c, name); got != want {
			t.Errorf("RuntimeDest(%s) = %s, want %s", name, got, want)
		}
	}
}

// TestCheckRuntimeVersions reads each runtime binary's version the way the
// real ones print it (containerd's module line, the shim's Version: field,
// runc without the v, a CNI plugin's about line) and names each one that is
// missing or at another version.
func TestCheckRuntimeVersions(t *testing.T) {
	c := configtest.Cluster(t)
	dir := t.TempDir()
	binariestest.RuntimeDir(t, dir, c.Runtime.ContainerdVersion, c.Runtime.RuncVersion, c.Runtime.CNIPluginsVersion)
	if err := CheckRuntimeVersions(dir, c); err != nil {
		t.Fatalf("a complete set at the configured versions: %v", err)
	}
	binariestest.Write(t, filepath.Join(dir, "runc"), "runc", "v1.1.5")
	binariestest.Write(t, filepath.Join(dir, "cni/portmap"), "cni/portmap", "v1.9.0")
	err := CheckRuntimeVersions(filepath.Join(dir), c)
	var verr *VersionError
	if !errors.As(err, &verr) || len(verr.Mismatches) != 2 {
		t.Fatalf("runc and portmap at other versions: %v", err)
	}
	for _, want := range []string{"runc: " + dir + "/runc reports 1.1.5, want 1.5.3", "cni/portmap: " + dir + "/cni/portmap reports v1.9.0, want v1.10.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	c.Runtime.Source = "dir"
	c.Binaries.Dir = t.TempDir()
	if err := CheckRuntimeVersions(c.Binaries.Dir, c); err == nil || !strings.Contains(err.Error(), "containerd: "+c.Binaries.Dir+"/containerd is missing") {
		t.Errorf("an empty dir: %v", err)
	}
}

func TestRuntimeDirFromBinariesDir(t *testing.T) {
	c := configtest.Cluster(t)
	c.Runtime.Source, c.Binaries.Dir = "dir", "/srv/binaries"
	if dir, err := RuntimeDir(t.Context(), c, nil); err != nil || dir != "/srv/binaries" {
		t.Errorf("runtime.source dir: %s, %v; want binaries.dir", dir, err)
	}
	c.Runtime.Source = "debian"
	if _, err := RuntimeDir(t.Context(), c, nil); err == nil {
		t.Error("runtime.source debian has no binaries dir: no error")
	}
}

package install

import (
	"testing"

	"github.com/k8s-single/k8s-single/internal/binaries"
)

// TestOwnsWhatThePhasesWrite: reset may delete every file the runtime phase
// writes into the system's directories, k8s-single's containerd's included
// (the journal of a node that ran it, whatever runtime.source is now), and
// nothing else there.
func TestOwnsWhatThePhasesWrite(t *testing.T) {
	for _, source := range []string{"build", "debian"} {
		c := sampleCluster(t)
		c.Binaries.InstallDir = "/usr/local/k8s/bin" // not inside a directory k8s-single owns
		var paths []string
		for _, name := range binaries.RuntimeNames {
			paths = append(paths, binaries.RuntimeDest(c, name))
		}
		c.Runtime.Source = "build"
		fs, err := runtimeFiles(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			paths = append(paths, f.Path)
		}
		c.Runtime.Source = source
		for _, p := range paths {
			if !Owns(c, p) {
				t.Errorf("runtime.source %s: reset may not delete %s, which the runtime phase writes", source, p)
			}
		}
		for _, p := range []string{"/etc/passwd", "/opt/cni/bin/macvlan", "/usr/local/k8s/bin/docker", "/etc/systemd/system/docker.service"} {
			if Owns(c, p) {
				t.Errorf("runtime.source %s: reset may delete %s", source, p)
			}
		}
	}
}

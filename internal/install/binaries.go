package install

import (
	"fmt"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/runtime"
)

// Binaries puts the 8 binaries into the config's release dir under the
// install dir, built from source, copied from a directory or downloaded, and
// checks their versions, while the cluster keeps running: the phases that
// restart each component switch it to them.
func Binaries() phases.Phase {
	return phases.Phase{
		Name:     PhaseBinaries,
		Short:    "put etcd, etcdctl and the 6 Kubernetes binaries into their release dir",
		Precious: true,
		After:    []phases.Name{PhasePreflight},
		Inputs: func(c *phases.Context) (any, error) {
			b := c.Config.Binaries
			return []string{c.Config.KubernetesVersion, c.Config.EtcdVersion, b.Source, b.InstallDir, b.Dir, b.DownloadURL, b.EtcdDownloadURL}, nil
		},
		Start: func(c *phases.Context) error {
			if c.Config.Runtime.Source == "build" && binaries.CheckCgoTools() != nil {
				// runc's build (here, or in the runtime phase) compiles with cgo
				if err := ensurePackages(c, runtime.Exec(c, c.Config), binaries.RuncBuildPackages); err != nil {
					return err
				}
			}
			paths, err := binaries.Install(c, c.Root, c.Config, c.Out())
			c.Track(paths...)
			return err
		},
		Plan: func(c *phases.Context) []string {
			return []string{fmt.Sprintf("put %d binaries into %s (source: %s)", len(binaries.Names), binaries.ReleaseDir(c.Config), c.Config.Binaries.Source)}
		},
	}
}

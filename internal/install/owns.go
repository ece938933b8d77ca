package install

import (
	"path"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/runtime"
	"github.com/k8s-single/k8s-single/internal/units"
)

// ownedDirs are the directories k8s-single alone writes into.
var ownedDirs = []string{layout.KubernetesDir, "/opt/kubernetes", layout.KubeletDir, layout.KubeProxyDir,
	layout.StateDir, path.Dir(ConfigPath)}

// Owns reports whether reset may delete hostPath: a path inside the
// directories k8s-single owns or etcd's data dir, one of the binaries in
// binaries.installDir (k8s-single itself included) or its release dirs, or one of the few files
// it writes into the system's directories (its units and timer, the CNI
// conflist, containerd's config, its sysctl file, and its containerd's unit,
// binaries and CNI plugins). A journal naming anything else was edited or
// damaged.
func Owns(c *config.Cluster, hostPath string) bool {
	inside := func(dir string) bool { return hostPath == dir || strings.HasPrefix(hostPath, dir+"/") }
	if slices.ContainsFunc(ownedDirs, inside) || inside(c.Etcd.DataDir) {
		return true
	}
	if inside(binaries.VersionsDir(c)) {
		return true
	}
	if path.Dir(hostPath) == c.Binaries.InstallDir && slices.Contains(slices.Concat(binaries.Names, []string{units.Self}), path.Base(hostPath)) {
		return true
	}
	system := []string{runtime.ContainerdConfig, runtime.SysctlConf, runtime.CNIConflist,
		path.Join(layout.UnitDir, units.CertsRenewalUnit+".service"), path.Join(layout.UnitDir, units.CertsRenewalUnit+".timer"),
		path.Join(layout.UnitDir, units.BootCheckUnit+".service"),
		path.Join(layout.UnitDir, units.BackupUnit+".service"), path.Join(layout.UnitDir, units.BackupUnit+".timer")}
	for _, comp := range units.Components(c, units.Host{}) {
		system = append(system, layout.Unit(comp.Name))
	}
	// whatever runtime.source is now: the journal may be of a node that ran
	// k8s-single's runtime before the config moved to Debian's
	system = append(system, layout.Unit(units.ContainerdUnit))
	for _, name := range binaries.RuntimeNames {
		system = append(system, binaries.RuntimeDest(c, name))
	}
	return slices.Contains(system, hostPath)
}

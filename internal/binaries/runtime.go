package binaries

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/gobuild"
)

// The container runtime's binaries, when runtime.source is build or dir:
// containerd, its runc shim and ctr from containerd's module, runc, and the
// CNI plugins the pod network uses (the conflist's bridge, host-local and
// portmap, and loopback, which containerd adds to every pod). A CNI plugin's
// name is its path under a binaries directory: cni/bridge.
var (
	containerdNames = []string{"containerd", "containerd-shim-runc-v2", "ctr"}
	runcNames       = []string{"runc"}
	cniNames        = []string{"cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"}
	// RuntimeNames are every runtime binary, in the order they are checked.
	RuntimeNames = slices.Concat(containerdNames, runcNames, cniNames)
)

// CNIBinDir is where the CNI plugins of a source-built runtime are installed,
// the CNI project's conventional place (Debian's own are in /usr/lib/cni).
const CNIBinDir = "/opt/cni/bin"

// RuntimeDest is the host path a runtime binary is installed at: the CNI
// plugins in CNIBinDir, the others in binaries.installDir.
func RuntimeDest(c *config.Cluster, name string) string {
	if plugin, ok := strings.CutPrefix(name, "cni/"); ok {
		return path.Join(CNIBinDir, plugin)
	}
	return path.Join(c.Binaries.InstallDir, name)
}

// runtimeProbes say how each runtime binary reports its version. A CNI
// plugin run without CNI_COMMAND prints its "about" line (v1.10.0 exits 0;
// the skeleton's exit status there is not a promise), so its probe accepts
// any exit.
var runtimeProbes = func() map[string]probe {
	containerd := func(c *config.Cluster) string { return c.Runtime.ContainerdVersion }
	cni := func(c *config.Cluster) string { return c.Runtime.CNIPluginsVersion }
	m := map[string]probe{
		"containerd":              {args: []string{"--version"}, prefix: "containerd github.com/containerd/containerd/v2 ", want: containerd},
		"containerd-shim-runc-v2": {args: []string{"-v"}, prefix: "Version:", want: containerd},
		"ctr":                     {args: []string{"--version"}, prefix: "ctr github.com/containerd/containerd/v2 ", want: containerd},
		"runc":                    {args: []string{"--version"}, prefix: "runc version ", want: func(c *config.Cluster) string { return strings.TrimPrefix(c.Runtime.RuncVersion, "v") }},
	}
	for _, n := range cniNames {
		m[n] = probe{prefix: "CNI " + path.Base(n) + " plugin ", want: cni, anyExit: true}
	}
	return m
}()

// CheckRuntimeVersions runs every runtime binary in dir (a directory laid out
// as RuntimeNames) and returns a *VersionError listing each that is missing
// or reports a version other than the config's.
func CheckRuntimeVersions(dir string, c *config.Cluster) error {
	return checkPaths(pathsIn(dir, RuntimeNames), c)
}

// runtimeGroups build containerd (static, no cgo, as its release does), runc
// (cgo for libseccomp, linked statically as its release is: it then runs on
// any machine) and the CNI plugins, each in its own wrapper module.
func runtimeGroups(c *config.Cluster, cacheDir string) []group {
	rt := c.Runtime
	containerdTargets := []string{"-o", "bin/"}
	for _, n := range containerdNames {
		containerdTargets = append(containerdTargets, "github.com/containerd/containerd/v2/cmd/"+n)
	}
	cniTargets := []string{"-o", "bin/cni/"}
	for _, n := range cniNames {
		cniTargets = append(cniTargets, "github.com/containernetworking/plugins/plugins/"+cniPackage[n])
	}
	return []group{
		requireGroup("containerd", rt.ContainerdVersion, "github.com/containerd/containerd/v2", cacheDir,
			"-s -w -X github.com/containerd/containerd/v2/version.Version="+rt.ContainerdVersion,
			goBuild{names: containerdNames, targets: containerdTargets}),
		requireGroup("runc", rt.RuncVersion, "github.com/opencontainers/runc", cacheDir,
			"-s -w -X main.version="+strings.TrimPrefix(rt.RuncVersion, "v")+" -linkmode external -extldflags -static-pie",
			goBuild{names: runcNames, cgo: true, targets: []string{"-buildmode=pie",
				"-tags", "seccomp urfave_cli_no_docs netgo osusergo", "-o", "bin/runc", "github.com/opencontainers/runc"}}),
		requireGroup("cni-plugins", rt.CNIPluginsVersion, "github.com/containernetworking/plugins", cacheDir,
			"-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion="+rt.CNIPluginsVersion,
			goBuild{names: cniNames, targets: cniTargets}),
	}
}

// cniPackage is each plugin's package under the plugins module's plugins/.
var cniPackage = map[string]string{
	"cni/bridge":     "main/bridge",
	"cni/host-local": "ipam/host-local",
	"cni/loopback":   "main/loopback",
	"cni/portmap":    "meta/portmap",
}

// requireGroup is a group whose wrapper module only requires one module at
// a version and builds its commands.
func requireGroup(name, version, module, cacheDir, ldflags string, b goBuild) group {
	return group{
		label:    name + " " + version,
		cacheDir: cacheDir,
		workDir:  filepath.Join(cacheDir, "work", name+"-"+version),
		prepare: func(_ context.Context, dir string) (string, error) {
			if b.cgo {
				if err := CheckCgoTools(); err != nil {
					return "", err
				}
			}
			m := gobuild.GoMod{
				Module:  "k8s-single.local/" + name,
				Go:      gobuild.GoVersion,
				Require: []gobuild.ModVersion{{Path: module, Version: version}},
			}
			return ldflags, gobuild.WriteModule(dir, m.Format(), nil)
		},
		builds: []goBuild{b},
	}
}

// RuncBuildPackages are the Debian packages runc's build needs: a C compiler,
// pkg-config and libseccomp's headers and static library.
var RuncBuildPackages = []string{"gcc", "pkg-config", "libseccomp-dev"}

// seccompHeader is libseccomp's header, which runc's seccomp support compiles against.
const seccompHeader = "/usr/include/seccomp.h"

// CheckCgoTools says what to install when runc cannot be compiled here.
func CheckCgoTools() error {
	_, gccErr := exec.LookPath("gcc")
	_, pkgConfigErr := exec.LookPath("pkg-config")
	_, hdrErr := os.Stat(seccompHeader)
	if gccErr != nil || pkgConfigErr != nil || hdrErr != nil {
		return fmt.Errorf("runc is built with cgo against libseccomp: it needs gcc, pkg-config and %s "+
			"(apt-get install %s), or set runtime.source to dir or debian", seccompHeader, strings.Join(RuncBuildPackages, " "))
	}
	return nil
}

// RuntimeDir returns the directory holding the runtime's binaries (laid out
// as RuntimeNames) for runtime.source build (built into
// <cacheDir>/work/bin-runtime-..., warm in seconds) or dir (binaries.dir).
func RuntimeDir(ctx context.Context, c *config.Cluster, out io.Writer) (string, error) {
	switch c.Runtime.Source {
	case "dir":
		return c.Binaries.Dir, nil
	case "build":
		rt := c.Runtime
		dir := filepath.Join(c.Binaries.CacheDir, "work",
			"bin-runtime-containerd-"+rt.ContainerdVersion+"-runc-"+rt.RuncVersion+"-cni-"+rt.CNIPluginsVersion)
		return dir, buildRuntimeInto(ctx, c, dir, out)
	}
	return "", fmt.Errorf("runtime.source %q has no binaries directory: want build or dir", c.Runtime.Source)
}

// buildRuntimeInto builds the runtime's binaries (unless the cache holds
// them at the configured versions) and hard-links them into dir.
func buildRuntimeInto(ctx context.Context, c *config.Cluster, dir string, out io.Writer) error {
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("building containerd, runc and the CNI plugins needs the go command (Go %s or newer) on PATH (%w); "+
			"or set runtime.source to dir or debian", gobuild.GoVersion, err)
	}
	for _, g := range runtimeGroups(c, c.Binaries.CacheDir) {
		if err := g.ensure(ctx, c, out); err != nil {
			return err
		}
		if err := linkAll(g.bin(), dir, g.names()); err != nil {
			return err
		}
	}
	return nil
}

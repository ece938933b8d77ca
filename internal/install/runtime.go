package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/gobuild"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/runtime"
	"github.com/k8s-single/k8s-single/internal/units"
)

// criTimeout bounds the wait for containerd's CRI to answer.
const criTimeout = 90 * time.Second

// Runtime configures containerd, the CNI bridge and the kernel settings pods
// need, installs what is missing of Debian's containerd, runc, CNI plugins
// and node tools, restarts containerd and makes the sandbox image present
// (imported from runtime.imageBundle, else pulled).
func Runtime() phases.Phase {
	return phases.Phase{
		Name:  PhaseRuntime,
		Short: "install and configure containerd, the CNI bridge and sysctls; import images",
		// It reads nothing of etcd, the certificates or the control plane:
		// it runs beside them, and the node phase waits for it.
		After: []phases.Name{PhasePreflight},
		Inputs: func(c *phases.Context) (any, error) {
			fs, err := runtimeFiles(c.Config)
			if err != nil {
				return nil, err
			}
			bundle, err := bundleListing(c.Config.Runtime.ImageBundle)
			if err != nil {
				return nil, err
			}
			return struct {
				Files  map[string]string
				Bundle map[string]string
			}{fs.digests(), bundle}, nil
		},
		Render: func(c *phases.Context) error {
			fs, err := runtimeFiles(c.Config)
			if err != nil {
				return err
			}
			saved, err := backupContainerdConfig(c.Root)
			if err != nil {
				return fmt.Errorf("back up %s: %w", runtime.ContainerdConfig, err)
			}
			if saved {
				c.Printf("kept the existing %s in %s: reset puts it back", runtime.ContainerdConfig, containerdConfigBackup)
			}
			return fs.write(c)
		},
		Start:  startRuntime,
		Verify: verifyRuntime,
		Plan:   planRuntime,
		Undo:   undoRuntime,
	}
}

// runtimeFiles are containerd's config, the CNI conflist and the sysctl
// drop-in for this machine.
func runtimeFiles(c *config.Cluster) (files, error) {
	return runtime.Render(c, runtime.DetectHost(HostFacts(c).CgroupDriver))
}

// bundleListing identifies the bundle's tarballs by name, size and time, so
// a changed bundle re-runs the phase without hashing gigabytes.
func bundleListing(dir string) (map[string]string, error) {
	if dir == "" {
		return nil, nil
	}
	tars, err := images.BundleFiles(dir)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(tars))
	for _, p := range tars {
		if st, err := os.Stat(p); err == nil {
			m[filepath.Base(p)] = fmt.Sprintf("%d %s", st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano))
		}
	}
	return m, nil
}

// startRuntime installs missing packages, applies the sysctls (reporting
// those this machine will not take), restarts containerd on the new config,
// waits for its CRI and makes the sandbox image present.
func startRuntime(c *phases.Context) error {
	run := runtime.Exec(c)
	if err := ensurePackages(c, run); err != nil {
		return err
	}
	versions := runtime.Versions(run)
	for _, v := range versions {
		c.Printf("%s", v)
	}
	if err := c.WriteFile(layout.RuntimeVersions, []byte(strings.Join(versions, "\n")+"\n"), layout.ModePublic); err != nil {
		return err
	}
	for _, r := range runtime.ApplySysctls(c.Root.Path(runtime.ProcSys), c.Root.Path(runtime.Modprobe), run) {
		c.Printf("sysctl %s", r)
	}
	if err := rememberContainerdState(c); err != nil {
		return err
	}
	if err := startUnits(c, containerdUnit); err != nil {
		return err
	}
	if err := waitCRI(c, run); err != nil {
		return err
	}
	if dir := c.Config.Runtime.ImageBundle; dir != "" {
		start := time.Now()
		c.Printf("importing the image tarballs of %s into containerd", dir)
		if err := images.Import(c, dir, run); err != nil {
			return err
		}
		c.Printf("images imported in %s", time.Since(start).Round(time.Millisecond))
	}
	if err := ensureSandboxImage(c, run); err != nil {
		return err
	}
	return ensureAgentImage(c, run, images.AgentImage())
}

// ensureAgentImage makes the verify phase's workload image present. It is
// k8s-single's own, built from source it embeds, so no registry serves it:
// when no bundle brought it, it is built here with the Go toolchain (which the
// source build of the binaries needs too) under binaries.cacheDir and imported.
func ensureAgentImage(c *phases.Context, run runtime.Run, img images.Image) error {
	ok, err := runtime.HasImage(run, img.Ref)
	if err != nil || ok {
		return err
	}
	dir := filepath.Join(c.Config.Binaries.CacheDir, "agent-image")
	c.Printf("building the verify agent image %s from k8s-single's source (no registry serves it) in %s", img.Ref, dir)
	if _, err := images.Build(c, []images.Image{img}, dir, c.Config.Binaries.CacheDir, c.Out()); err != nil {
		return fmt.Errorf("build the verify agent image %s: %w\n"+
			"install Go %s or newer, or put the image into runtime.imageBundle (`k8s-single images build --out DIR` on a machine with Go)",
			img.Ref, err, gobuild.GoVersion)
	}
	return images.Import(c, dir, run)
}

// ensurePackages installs the runtime's Debian packages that are missing.
func ensurePackages(c *phases.Context, run runtime.Run) error {
	missing, err := runtime.MissingPackages(run, runtime.Packages)
	if err != nil || len(missing) == 0 {
		return err
	}
	c.Printf("installing Debian packages: %s (apt-get install -y)", strings.Join(missing, " "))
	start := time.Now()
	if err := runtime.InstallPackages(run, missing); err != nil {
		return err
	}
	c.Printf("installed in %s", time.Since(start).Round(time.Second))
	return nil
}

// waitCRI waits until containerd's CRI plugin is serving; a failure carries
// containerd's last log lines.
func waitCRI(c *phases.Context, run runtime.Run) error {
	took, err := waitUpTo("containerd's CRI (ctr plugins ls)", criTimeout).until(c, func(ctx context.Context) (bool, string, error) {
		return runtime.CRIReady(run)
	})
	if err != nil {
		return journalOf(c, "containerd.service", err)
	}
	c.Printf("containerd's CRI ok after %s", took.Round(time.Millisecond))
	return nil
}

// ensureSandboxImage pulls the sandbox image when neither the store nor a
// bundle has it; with a bundle, a missing image is the bundle's fault.
func ensureSandboxImage(c *phases.Context, run runtime.Run) error {
	ref := c.Config.Runtime.SandboxImage
	ok, err := runtime.HasImage(run, ref)
	if err != nil || ok {
		return err
	}
	if dir := c.Config.Runtime.ImageBundle; dir != "" {
		return fmt.Errorf("the image bundle %s has no sandbox image %s: rebuild it with `k8s-single images build --out %s`, "+
			"or set runtime.sandboxImage to an image it holds", dir, ref, dir)
	}
	c.Printf("pulling the sandbox image %s", ref)
	return runtime.PullImage(run, ref)
}

// verifyRuntime checks that the CRI serves, the sandbox image is present
// and no other CNI config takes precedence over ours.
func verifyRuntime(c *phases.Context) error {
	run := runtime.Exec(c)
	if err := waitCRI(c, run); err != nil {
		return err
	}
	ref := c.Config.Runtime.SandboxImage
	ok, err := runtime.HasImage(run, ref)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("the sandbox image %s is not in containerd (ctr -n %s images ls -q): set runtime.imageBundle to a bundle holding it, "+
			"or import it with ctr -n %s images import FILE", ref, images.Namespace, images.Namespace)
	}
	shadowing, err := runtime.ShadowingCNIConfigs(c.Root.Path(runtime.CNIConfDir))
	if err != nil {
		return err
	}
	if len(shadowing) > 0 {
		return fmt.Errorf("containerd uses only the first CNI config by name in %s, and %s come before %s: "+
			"move them out of %s (k8s-single never touches them) and run again",
			runtime.CNIConfDir, strings.Join(shadowing, ", "), filepath.Base(runtime.CNIConflist), runtime.CNIConfDir)
	}
	c.Printf("CRI ok, sandbox image %s present, pod network %s (%s) is containerd's CNI config",
		ref, runtime.CNINetwork, c.Config.Network.PodCIDR)
	return nil
}

// planRuntime is what a dry run says Start would do.
func planRuntime(c *phases.Context) []string {
	plan := []string{
		"install the missing ones of the Debian packages " + strings.Join(runtime.Packages, " "),
		"set the sysctls of " + runtime.SysctlConf + " in " + runtime.ProcSys,
		"enable and restart containerd.service, wait for its CRI",
	}
	if dir := c.Config.Runtime.ImageBundle; dir != "" {
		plan = append(plan, "import the image tarballs of "+dir+" into containerd")
	}
	return append(plan, "make sure the sandbox image "+c.Config.Runtime.SandboxImage+" is present",
		"make sure the verify agent image "+images.AgentImage().Ref+" is present (built from source when no bundle brings it)")
}

// rememberContainerdState records, before the runtime phase first enables
// containerd.service, whether it was enabled, so reset disables it only if
// k8s-single enabled it.
func rememberContainerdState(c *phases.Context) error {
	if exists(c.Root.Path(containerdUnitState)) {
		return nil
	}
	m, err := units.NewManager(c)
	if err != nil {
		return err
	}
	defer m.Close()
	state, err := m.UnitFileState(c, containerdUnit)
	if err != nil {
		return err
	}
	return recordContainerdState(c.Root, state)
}

// undoRuntime removes the pods' containers, network and leases, then stops
// and disables containerd if k8s-single enabled it (see cleanupRuntime).
// The config files go with the phase's files; Reset puts back a containerd
// config that was there before.
func undoRuntime(c *phases.Context) error {
	if !c.Root.IsSystem() {
		return nil
	}
	m, err := units.NewManager(c)
	if err != nil {
		return err
	}
	defer m.Close()
	return cleanupRuntime(c, c, c.Root, runtime.Exec(c), m, mountInfo)
}

// criSandboxes is where containerd's CRI mounts each sandbox's /dev/shm.
const criSandboxes = "/run/containerd/io.containerd.grpc.v1.cri/sandboxes"

// netnsDir is where the CRI pins the pods' network namespaces (cni-*).
const netnsDir = "/run/netns"

// cleanupRuntime kills and removes every container of containerd's k8s.io
// namespace, unmounts and removes the pods' network namespaces and shm
// mounts, deletes the cni0 bridge and host-local's leases, then stops and
// disables containerd.service unless it was enabled before k8s-single.
func cleanupRuntime(ctx context.Context, p printer, root host.Root, run runtime.Run, m units.Systemd, mountinfo string) error {
	var errs []error
	n, err := runtime.RemoveContainers(run)
	p.Printf("removed %d containers of containerd's %s namespace", n, images.Namespace)
	if err != nil {
		errs = append(errs, err)
	}
	netns, err := mountsUnder(mountinfo, root.Path(netnsDir))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	netns = slices.DeleteFunc(netns, func(p string) bool { return !strings.HasPrefix(filepath.Base(p), "cni-") })
	shm, err := mountsUnder(mountinfo, root.Path(criSandboxes))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	n, err = unmountAll(append(shm, netns...))
	if err != nil {
		errs = append(errs, err)
	}
	for _, ns := range netns {
		if err := os.Remove(ns); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if n > 0 {
		p.Printf("unmounted %d pod network namespaces and shm mounts", n)
	}
	if had, err := runtime.DeleteBridge(run); err != nil {
		errs = append(errs, err)
	} else if had {
		p.Printf("deleted the bridge %s", runtime.CNIBridge)
	}
	if err := os.RemoveAll(root.Path(runtime.CNIStateDir)); err != nil {
		errs = append(errs, err)
	}
	if wasEnabled(root) {
		p.Printf("leaving %s enabled and running: it was enabled before k8s-single", containerdUnit)
		return errors.Join(errs...)
	}
	p.Printf("stopping and disabling %s (k8s-single enabled it)", containerdUnit)
	if err := m.StopAndDisable(ctx, containerdUnit); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

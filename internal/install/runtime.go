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

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/gobuild"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/probe"
	"github.com/k8s-single/k8s-single/internal/runtime"
	"github.com/k8s-single/k8s-single/internal/units"
)

// criTimeout bounds the wait for containerd's CRI to answer.
const criTimeout = 90 * time.Second

// Runtime configures containerd, the CNI bridge and the kernel settings pods
// need, installs k8s-single's containerd, runc and CNI plugins (or Debian's,
// with runtime.source debian) and the node's tools, restarts containerd and
// makes the images the cluster runs present (imported from
// runtime.imageBundle, else as runtime.images says: pulled or built). A change of the runtime's versions (Debian's to k8s-single's
// included) re-runs it: containerd restarts on the new binaries with the
// pods left running, or goes back to the old ones.
func Runtime() phases.Phase {
	return phases.Phase{
		Name:  PhaseRuntime,
		Short: "install and configure containerd, the CNI bridge and sysctls; import images",
		// It reads nothing of etcd, the certificates or the control plane:
		// it runs beside them, and the node phase waits for it. It comes after
		// the binaries phase so that a cold source build of containerd never
		// runs at the same time as Kubernetes' (that phase builds both).
		After: []phases.Name{PhasePreflight, PhaseBinaries},
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
				Files   map[string]string
				Bundle  map[string]string
				Runtime []string
				Images  string
			}{fs.digests(), bundle, runtimeSource(c.Config), c.Config.Runtime.Images}, nil
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
// drop-in for this machine, and containerd's unit when the runtime is
// k8s-single's own.
func runtimeFiles(c *config.Cluster) (files, error) {
	fs, err := runtime.Render(c, runtime.DetectHost(HostFacts(c).CgroupDriver))
	if err != nil || runtime.FromDebian(c) {
		return fs, err
	}
	u, err := units.RenderContainerd(c)
	return append(fs, u), err
}

// runtimeSource identifies the runtime binaries the phase installs: the
// source and the versions and, for source dir, each file's size and time, so
// that a replaced binary re-runs the phase without hashing 100 MB.
func runtimeSource(c *config.Cluster) []string {
	rt := c.Runtime
	id := []string{rt.Source}
	if runtime.FromDebian(c) {
		return id
	}
	id = append(id, rt.ContainerdVersion, rt.RuncVersion, rt.CNIPluginsVersion)
	if rt.Source == "dir" {
		for _, name := range binaries.RuntimeNames {
			if st, err := os.Stat(filepath.Join(c.Binaries.Dir, name)); err == nil {
				id = append(id, fmt.Sprintf("%s %d %s", name, st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano)))
			}
		}
	}
	return id
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
	run := runtime.Exec(c, c.Config)
	if err := ensurePackages(c, run, runtime.Packages(c.Config)); err != nil {
		return err
	}
	installed, err := installRuntimeBinaries(c)
	if err != nil {
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
	if err := restartContainerd(c, run, installed); err != nil {
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
	return imageSupply(c, run).Ensure(c, images.Required(c.Config))
}

// installRuntimeBinaries puts k8s-single's containerd, runc and CNI plugins
// (built, or from binaries.dir) where the unit and containerd's config run
// them, after checking their versions, and returns their host paths. The
// running containerd keeps its old binary until restartContainerd; WriteFile
// keeps what it replaced, for a failed start to go back to.
func installRuntimeBinaries(c *phases.Context) ([]string, error) {
	if runtime.FromDebian(c.Config) {
		return nil, nil
	}
	dir, err := binaries.RuntimeDir(c, c.Config, c.Out())
	if err != nil {
		return nil, err
	}
	if err := binaries.CheckRuntimeVersions(dir, c.Config); err != nil {
		return nil, fmt.Errorf("runtime binaries in %s (runtime.source %s): %w", dir, c.Config.Runtime.Source, err)
	}
	var paths []string
	for _, name := range binaries.RuntimeNames {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return paths, err
		}
		dest := binaries.RuntimeDest(c.Config, name)
		if err := c.WriteFile(dest, data, layout.ModeBinary); err != nil {
			return paths, err
		}
		paths = append(paths, dest)
	}
	rt := c.Config.Runtime
	c.Printf("containerd %s, runc %s and CNI plugins %s (%s) in %s and %s",
		rt.ContainerdVersion, rt.RuncVersion, rt.CNIPluginsVersion, rt.Source, c.Config.Binaries.InstallDir, binaries.CNIBinDir)
	return paths, nil
}

// restartContainerd restarts containerd on its new config (and binaries)
// and waits for its CRI. Pods keep running: the unit's KillMode=process
// leaves their shims alone. When a containerd whose files this run replaced
// does not come up, the replaced files (binaries, config, unit) go back, the
// old containerd is started again and waited for, and the error names
// containerd with its log lines.
func restartContainerd(c *phases.Context, run runtime.Run, binaryPaths []string) error {
	kubeletWasActive := unitActive(c, kubeletUnit)
	err := startUnits(c, containerdUnit)
	if err == nil {
		err = waitCRI(c, run)
	}
	if err == nil {
		return waitKubeletBack(c, kubeletWasActive)
	}
	// The kubelet's unit requires containerd's: systemd restarted it with
	// containerd, and its start failed with containerd's.
	defer restartKubelet(c, kubeletWasActive)
	fs, rerr := runtimeFiles(c.Config)
	if rerr != nil {
		return errors.Join(err, rerr)
	}
	var paths []string
	for _, f := range fs {
		paths = append(paths, f.Path)
	}
	restored, rerr := c.Restore(append(paths, binaryPaths...)...)
	if rerr != nil || len(restored) == 0 {
		return errors.Join(err, rerr)
	}
	c.Printf("containerd did not come up on the new files: put back %d files it ran with before (%s)", len(restored), strings.Join(restored, " "))
	if rerr := startUnits(c, containerdUnit); rerr != nil {
		return errors.Join(err, fmt.Errorf("restart containerd on its previous files: %w", rerr))
	}
	if rerr := waitCRI(c, run); rerr != nil {
		return errors.Join(err, fmt.Errorf("containerd on its previous files: %w", rerr))
	}
	return fmt.Errorf("%w\ncontainerd runs again on the files it had before; fix the cause and run `k8s-single up` again", err)
}

// kubeletUnit is the node phase's kubelet, whose unit requires containerd's.
const kubeletUnit = "kubelet.service"

// unitActive reports whether a unit is active now; false when systemd cannot say.
func unitActive(c *phases.Context, unit string) bool {
	m, err := units.NewManager(c)
	if err != nil {
		return false
	}
	defer m.Close()
	state, err := m.ActiveState(c, unit)
	return err == nil && state == "active"
}

// kubeletHealthz is the kubelet's health endpoint (plain HTTP on loopback).
var kubeletHealthz = probe.Endpoint{Name: "kubelet /healthz", URL: fmt.Sprintf("http://127.0.0.1:%d/healthz", config.KubeletHealthzPort)}

// waitKubeletBack waits, when the kubelet was running, for it to be healthy
// again: its unit requires containerd's, so systemd restarted it with
// containerd, and the cluster is not up until it serves again.
func waitKubeletBack(c *phases.Context, wasActive bool) error {
	if !wasActive {
		return nil
	}
	c.Printf("%s restarted with containerd (its unit requires containerd's)", kubeletUnit)
	took, err := kubeletHealthz.WaitOK(c, healthTimeout, c.Out())
	if err != nil {
		return journalOf(c, kubeletUnit, err)
	}
	c.Printf("%s ok after %s", kubeletHealthz.Name, took.Round(time.Millisecond))
	return nil
}

// restartKubelet starts the kubelet again after containerd came back from a
// failed start, when it was running before: a containerd that failed took it
// down (Requires=), and no phase of the next up would start it.
func restartKubelet(c *phases.Context, wasActive bool) {
	if !wasActive || unitActive(c, kubeletUnit) {
		return
	}
	if err := startUnits(c, kubeletUnit); err != nil {
		c.Printf("the kubelet, stopped with the failed containerd, did not start again: %v", err)
	}
}

// imageSupply supplies missing images as runtime.images says: pulled with
// ctr, or built from source with the Go toolchain under binaries.cacheDir
// (into <cacheDir>/images, as `k8s-single images build` does) and imported.
func imageSupply(c *phases.Context, run runtime.Run) images.Supply {
	return images.Supply{
		Mode:    c.Config.Runtime.Images,
		Bundle:  c.Config.Runtime.ImageBundle,
		Present: func(ref string) (bool, error) { return runtime.HasImage(run, ref) },
		FromBundle: func(ref string) (bool, error) {
			file, err := images.BundleFileOf(c.Config.Runtime.ImageBundle, ref)
			if err != nil || file == "" {
				return false, err
			}
			c.Printf("importing %s from %s", ref, file)
			return true, images.ImportFiles(c, []string{file}, run)
		},
		Answers: images.RegistryAnswers,
		Pull:    func(ref string) error { return runtime.PullImage(run, ref) },
		Build: func(ctx context.Context, imgs []images.Image) error {
			dir := filepath.Join(c.Config.Binaries.CacheDir, "images")
			if _, err := images.Build(ctx, imgs, dir, c.Config.Binaries.CacheDir, c.Out()); err != nil {
				return fmt.Errorf("%w (Go %s or newer builds them)", err, gobuild.GoVersion)
			}
			files := make([]string, len(imgs))
			for i, img := range imgs {
				files[i] = filepath.Join(dir, img.File())
			}
			c.Printf("importing %d images built in %s", len(files), dir)
			return images.ImportFiles(ctx, files, run)
		},
		Printf: c.Printf,
	}
}

// ensurePackages installs those of the Debian packages pkgs that are missing.
func ensurePackages(c *phases.Context, run runtime.Run, pkgs []string) error {
	missing, err := runtime.MissingPackages(run, pkgs)
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

// verifyRuntime checks that the CRI serves, the sandbox image is present
// and no other CNI config takes precedence over ours.
func verifyRuntime(c *phases.Context) error {
	run := runtime.Exec(c, c.Config)
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
	plan := []string{"install the missing ones of the Debian packages " + strings.Join(runtime.Packages(c.Config), " ")}
	if !runtime.FromDebian(c.Config) {
		rt := c.Config.Runtime
		plan = append(plan, fmt.Sprintf("put containerd %s, runc %s (into %s) and the CNI plugins %s (into %s) from runtime.source %s",
			rt.ContainerdVersion, rt.RuncVersion, c.Config.Binaries.InstallDir, rt.CNIPluginsVersion, binaries.CNIBinDir, rt.Source))
	}
	plan = append(plan,
		"set the sysctls of "+runtime.SysctlConf+" in "+runtime.ProcSys,
		"enable and restart containerd.service, wait for its CRI")
	if dir := c.Config.Runtime.ImageBundle; dir != "" {
		plan = append(plan, "import the image tarballs of "+dir+" into containerd")
	}
	refs := []string{}
	for _, img := range images.Required(c.Config) {
		refs = append(refs, img.Ref)
	}
	return append(plan, "make sure the images "+strings.Join(refs, ", ")+" are present (runtime.images "+c.Config.Runtime.Images+": "+
		imagesModes[c.Config.Runtime.Images]+")")
}

// imagesModes says, for the plan, where each runtime.images mode takes a
// missing image from.
var imagesModes = map[string]string{
	config.ImagesAuto:   "pulled when its registry answers, else built from source",
	config.ImagesPull:   "pulled; k8s-single's own built from source",
	config.ImagesBundle: "from the bundle only",
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
	return cleanupRuntime(c, c, c.Root, runtime.Exec(c, c.Config), m, mountInfo)
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

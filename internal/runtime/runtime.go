// Package runtime owns the container runtime side of the node: containerd's
// config file, the CNI bridge network, the kernel settings pods need
// (forwarding, bridged traffic through iptables), and the host actions that
// bring them up: Debian packages, the CRI's health, the image bundle and the
// sandbox image.
//
// The runtime is either k8s-single's own (containerd 2, runc and the CNI
// plugins built from source by internal/binaries, run by k8s-single's
// containerd.service) or Debian's packages (runtime.source debian, run by
// Debian's unit).
//
// It renders files as bytes (callers write them through host.Root) and runs
// every command through a Run function, so tests assert the commands without
// running them. It must not touch any file in /etc/cni/net.d but its own, or
// start the kubelet.
package runtime

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/units"
)

// Host paths of the files this package renders, and of the directories
// containerd reads CNI from.
const (
	ContainerdConfig = "/etc/containerd/config.toml"
	CNIConfDir       = "/etc/cni/net.d"
	CNIConflist      = CNIConfDir + "/10-k8s-single.conflist"
	SysctlConf       = "/etc/sysctl.d/99-k8s-single.conf"
	// DebianCNIBinDir is where Debian's containernetworking-plugins are.
	DebianCNIBinDir = "/usr/lib/cni"
)

// FromDebian reports whether the node runs Debian's containerd, runc and CNI
// plugins (runtime.source debian) rather than the ones k8s-single installs.
func FromDebian(c *config.Cluster) bool { return c.Runtime.Source == "debian" }

// CNIBinDir is the directory containerd runs the CNI plugins from.
func CNIBinDir(c *config.Cluster) string {
	if FromDebian(c) {
		return DebianCNIBinDir
	}
	return binaries.CNIBinDir
}

// Host holds the facts about the machine containerd's config depends on.
type Host struct {
	// CgroupDriver is the kubelet's resolved cgroup driver (units.Host's):
	// runc must use the same, systemd or cgroupfs.
	CgroupDriver string
	// CapSysResource is true when this process (root) holds
	// CAP_SYS_RESOURCE. Without it no process may lower an oom_score_adj,
	// so containerd must clamp the values the kubelet asks for.
	CapSysResource bool
	// AppArmor is true when the kernel enforces AppArmor and
	// apparmor_parser is installed to load containerd's default profile.
	AppArmor bool
}

// capSysResource is CAP_SYS_RESOURCE's bit in /proc/<pid>/status CapEff.
const capSysResource = 24

// DetectHost reads the facts from the running machine; cgroupDriver is the
// kubelet's, already resolved from config's "auto".
func DetectHost(cgroupDriver string) Host {
	return detectHost("/", cgroupDriver)
}

// detectHost reads the facts under dir ("/" outside tests).
func detectHost(dir, cgroupDriver string) Host {
	at := func(p string) string { return filepath.Join(dir, p) }
	h := Host{CgroupDriver: cgroupDriver}
	if capEff, ok := statusField(at("/proc/self/status"), "CapEff"); ok {
		if bits, err := strconv.ParseUint(capEff, 16, 64); err == nil {
			h.CapSysResource = bits&(1<<capSysResource) != 0
		}
	}
	enabled, err := os.ReadFile(at("/sys/module/apparmor/parameters/enabled"))
	h.AppArmor = err == nil && bytes.HasPrefix(enabled, []byte("Y")) &&
		exists(at("/sys/kernel/security/apparmor")) &&
		(exists(at("/sbin/apparmor_parser")) || exists(at("/usr/sbin/apparmor_parser")))
	return h
}

// statusField returns a "Name:\tvalue" field of a /proc status file.
func statusField(path, name string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Render returns the three files of the runtime: containerd's config
// (0644), the CNI conflist (0600: CIS 1.1.9 asks it of CNI files; only
// containerd, as root, reads it) and the sysctl drop-in (0644).
func Render(c *config.Cluster, h Host) ([]units.File, error) {
	containerd, err := containerdConfig(c, h)
	if err != nil {
		return nil, err
	}
	cni, err := cniConflist(c.Network.PodCIDR)
	if err != nil {
		return nil, err
	}
	return []units.File{
		{Path: ContainerdConfig, Data: containerd, Mode: layout.ModePublic},
		{Path: CNIConflist, Data: cni, Mode: layout.ModePrivate},
		{Path: SysctlConf, Data: sysctlConf(), Mode: layout.ModePublic},
	}, nil
}

// Run runs a command and returns its standard output; its error names the
// command line and carries the command's standard error. Tests pass a fake.
type Run func(name string, args ...string) ([]byte, error)

// Exec returns the Run that executes commands on this machine, ended with
// ctx. The runtime's own commands (containerd, ctr, runc) run from where the
// config's runtime has them (Binary). Commands never prompt: their standard
// input is empty and Debian's tools are told so (DEBIAN_FRONTEND=noninteractive).
func Exec(ctx context.Context, c *config.Cluster) Run {
	return func(name string, args ...string) ([]byte, error) {
		cmdPath := name
		if slices.Contains(runtimeCommands, name) {
			cmdPath = installedBinary(c, name)
		}
		cmd := exec.CommandContext(ctx, cmdPath, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err == nil {
			return out, nil
		}
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return out, fmt.Errorf("%s: %w: %s", commandLine(name, args), err, msg)
		}
		return out, fmt.Errorf("%s: %w", commandLine(name, args), err)
	}
}

// runtimeCommands are the commands Exec runs from the runtime's install paths.
var runtimeCommands = []string{"containerd", "ctr", "runc"}

// installedBinary is the config's runtime command (Binary) when it is
// installed, else the other runtime's when that one is: before the runtime
// phase moves a node from Debian's containerd to k8s-single's (or back),
// the node has only the other one, and its ctr still talks to the running
// containerd.
func installedBinary(c *config.Cluster, name string) string {
	want := Binary(c, name)
	other := path.Join(debianBinDir, name)
	if FromDebian(c) {
		other = binaries.RuntimeDest(c, name)
	}
	if !exists(want) && exists(other) {
		return other
	}
	return want
}

func commandLine(name string, args []string) string {
	return strings.Join(append([]string{name}, args...), " ")
}

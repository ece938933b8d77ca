// Package runtime owns the container runtime side of the node: containerd's
// config file, the CNI bridge network, the kernel settings pods need
// (forwarding, bridged traffic through iptables), and the host actions that
// bring them up: Debian packages, the CRI's health, the image bundle and the
// sandbox image.
//
// It renders files as bytes (callers write them through host.Root) and runs
// every command through a Run function, so tests assert the commands without
// running them. It must not write containerd's unit (Debian's is used),
// touch any file in /etc/cni/net.d but its own, or start the kubelet.
package runtime

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

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
	CNIBinDir        = "/usr/lib/cni" // Debian's containernetworking-plugins
	SysctlConf       = "/etc/sysctl.d/99-k8s-single.conf"
)

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
// ctx. Commands never prompt: their standard input is empty and Debian's
// tools are told so (DEBIAN_FRONTEND=noninteractive).
func Exec(ctx context.Context) Run {
	return func(name string, args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, name, args...)
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

func commandLine(name string, args []string) string {
	return strings.Join(append([]string{name}, args...), " ")
}

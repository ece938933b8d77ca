package runtime

import (
	"errors"
	"fmt"
	"os/exec"
	"path"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/config"
)

// nodeTools are the Debian packages of the tools kube-proxy and the kubelet
// call (iptables, conntrack, socat for port-forward).
var nodeTools = []string{"iptables", "conntrack", "socat"}

// Packages are the Debian packages the node runs pods with: the node's
// tools, and Debian's containerd, runc and CNI plugins when the runtime is
// Debian's.
func Packages(c *config.Cluster) []string {
	if FromDebian(c) {
		return append([]string{"containerd", "runc", "containernetworking-plugins"}, nodeTools...)
	}
	return nodeTools
}

// MissingPackages asks dpkg which of pkgs are not installed.
func MissingPackages(run Run, pkgs []string) ([]string, error) {
	// dpkg-query exits 1 when a package is unknown but still lists the
	// others, so its output is read whatever the exit status.
	out, err := run("dpkg-query", append([]string{"-W", "-f=${Package} ${db:Status-Abbrev}\n"}, pkgs...)...)
	if errors.Is(err, exec.ErrNotFound) {
		return nil, fmt.Errorf("dpkg-query not found: k8s-single installs packages on Debian; install %s yourself and run again", strings.Join(pkgs, " "))
	}
	installed := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[1] == "ii" {
			installed[strings.SplitN(f[0], ":", 2)[0]] = true // "containerd:amd64"
		}
	}
	var missing []string
	for _, p := range pkgs {
		if !installed[p] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// aptInstall is apt-get install without questions. The runtime phase writes
// /etc/containerd/config.toml before containerd is installed, and that file
// is a conffile of Debian's package: dpkg must keep ours (--force-confold)
// instead of stopping at a question nobody can answer.
var aptInstall = []string{"install", "-y", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"}

// InstallPackages runs apt-get install -y for pkgs, keeping the config
// files already on the machine.
func InstallPackages(run Run, pkgs []string) error {
	_, err := run("apt-get", append(slices.Clone(aptInstall), pkgs...)...)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("apt-get not found: install %s yourself and run again", strings.Join(pkgs, " "))
	case err != nil:
		return fmt.Errorf("install Debian packages %s: %w\nrun apt-get update (or point apt at a reachable mirror) and run again", strings.Join(pkgs, " "), err)
	}
	return nil
}

// Versions returns the first line of containerd --version and runc --version
// (run by Exec: the ones the node runs), or why it could not be read.
func Versions(run Run) []string {
	var out []string
	for _, bin := range []string{"containerd", "runc"} {
		v, err := run(bin, "--version")
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		line, _, _ := strings.Cut(strings.TrimSpace(string(v)), "\n")
		out = append(out, line)
	}
	return out
}

// debianBinDir is where Debian's containerd package puts its commands.
const debianBinDir = "/usr/bin"

// Binary is the path of one of the runtime's commands (containerd, ctr,
// runc): Debian's in /usr/bin, or k8s-single's in binaries.installDir.
func Binary(c *config.Cluster, name string) string {
	if FromDebian(c) {
		return path.Join(debianBinDir, name)
	}
	return binaries.RuntimeDest(c, name)
}

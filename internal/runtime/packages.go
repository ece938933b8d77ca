package runtime

import (
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Packages are the Debian packages the node runs pods with: the runtime,
// the CNI plugins, and the tools kube-proxy and the kubelet call (iptables,
// conntrack, socat for port-forward).
var Packages = []string{"containerd", "runc", "containernetworking-plugins", "iptables", "conntrack", "socat"}

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

// Versions returns the first line of containerd --version and runc --version,
// or why it could not be read.
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

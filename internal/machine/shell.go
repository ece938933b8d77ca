package machine

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
)

// Command is a command run inside a running machine (as root, in all its
// namespaces, with the cluster's kubeconfig and binaries at hand); no
// arguments is a login shell.
func (m *Machine) Command(args ...string) (*exec.Cmd, error) {
	leader := m.Leader()
	if leader == 0 {
		return nil, fmt.Errorf("machine %s does not run; start it with: k8s-single machine up --name %s", m.Name, m.Name)
	}
	if len(args) == 0 {
		args = []string{"/bin/bash", "-l"}
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, fmt.Errorf("nsenter (util-linux) is needed to enter the machine: %w", err)
	}
	cmd := exec.Command(nsenter, append([]string{"-t", strconv.Itoa(leader), "-a", "--", "/usr/bin/env", "-i",
		"HOME=/root", "TERM=" + os.Getenv("TERM"), "KUBECONFIG=/etc/kubernetes/admin.conf",
		"PATH=/opt/kubernetes/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd, nil
}

// Shell replaces this process with a command inside the machine.
func (m *Machine) Shell(args ...string) error {
	cmd, err := m.Command(args...)
	if err != nil {
		return err
	}
	return syscall.Exec(cmd.Path, cmd.Args, os.Environ())
}

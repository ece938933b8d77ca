package machine

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Down stops a machine: its port forwarder, then the machine itself (a
// clean poweroff, killed after wait), leaving nothing of it running on the
// host: no process, cgroup, mount or nspawn state. purge also removes its
// directory (rootfs and cluster) and its host kubeconfig.
func Down(name string, purge bool, wait time.Duration, out io.Writer) error {
	m, err := Load(name)
	if err != nil {
		return err
	}
	if m.ForwarderPID > 0 && alive(m.ForwarderPID) {
		syscall.Kill(m.ForwarderPID, syscall.SIGTERM)
	}
	if m.Running() {
		fmt.Fprintf(out, "powering machine %s off (up to %s)\n", m.Name, wait)
	}
	start := time.Now()
	if err := stop(m, wait); err != nil {
		return err
	}
	m.NspawnPID, m.ForwarderPID = 0, 0
	if !purge {
		if err := m.save(); err != nil {
			return err
		}
		fmt.Fprintf(out, "machine %s stopped in %s; its disk stays in %s (k8s-single machine up --name %s boots it again, down --purge removes it)\n",
			m.Name, time.Since(start).Round(100*time.Millisecond), m.Dir(), m.Name)
		return nil
	}
	if err := os.RemoveAll(m.Dir()); err != nil {
		return fmt.Errorf("remove %s: %w", m.Dir(), err)
	}
	if m.Kubeconfig != "" {
		os.Remove(m.Kubeconfig)
	}
	fmt.Fprintf(out, "machine %s stopped and removed (%s%s)\n", m.Name, m.Dir(), map[bool]string{true: ", " + m.Kubeconfig}[m.Kubeconfig != ""])
	return nil
}

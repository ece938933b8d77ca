package machine

import (
	"fmt"
	"strings"
)

// Status is what `machine status` shows of one machine.
type Status struct {
	Name        string `json:"name"`
	State       string `json:"state"`
	NodeAddress string `json:"nodeAddress"`
	APIServer   string `json:"apiServer"`
	Dashboard   string `json:"dashboard,omitempty"`
	Kubeconfig  string `json:"kubeconfig,omitempty"`
	Dir         string `json:"dir"`
}

// Statuses is the status of several machines.
type Statuses []Status

// StatusOf reports a machine's state: running (with its forwarder alive),
// running without a forwarder, or stopped.
func StatusOf(m *Machine) Status {
	s := Status{Name: m.Name, State: "stopped", NodeAddress: m.NodeAddress, Dir: m.Dir(), Kubeconfig: m.Kubeconfig,
		APIServer: "https://" + loopback(m.APIPort)}
	if m.DashboardNodePort != 0 {
		s.Dashboard = "https://" + loopback(m.DashboardPort) + "/"
	}
	if m.Running() {
		s.State = "running"
		if m.ForwarderPID == 0 || !alive(m.ForwarderPID) {
			s.State = "running, no port forward (k8s-single machine down, then up, restarts it)"
		}
	}
	return s
}

// Table implements printer.Tabular.
func (ss Statuses) Table() ([]string, [][]string) {
	var rows [][]string
	for _, s := range ss {
		rows = append(rows, []string{s.Name, s.State, s.NodeAddress, s.APIServer, dash(s.Dashboard), dash(s.Kubeconfig)})
	}
	return []string{"MACHINE", "STATE", "NODE", "API SERVER", "DASHBOARD", "KUBECONFIG"}, rows
}

// Lines implements printer.Liner.
func (ss Statuses) Lines() []string {
	var ls []string
	for _, s := range ss {
		ls = append(ls, fmt.Sprintf("%s: %s", s.Name, strings.SplitN(s.State, " ", 2)[0]))
	}
	return ls
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Summary is what `machine up` prints last: how to reach the machine's
// cluster from the host.
func Summary(m *Machine) string {
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "  %-11s  %s\n", k, v) }
	down := "k8s-single machine down --name " + m.Name + "   (--purge also removes its disk)"
	if m.NoUp {
		fmt.Fprintf(&b, "\nMachine %s runs, without a cluster yet (--no-up; systemd-nspawn, node %s inside).\n", m.Name, m.NodeAddress)
		row("up", "k8s-single machine shell --name "+m.Name+" -- k8s-single up   (config: "+clusterConfig+")")
		row("API server", "https://"+loopback(m.APIPort)+" once the cluster is up (the host's loopback, forwarded)")
		row("down", down)
		return b.String()
	}
	fmt.Fprintf(&b, "\nMachine %s runs a verified single-node cluster (systemd-nspawn; node %s inside).\n", m.Name, m.NodeAddress)
	row("API server", "https://"+loopback(m.APIPort)+" (the host's loopback, forwarded into the machine)")
	row("kubeconfig", m.Kubeconfig+"   export KUBECONFIG="+m.Kubeconfig)
	row("kubectl", m.BinariesDir+"/kubectl --kubeconfig "+m.Kubeconfig+" get nodes")
	if m.DashboardNodePort != 0 {
		row("dashboard", "https://"+loopback(m.DashboardPort)+"/   log in with: k8s-single machine shell --name "+m.Name+" -- k8s-single dashboard token")
	}
	row("shell", "k8s-single machine shell --name "+m.Name+"   (root inside; kubectl, k8s-single status)")
	row("status", "k8s-single machine status --name "+m.Name)
	row("down", down)
	return b.String()
}

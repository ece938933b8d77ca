package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/poll"
)

// CNIBridge is the bridge the CNI conflist creates for the pod network.
const CNIBridge = "cni0"

// CNIStateDir is where host-local keeps the leases of the pod network.
const CNIStateDir = "/var/lib/cni/networks/" + CNINetwork

// RemoveContainers stops and removes every task and container in the CRI's
// namespace (the kubelet's pods, sandboxes included): `ctr tasks kill -s
// SIGKILL`, `ctr tasks delete -f`, then `ctr containers delete`. It returns
// how many containers it removed. A containerd that does not answer has
// nothing to remove, and is not an error.
func RemoveContainers(run Run) (int, error) {
	out, err := ctrQuery(run, "containers", "ls", "-q")
	if err != nil {
		return 0, nil
	}
	containers := strings.Fields(string(out))
	out, err = ctrQuery(run, "tasks", "ls", "-q")
	if err != nil {
		return 0, fmt.Errorf("list containerd's tasks: %w", err)
	}
	var errs []error
	for _, id := range strings.Fields(string(out)) {
		// The kill may race a task that exits by itself; delete -f is what counts.
		_, _ = ctr(run, "tasks", "kill", "-s", "SIGKILL", id)
		if _, err := ctr(run, "tasks", "delete", "-f", id); err != nil && !gone(err) {
			// delete -f kills through runc, which fails once the task has
			// exited (from the SIGKILL) and its cgroup is gone; a plain
			// delete removes an exited task.
			if err2 := deleteExited(run, id); err2 != nil {
				errs = append(errs, fmt.Errorf("%w; then %w", err, err2))
			}
		}
	}
	removed := 0
	for _, id := range containers {
		if _, err := ctr(run, "containers", "delete", id); err != nil && !gone(err) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// exitWait and exitPoll bound how long deleteExited waits for a killed task to exit.
const (
	exitWait = 3 * time.Second
	exitPoll = 300 * time.Millisecond
)

// deleteExited deletes task id without force, polling until it has exited.
func deleteExited(run Run, id string) error {
	var last error
	_, err := poll.Wait{What: "task " + id + " to exit", Timeout: exitWait, Interval: exitPoll,
		Expired: func(string) error { return last },
	}.Until(context.Background(), func(context.Context) (bool, string, error) {
		_, last = ctr(run, "tasks", "delete", id)
		return last == nil || gone(last), "", nil
	})
	return err
}

// gone reports a ctr error saying the task or container no longer exists:
// it exited and was cleaned up between the listing and the delete.
func gone(err error) bool { return strings.Contains(err.Error(), "not found") }

// DeleteBridge deletes the pod network's bridge, if present (`ip link
// delete cni0`). It reports whether there was one.
func DeleteBridge(run Run) (bool, error) {
	if _, err := run("ip", "link", "show", CNIBridge); err != nil {
		return false, nil
	}
	if _, err := run("ip", "link", "delete", CNIBridge); err != nil {
		return true, err
	}
	return true, nil
}

// RemoveKubeChains removes the KUBE-* chains the kubelet and kube-proxy
// left in every table of iptables and ip6tables (what `kube-proxy
// --cleanup` does not: the kubelet's canaries and firewall): first the rules
// of other chains that jump to them, then their rules, then the chains. It
// returns how many chains it removed; a missing iptables is no error.
func RemoveKubeChains(run Run) (int, error) {
	removed := 0
	var errs []error
	for _, bin := range []string{"iptables", "ip6tables"} {
		out, err := run(bin + "-save")
		if err != nil {
			continue
		}
		n, err := removeKubeChains(run, bin, string(out))
		removed += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// removeKubeChains removes the KUBE-* chains of one iptables-save dump.
func removeKubeChains(run Run, bin, dump string) (int, error) {
	type jump struct {
		table, chain string
		index        int
	}
	var (
		table  string
		tables []string
		chains = map[string][]string{}
		jumps  []jump
		count  = map[[2]string]int{}
	)
	for _, line := range strings.Split(dump, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			table = strings.TrimPrefix(line, "*")
		case strings.HasPrefix(line, ":KUBE-"):
			name, _, _ := strings.Cut(line[1:], " ")
			if len(chains[table]) == 0 {
				tables = append(tables, table)
			}
			chains[table] = append(chains[table], name)
		case strings.HasPrefix(line, "-A "):
			f := strings.Fields(line)
			key := [2]string{table, f[1]}
			count[key]++
			if strings.HasPrefix(f[1], "KUBE-") {
				continue
			}
			for i := 2; i+1 < len(f); i++ {
				if (f[i] == "-j" || f[i] == "-g") && strings.HasPrefix(f[i+1], "KUBE-") {
					jumps = append(jumps, jump{table, f[1], count[key]})
					break
				}
			}
		}
	}
	var errs []error
	// Backwards, so a deleted rule does not renumber the next one to delete.
	for i := len(jumps) - 1; i >= 0; i-- {
		j := jumps[i]
		if _, err := run(bin, "-w", "-t", j.table, "-D", j.chain, fmt.Sprint(j.index)); err != nil {
			errs = append(errs, err)
		}
	}
	removed := 0
	for _, t := range tables {
		for _, c := range chains[t] {
			if _, err := run(bin, "-w", "-t", t, "-F", c); err != nil {
				errs = append(errs, err)
			}
		}
		for _, c := range chains[t] {
			if _, err := run(bin, "-w", "-t", t, "-X", c); err != nil {
				errs = append(errs, err)
				continue
			}
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

package machine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-single/k8s-single/internal/poll"
)

// cgroupDirs are the dirs named name below this process's cgroup in every
// mounted cgroup hierarchy (v1 controllers, named ones, or the v2 tree).
// The machine's processes live there, so that systemd and the kubelet
// inside make their cgroups below them and never at the host's roots.
func cgroupDirs(name string) ([]string, error) {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrl, path := parts[1], parts[2]
		var h string
		switch {
		case ctrl == "" && exists("/sys/fs/cgroup/cgroup.controllers"):
			h = "/sys/fs/cgroup"
		case ctrl == "":
			h = "/sys/fs/cgroup/unified"
		case strings.HasPrefix(ctrl, "name="):
			h = "/sys/fs/cgroup/" + strings.TrimPrefix(ctrl, "name=")
		default:
			h = "/sys/fs/cgroup/" + ctrl
		}
		if st, err := os.Lstat(h); err != nil || !st.IsDir() || !exists(filepath.Join(h, "cgroup.procs")) {
			continue
		}
		dirs = append(dirs, filepath.Join(h, path, name))
	}
	return dirs, sc.Err()
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// supervisor is the shell that moves itself into the machine's cgroup dirs
// (cpuset ones get their parent's CPUs and memory nodes first), then runs
// systemd-nspawn ("$@") and boots it again when the machine rebooted itself
// (nspawn exits 133 then), as a VM comes back from a reboot. SIGTERM to it
// is passed to nspawn (a clean poweroff inside) and ends the loop.
const supervisor = `for d in $K8S_SINGLE_MACHINE_CGROUPS; do
	mkdir -p "$d" || exit 1
	if [ -e "$d/cpuset.cpus" ]; then
		cat "${d%/*}/cpuset.cpus" >"$d/cpuset.cpus"; cat "${d%/*}/cpuset.mems" >"$d/cpuset.mems"
	fi
	echo $$ >"$d/cgroup.procs" || exit 1
done
stopping=
trap 'stopping=1; kill -TERM $pid 2>/dev/null' TERM INT HUP
while :; do
	"$@" &
	pid=$!
	wait $pid
	rc=$?
	while kill -0 $pid 2>/dev/null; do wait $pid; rc=$?; done
	if [ -n "$stopping" ] || [ $rc -ne ` + rebootExit + ` ]; then exit $rc; fi
	echo "k8s-single machine: the machine rebooted itself: booting it again"
done`

// rebootExit is systemd-nspawn's exit code when the machine's systemd rebooted.
const rebootExit = "133"

// nspawnArgs is the machine's systemd-nspawn command line.
func nspawnArgs(m *Machine) []string {
	args := []string{"systemd-nspawn", "-D", m.Rootfs(), "--machine=" + m.Unit(),
		"--register=no", "--keep-unit", // no machined needed; the cgroups are the machine's own
		"--private-network",                           // the node address is inside; the host only forwards to it
		"--capability=CAP_SYSLOG", "--bind=/dev/kmsg", // the kubelet's OOM watcher reads /dev/kmsg
		"--system-call-filter=@keyring", // runc joins a session keyring
		"--bind-ro=" + m.BinariesDir + ":" + mountBinaries,
		"--resolv-conf=off", "--link-journal=no", "--console=read-only", "--kill-signal=SIGRTMIN+3"}
	if m.ImagesDir != "" {
		args = append(args, "--bind-ro="+m.ImagesDir+":"+mountImages)
	}
	for _, b := range m.Binds {
		args = append(args, b.arg())
	}
	return append(args, initPath)
}

// boot starts the machine's supervisor (see supervisor) in its own session
// and cgroups, its and nspawn's output into console.log, and records its PID.
func boot(m *Machine) error {
	dirs, err := cgroupDirs(m.Unit())
	if err != nil {
		return fmt.Errorf("read this process's cgroups: %w", err)
	}
	console, err := os.OpenFile(filepath.Join(m.Dir(), "console.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer console.Close()
	cmd := exec.Command("/bin/sh", append([]string{"-c", supervisor, "sh"}, nspawnArgs(m)...)...)
	cmd.Env = append(os.Environ(), "K8S_SINGLE_MACHINE_CGROUPS="+strings.Join(dirs, " "))
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start systemd-nspawn: %w", err)
	}
	m.NspawnPID, m.Cgroups = cmd.Process.Pid, dirs
	go cmd.Wait() // reaped while this process lives; init takes it after
	return m.save()
}

// waitLeader waits for the machine's PID 1 to exist.
func waitLeader(m *Machine, timeout time.Duration) error {
	_, err := poll.Wait{What: "the machine's PID 1", Timeout: timeout, Interval: 100 * time.Millisecond,
		Expired: func(string) error {
			return fmt.Errorf("the machine's PID 1 did not start within %s: %s", timeout, tail(filepath.Join(m.Dir(), "console.log"), 15))
		},
	}.Until(context.Background(), func(context.Context) (bool, string, error) {
		if !m.Running() {
			return false, "", fmt.Errorf("systemd-nspawn exited: %s", tail(filepath.Join(m.Dir(), "console.log"), 15))
		}
		return m.Leader() > 0, "", nil
	})
	return err
}

// stop powers the machine off (SIGTERM to systemd-nspawn is SIGRTMIN+3, a
// clean poweroff, inside), kills it after wait, kills what is left in its
// cgroups and removes them.
func stop(m *Machine, wait time.Duration) error {
	if m.Running() {
		syscall.Kill(m.NspawnPID, syscall.SIGTERM)
		poweredOff := func(context.Context) (bool, string, error) { return !m.Running(), "", nil }
		if _, err := (poll.Wait{Timeout: wait, Interval: 200 * time.Millisecond}).Until(context.Background(), poweredOff); err != nil {
			syscall.Kill(m.NspawnPID, syscall.SIGKILL)
		}
	}
	for i := 0; i < 40; i++ {
		pids := cgroupPIDs(m.Cgroups)
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
		time.Sleep(250 * time.Millisecond)
	}
	var left []string
	for _, d := range m.Cgroups {
		for i := 0; i < 20 && exists(d); i++ {
			removeCgroupTree(d)
			if exists(d) {
				time.Sleep(250 * time.Millisecond)
			}
		}
		if exists(d) {
			left = append(left, d)
		}
	}
	unmountUnder(m.Rootfs())
	// What systemd-nspawn keeps under /run while it runs, and leaves there
	// when it is killed: its dirs for the machine and the rootfs's lock.
	for _, d := range []string{"propagate", "unix-export"} {
		os.Remove(filepath.Join("/run/systemd/nspawn", d, m.Unit()))
	}
	var st syscall.Stat_t
	if syscall.Stat(m.Rootfs(), &st) == nil {
		os.Remove(fmt.Sprintf("/run/systemd/nspawn/locks/inode-%d:%d", st.Dev, st.Ino))
	}
	if len(left) > 0 {
		return fmt.Errorf("could not remove the machine's cgroups %s (processes left: %v)", strings.Join(left, " "), cgroupPIDs(m.Cgroups))
	}
	return nil
}

// cgroupPIDs lists the processes in the cgroup trees under dirs.
func cgroupPIDs(dirs []string) []int {
	seen := map[int]bool{}
	var pids []int
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || e.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(p)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeCgroupTree removes a cgroup dir and the dirs below it, deepest first.
func removeCgroupTree(d string) {
	var dirs []string
	filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		syscall.Rmdir(dirs[i])
	}
}

// unmountUnder lazily unmounts what is mounted below dir, deepest first
// (a killed machine can leave its mounts in the host's namespace).
func unmountUnder(dir string) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var points []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			points = append(points, f[4])
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	for _, p := range points {
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

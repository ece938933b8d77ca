// Package machine runs a whole single-node k8s-single cluster inside a
// systemd-nspawn machine, for a host that cannot take one itself (no systemd
// as PID 1, a CI runner, a container) or a user who wants to try k8s-single
// without touching the host: a cached Debian 12 rootfs, k8s-single and its
// inputs inside, `k8s-single up` run by the machine's own systemd, the
// apiserver and the dashboard forwarded to the host's loopback, and a host
// kubeconfig.
package machine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
)

// StateDir holds one directory per machine: its rootfs, its state file and
// its console log (a variable for tests only).
var StateDir = "/var/lib/k8s-single/machines"

// DefaultName is the machine `machine up` makes without --name.
const DefaultName = "k8s-single"

// Machine is one machine's state, kept in its directory as machine.json.
type Machine struct {
	// Name is the machine's name: the nspawn machine and the Node are named after it.
	Name string `json:"name"`
	// Index makes the machine's address and host ports its own.
	Index int `json:"index"`
	// NodeAddress is the node's IP inside the machine's private network.
	NodeAddress string `json:"nodeAddress"`
	// APIPort and DashboardPort are the host's loopback ports forwarded to
	// the apiserver and the dashboard inside.
	APIPort       int `json:"apiPort"`
	DashboardPort int `json:"dashboardPort"`
	// APIServerPort and DashboardNodePort are where they answer inside.
	APIServerPort     int `json:"apiServerPort"`
	DashboardNodePort int `json:"dashboardNodePort,omitempty"`
	// BinariesDir and ImagesDir are the host dirs bound read-only into the
	// machine: the binaries (binaries.dir) and the image bundle.
	BinariesDir string `json:"binariesDir"`
	ImagesDir   string `json:"imagesDir,omitempty"`
	// Binds are the user's host paths bound into the machine (--bind,
	// --bind-ro), set when it is made and kept for every boot.
	Binds []Bind `json:"binds,omitempty"`
	// NspawnPID is the machine's supervisor (the shell that runs
	// systemd-nspawn and boots it again after a reboot; the JSON name is
	// kept for machines made before it), ForwarderPID its port forwarder.
	NspawnPID    int `json:"nspawnPID,omitempty"`
	ForwarderPID int `json:"forwarderPID,omitempty"`
	// Cgroups are the dirs the machine's processes live under, one per
	// mounted cgroup hierarchy, removed when it stops.
	Cgroups []string `json:"cgroups,omitempty"`
	// NoUp marks a machine made without its `k8s-single up` at boot
	// (machine up --no-up): it boots to multi-user.target and waits for a
	// user, or a test, to drive k8s-single inside.
	NoUp bool `json:"noUp,omitempty"`
	// Kubeconfig is the host kubeconfig written for the machine.
	Kubeconfig string    `json:"kubeconfig,omitempty"`
	Created    time.Time `json:"created"`
}

// validName is what a machine name may be: a DNS label, since the Node is named after it.
var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// CheckName rejects a name that cannot name a machine and a Node.
func CheckName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("machine name %q: want lower-case letters, digits and '-', at most 32, starting and ending with a letter or digit (e.g. --name dev)", name)
	}
	return nil
}

// Dir is the machine's directory.
func (m *Machine) Dir() string { return filepath.Join(StateDir, m.Name) }

// Rootfs is the machine's root file system.
func (m *Machine) Rootfs() string { return filepath.Join(m.Dir(), "rootfs") }

// Path is a path inside the machine, as the host sees it.
func (m *Machine) Path(p string) string { return filepath.Join(m.Rootfs(), p) }

// Unit is the machine's name for systemd-nspawn (--machine).
func (m *Machine) Unit() string { return "k8s-single-" + m.Name }

// Running reports whether the machine's supervisor (and so the machine,
// or its boot again after a reboot) is alive.
func (m *Machine) Running() bool { return m.NspawnPID > 0 && alive(m.NspawnPID) }

// Leader is the machine's PID 1 as the host sees it: the first process
// below its supervisor (systemd-nspawn's child) in a PID namespace of its
// own (nspawn's short-lived outer child is not). It is 0 when the machine
// does not run, or is between a reboot and its boot again.
func (m *Machine) Leader() int {
	if !m.Running() {
		return 0
	}
	hostNS, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return 0
	}
	level := []int{m.NspawnPID}
	for range 3 { // supervisor -> systemd-nspawn -> PID 1
		var next []int
		for _, parent := range level {
			for _, pid := range children(parent) {
				if ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && ns != hostNS {
					return pid
				}
				next = append(next, pid)
			}
		}
		level = next
	}
	return 0
}

// children lists a process's child processes.
func children(pid int) []int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(data)) {
		if c, err := strconv.Atoi(f); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// Load reads the state of the machine name.
func Load(name string) (*Machine, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(StateDir, name, "machine.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, noMachine(name)
	}
	if err != nil {
		return nil, err
	}
	var m Machine
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("machine %s: %s: %w", name, filepath.Join(StateDir, name, "machine.json"), err)
	}
	return &m, nil
}

// noMachine is Load's error for a name no machine has; it is an
// fs.ErrNotExist.
type noMachine string

func (n noMachine) Error() string {
	return fmt.Sprintf("no machine %q (%s); make one with: k8s-single machine up --name %s", string(n), filepath.Join(StateDir, string(n)), string(n))
}

func (noMachine) Is(target error) bool { return target == fs.ErrNotExist }

// List reads every machine's state, by name.
func List() ([]*Machine, error) {
	entries, err := os.ReadDir(StateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []*Machine
	for _, e := range entries {
		if !e.IsDir() || CheckName(e.Name()) != nil {
			continue
		}
		if m, err := Load(e.Name()); err == nil {
			ms = append(ms, m)
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	return ms, nil
}

// save writes the machine's state atomically.
func (m *Machine) save() error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return host.WriteFileAtomic(filepath.Join(m.Dir(), "machine.json"), append(data, '\n'), 0o600, 0o700)
}

// alive reports whether a process exists (and is not a zombie).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] != 'Z'
	}
	return true
}

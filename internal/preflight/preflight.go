// Package preflight checks the host before anything is installed: each check
// reports what it found and, when it fails, the command that fixes it. It reads
// the host and never changes it.
package preflight

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

// Severity says whether a failed check stops the install.
type Severity string

// Severities: an Error stops a real install; a Warning never does.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Result is one check's verdict.
type Result struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Severity Severity `json:"severity"`
	Found    string   `json:"found"`
	Fix      string   `json:"fix,omitempty"`
}

// Report is every check's result.
type Report []Result

// Failed lists the checks that stop an install.
func (r Report) Failed() []Result {
	var out []Result
	for _, c := range r {
		if !c.OK && c.Severity == Error {
			out = append(out, c)
		}
	}
	return out
}

// Host is what the checks read; tests give a fake one.
type Host struct {
	// Root is where /proc, /sys and /run are read: "/" except in tests. It is
	// not --root: a dry run into a staging dir still checks the real machine.
	Root host.Root
	// PortsInUseByUs are ports the installed cluster itself holds (a re-run).
	PortsInUseByUs map[int]bool
	EUID           int
	LookPath       func(string) (string, error)
	Listen         func(network, addr string) (net.Listener, error)
	// InterfaceAddrs lists the addresses of the host's interfaces, as
	// net.InterfaceAddrs does.
	InterfaceAddrs func() ([]net.Addr, error)
}

// RealHost reads the running machine.
func RealHost() Host {
	return Host{Root: "/", EUID: os.Geteuid(), LookPath: exec.LookPath, Listen: net.Listen, InterfaceAddrs: net.InterfaceAddrs}
}

// ControlPlanePorts are the ports the single node's components listen on.
func ControlPlanePorts(c *config.Cluster) []int {
	return []int{c.APIServer.Port, c.Etcd.ClientPort, c.Etcd.PeerPort, config.KubeletPort, config.ControllerManagerPort, config.SchedulerPort}
}

// RequiredTools are commands the kubelet, kube-proxy and the runtime call.
var RequiredTools = []string{"iptables", "ip", "mount", "nsenter", "conntrack", "socat"}

// Run performs every check.
func Run(h Host, c *config.Cluster) Report {
	r := Report{
		check("running as root", Error, h.EUID == 0, "uid "+strconv.Itoa(h.EUID), "run k8s-single as root (sudo k8s-single up)"),
		systemdCheck(h.Root),
		swapCheck(h.Root),
		cgroupCheck(h.Root),
		memoryCheck(h.Root),
		sysctlCheck(h.Root, "net.ipv4.ip_forward", "1"),
		nodeAddressCheck(h, c.Node.Address),
	}
	r = append(r, diskChecks(h.Root, c.Etcd.DataDir)...)
	for _, p := range ControlPlanePorts(c) {
		r = append(r, portCheck(h, p))
	}
	// The runtime phase installs missing tools with apt-get; without it they
	// must be there before anything starts.
	sev, fix := Error, "install them: iptables iproute2 mount util-linux conntrack socat"
	if _, err := h.LookPath("apt-get"); err == nil {
		sev, fix = Warning, "the runtime phase installs it with apt-get (or: apt-get install -y iptables iproute2 mount util-linux conntrack socat)"
	}
	for _, t := range RequiredTools {
		_, err := h.LookPath(t)
		r = append(r, check("tool "+t, sev, err == nil, foundOrMissing(err), fix))
	}
	return r
}

func check(name string, sev Severity, ok bool, found, fix string) Result {
	if ok {
		fix = ""
	}
	return Result{Name: name, OK: ok, Severity: sev, Found: found, Fix: fix}
}

func foundOrMissing(err error) string {
	if err != nil {
		return "missing"
	}
	return "present"
}

func systemdCheck(root host.Root) Result {
	_, err := os.Stat(root.Path("/run/systemd/system"))
	return check("systemd is PID 1", Error, err == nil, foundOrMissing(err),
		"boot the machine with systemd (k8s-single runs its components as systemd units)")
}

func swapCheck(root host.Root) Result {
	n := countLines(root.Path("/proc/swaps")) - 1
	return check("swap off", Warning, n <= 0, fmt.Sprintf("%d swap devices", max(n, 0)),
		"swapoff -a and remove swap from /etc/fstab (the kubelet runs with failSwapOn)")
}

func cgroupCheck(root host.Root) Result {
	if _, err := os.Stat(root.Path("/sys/fs/cgroup/cgroup.controllers")); err == nil {
		return check("cgroups", Warning, true, "v2 (unified)", "")
	}
	if _, err := os.Stat(root.Path("/sys/fs/cgroup/memory")); err == nil {
		return check("cgroups", Warning, true, "v1 (kubelet runs with failCgroupV1: false)", "")
	}
	return check("cgroups", Error, false, "no cgroup hierarchy at /sys/fs/cgroup", "mount cgroup2 on /sys/fs/cgroup")
}

func memoryCheck(root host.Root) Result {
	kb := meminfo(root.Path("/proc/meminfo"), "MemTotal")
	return check("memory >= 2 GiB", Warning, kb >= 2*1024*1024, fmt.Sprintf("%d MiB", kb/1024), "give the VM at least 2 GiB of memory")
}

// Free space the node wants where its data grows: etcd's data dir holds a
// database of up to its 2 GiB quota and needs as much again to defragment
// or snapshot it; containerd's dir holds every image and writable layer.
const (
	etcdFreeGiB       = 4
	containerdFreeGiB = 10
	containerdDir     = "/var/lib/containerd"
)

// diskChecks warn when etcd's data dir or containerd's dir (or the nearest
// existing parent, before the install made them) has less free space than
// it needs: a full disk stops etcd (NOSPACE) and makes the kubelet evict.
func diskChecks(root host.Root, etcdDataDir string) []Result {
	return []Result{
		diskCheck(root, etcdDataDir, etcdFreeGiB, "etcd's database (up to its 2 GiB quota, and as much again to defragment or snapshot it)"),
		diskCheck(root, containerdDir, containerdFreeGiB, "the container images and writable layers"),
	}
}

func diskCheck(root host.Root, hostDir string, wantGiB uint64, what string) Result {
	d := FreeSpace(root, hostDir)
	free := d.Free / (1 << 30)
	return check(fmt.Sprintf("disk >= %d GiB free for %s", wantGiB, hostDir), Warning, free >= wantGiB,
		fmt.Sprintf("%d GiB free on the file system of %s", free, d.Dir),
		fmt.Sprintf("free space or grow the disk that holds %s: it holds %s", hostDir, what))
}

// Disk is the free space of the file system that holds a directory.
type Disk struct {
	// Dir is the directory measured: the one asked for, or its nearest
	// existing parent.
	Dir         string
	Free, Total uint64
}

// FreeSpace measures the file system of a host directory, or of its nearest
// existing parent when it does not exist yet.
func FreeSpace(root host.Root, hostDir string) Disk {
	var st syscall.Statfs_t
	dir := hostDir
	for dir != "/" && syscall.Statfs(root.Path(dir), &st) != nil {
		dir = path.Dir(dir)
	}
	if dir == "/" {
		_ = syscall.Statfs(root.Path(dir), &st)
	}
	return Disk{Dir: dir, Free: st.Bavail * uint64(st.Bsize), Total: st.Blocks * uint64(st.Bsize)}
}

// MemAvailableKiB is /proc/meminfo's MemAvailable (0 when unreadable).
func MemAvailableKiB(root host.Root) uint64 {
	return meminfo(root.Path("/proc/meminfo"), "MemAvailable")
}

func sysctlCheck(root host.Root, key, want string) Result {
	data, err := os.ReadFile(root.Path("/proc/sys/" + strings.ReplaceAll(key, ".", "/")))
	got := strings.TrimSpace(string(data))
	if err != nil {
		got = "unreadable"
	}
	return check("sysctl "+key+"="+want, Warning, got == want, got, "the runtime phase sets it in /etc/sysctl.d/99-k8s-single.conf")
}

// nodeAddressCheck: the apiserver advertises node.address and etcd listens
// on it, so it must be one of this host's addresses. Config validation cannot
// tell (it runs on dry-run trees, anywhere); this runs on the node.
func nodeAddressCheck(h Host, address string) Result {
	const name = "node.address on this host"
	addrs, err := h.InterfaceAddrs()
	if err != nil {
		return check(name, Error, false, "cannot list this host's addresses: "+err.Error(), "check the interfaces with ip address show")
	}
	want, _ := netip.ParseAddr(address) // validated by config
	var have []string
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a.String())
		switch {
		case err != nil || p.Addr().IsLoopback():
		case p.Addr().Unmap() == want.Unmap():
			return check(name, Error, true, address+" is on an interface", "")
		default:
			have = append(have, p.Addr().String())
		}
	}
	add := fmt.Sprintf("add %s to an interface (ip address add %s/<prefix length> dev <interface>)", address, address)
	if len(have) == 0 {
		return check(name, Error, false, address+" is not on this host; it has no address besides loopback", add)
	}
	list := strings.Join(have, ", ")
	return check(name, Error, false, address+" is not on this host; it has "+list, "set node.address to one of "+list+", or "+add)
}

func portCheck(h Host, port int) Result {
	name := fmt.Sprintf("port %d free", port)
	if h.PortsInUseByUs[port] {
		return check(name, Warning, true, "held by the installed cluster", "")
	}
	l, err := h.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return check(name, Error, false, "in use", fmt.Sprintf("stop what listens on %d (ss -ltnp 'sport = :%d')", port, port))
	}
	l.Close()
	return check(name, Error, true, "free", "")
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		n++
	}
	return n
}

func meminfo(path, key string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

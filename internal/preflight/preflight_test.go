package preflight

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

// fakeHost is a machine made of files in a temp dir, with chosen tools and
// busy ports: the checks' logic is tested here, the real machine in the smoke test.
func fakeHost(t *testing.T, files map[string]string, missingTools []string, busy map[int]bool) Host {
	root := t.TempDir()
	for p, data := range files {
		full := filepath.Join(root, p)
		os.MkdirAll(filepath.Dir(full), 0o755)
		os.WriteFile(full, []byte(data), 0o644)
	}
	return Host{
		Root: host.Root(root),
		EUID: 0,
		LookPath: func(name string) (string, error) {
			for _, m := range missingTools {
				if m == name {
					return "", errors.New("not found")
				}
			}
			return "/usr/sbin/" + name, nil
		},
		InterfaceAddrs: func() ([]net.Addr, error) { return ipNets(t, "127.0.0.1/8", "192.168.1.2/24"), nil },
		Listen: func(_, addr string) (net.Listener, error) {
			for port := range busy {
				if strings.HasSuffix(addr, ":"+strconv.Itoa(port)) {
					return nil, errors.New("address in use")
				}
			}
			return fakeListener{}, nil
		},
	}
}

// ipNets are interface addresses as net.InterfaceAddrs returns them.
func ipNets(t *testing.T, cidrs ...string) []net.Addr {
	var out []net.Addr
	for _, c := range cidrs {
		ip, n, err := net.ParseCIDR(c)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		out = append(out, n)
	}
	return out
}

type fakeListener struct{ net.Listener }

func (fakeListener) Close() error { return nil }

var healthy = map[string]string{
	"run/systemd/system/.keep":         "",
	"proc/swaps":                       "Filename Type Size Used Priority\n",
	"sys/fs/cgroup/cgroup.controllers": "cpu memory",
	"proc/meminfo":                     "MemTotal: 8000000 kB\n",
	"proc/sys/net/ipv4/ip_forward":     "1\n",
}

func find(r Report, name string) Result {
	for _, c := range r {
		if c.Name == name {
			return c
		}
	}
	return Result{}
}

func TestHealthyHostPasses(t *testing.T) {
	r := Run(fakeHost(t, healthy, nil, nil), config.Default(config.HostFacts{Hostname: "n", DefaultRouteAddress: "192.168.1.2"}))
	if f := r.Failed(); len(f) != 0 {
		t.Fatalf("failed checks on a healthy host: %+v", f)
	}
	if c := find(r, "cgroups"); c.Found != "v2 (unified)" {
		t.Errorf("cgroups found %q", c.Found)
	}
}

func TestEachProblemNamesItsFix(t *testing.T) {
	files := map[string]string{}
	for k, v := range healthy {
		files[k] = v
	}
	delete(files, "run/systemd/system/.keep")
	files["proc/swaps"] += "/swapfile file 1024 0 -2\n"
	h := fakeHost(t, files, []string{"conntrack", "apt-get"}, map[int]bool{6443: true})
	h.EUID = 1000
	r := Run(h, config.Default(config.HostFacts{Hostname: "n", DefaultRouteAddress: "192.168.1.2"}))
	for name, fix := range map[string]string{
		"running as root":  "sudo",
		"systemd is PID 1": "systemd",
		"swap off":         "swapoff -a",
		"port 6443 free":   "ss -ltnp",
		"tool conntrack":   "install them",
	} {
		c := find(r, name)
		if c.OK || !strings.Contains(c.Fix, fix) {
			t.Errorf("%s: ok=%v fix=%q, want a failure whose fix mentions %q", name, c.OK, c.Fix, fix)
		}
	}
	if n := len(r.Failed()); n != 4 {
		t.Errorf("%d blocking failures, want 4 (root, systemd, port, tool); swap is a warning", n)
	}
}

func TestPortsHeldByTheClusterAreNotConflicts(t *testing.T) {
	h := fakeHost(t, healthy, nil, map[int]bool{6443: true, 2379: true})
	h.PortsInUseByUs = map[int]bool{6443: true, 2379: true}
	r := Run(h, config.Default(config.HostFacts{Hostname: "n", DefaultRouteAddress: "192.168.1.2"}))
	if f := r.Failed(); len(f) != 0 {
		t.Errorf("re-run on an installed node failed: %+v", f)
	}
}

func TestMissingToolIsAWarningWhenAptCanInstallIt(t *testing.T) {
	r := Run(fakeHost(t, healthy, []string{"socat"}, nil), config.Default(config.HostFacts{Hostname: "n", DefaultRouteAddress: "192.168.1.2"}))
	if c := find(r, "tool socat"); c.OK || c.Severity != Warning || !strings.Contains(c.Fix, "runtime phase installs it") {
		t.Errorf("missing socat with apt-get present: %+v", c)
	}
}

// TestNodeAddressMustBeOnThisHost: node.address is one of this host's
// addresses; when it is not, the check shows the host's addresses and both fixes.
func TestNodeAddressMustBeOnThisHost(t *testing.T) {
	cases := []struct {
		name, address string
		have          []string
		err           error
		ok            bool
		found, fix    string // parts of Found and Fix
	}{
		{"on an interface", "192.168.1.2", []string{"127.0.0.1/8", "192.168.1.2/24", "fe80::1/64"}, nil, true, "192.168.1.2 is", ""},
		{"IPv6 on an interface", "fd00::10", []string{"127.0.0.1/8", "fd00::10/64"}, nil, true, "fd00::10 is", ""},
		{"elsewhere", "192.168.1.3", []string{"127.0.0.1/8", "10.0.2.15/24", "192.168.1.2/24", "::1/128"}, nil, false,
			"192.168.1.3 is not on this host; it has 10.0.2.15, 192.168.1.2",
			"set node.address to one of 10.0.2.15, 192.168.1.2, or add 192.168.1.3 to an interface (ip address add 192.168.1.3/<prefix length> dev <interface>)"},
		{"only loopback", "192.168.1.2", []string{"127.0.0.1/8", "::1/128"}, nil, false,
			"it has no address besides loopback", "add 192.168.1.2 to an interface"},
		{"interfaces unreadable", "192.168.1.2", nil, errors.New("netlink: permission denied"), false,
			"cannot list this host's addresses: netlink: permission denied", "ip address show"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := fakeHost(t, healthy, nil, nil)
			h.InterfaceAddrs = func() ([]net.Addr, error) { return ipNets(t, tc.have...), tc.err }
			c := config.Default(config.HostFacts{Hostname: "n", DefaultRouteAddress: "192.168.1.2"})
			c.Node.Address = tc.address
			got := find(Run(h, c), "node.address on this host")
			if got.Name == "" {
				t.Fatal("no node.address check in the report")
			}
			if got.OK != tc.ok || got.Severity != Error || !strings.Contains(got.Found, tc.found) || !strings.Contains(got.Fix, tc.fix) || (tc.ok && got.Fix != "") {
				t.Errorf("got %+v\nwant ok=%v, an error found with %q, fixed with %q", got, tc.ok, tc.found, tc.fix)
			}
		})
	}
}

// TestDiskChecks: etcd's data dir and containerd's dir are checked where
// they will live, through the nearest existing parent before the install
// made them, and name the directory, the free space and the fix.
func TestDiskChecks(t *testing.T) {
	root := host.Root(t.TempDir())
	results := diskChecks(root, "/var/lib/etcd")
	if len(results) != 2 {
		t.Fatalf("%d disk checks, want 2", len(results))
	}
	for i, want := range []string{"disk >= 4 GiB free for /var/lib/etcd", "disk >= 10 GiB free for /var/lib/containerd"} {
		r := results[i]
		if r.Name != want || r.Severity != Warning || !strings.Contains(r.Found, "GiB free on the file system of /") || (!r.OK && !strings.Contains(r.Fix, "grow the disk")) {
			t.Errorf("check %d = %+v, want %q naming the free space and the fix", i, r, want)
		}
	}
}

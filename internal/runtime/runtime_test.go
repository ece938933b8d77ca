package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	toml "github.com/pelletier/go-toml"

	"github.com/k8s-single/k8s-single/internal/config/configtest"
	"github.com/k8s-single/k8s-single/internal/golden"
)

// hosts are the two kinds of machine the project runs on: a systemd-nspawn
// container (root without CAP_SYS_RESOURCE, no AppArmor) and a VM.
var hosts = map[string]Host{
	"nspawn": {CgroupDriver: "systemd"},
	"vm":     {CgroupDriver: "systemd", CapSysResource: true, AppArmor: true},
}

func render(t *testing.T, h Host, source string) map[string][]byte {
	t.Helper()
	c := configtest.Cluster(t)
	c.Runtime.Source = source
	files, err := Render(c, h)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		// CIS 1.1.9: the CNI file 0600; the others are world-readable configs.
		want := os.FileMode(0o644)
		if f.Path == CNIConflist {
			want = 0o600
		}
		if f.Mode != want {
			t.Errorf("%s: mode %o, want %o", f.Path, f.Mode, want)
		}
		out[f.Path] = f.Data
	}
	if got, want := len(out), 3; got != want {
		t.Fatalf("%d files, want %d", got, want)
	}
	return out
}

func TestRenderGolden(t *testing.T) {
	for name, h := range hosts {
		for path, data := range render(t, h, "build") {
			golden.Check(t, filepath.Join("testdata", name, filepath.Base(path)), data)
		}
		debian := render(t, h, "debian")[ContainerdConfig]
		golden.Check(t, filepath.Join("testdata", name, "debian-"+filepath.Base(ContainerdConfig)), debian)
	}
}

// TestContainerdConfigToggles pins, independently of the golden files, the
// settings each host fact turns on or off, in both schemas: version 3 for
// k8s-single's containerd 2, version 2 for Debian's 1.6.
func TestContainerdConfigToggles(t *testing.T) {
	schemas := []struct {
		source  string
		version int64
		// cri, images and runtimes are the tables that hold the CRI's
		// settings, the sandbox image and the runc runtime.
		cri, images, runc []string
		sandbox           string
		cni               map[string]any
	}{
		{"build", 4,
			[]string{"plugins", "io.containerd.cri.v1.runtime"},
			[]string{"plugins", "io.containerd.cri.v1.images", "pinned_images"},
			[]string{"plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes", "runc", "options"},
			"sandbox",
			map[string]any{"bin_dirs": []any{"/opt/cni/bin"}, "conf_dir": "/etc/cni/net.d"}},
		{"debian", 2,
			[]string{"plugins", "io.containerd.grpc.v1.cri"},
			[]string{"plugins", "io.containerd.grpc.v1.cri"},
			[]string{"plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes", "runc", "options"},
			"sandbox_image",
			map[string]any{"bin_dir": "/usr/lib/cni", "conf_dir": "/etc/cni/net.d"}},
	}
	for _, schema := range schemas {
		for _, tc := range []struct {
			host                                   Host
			systemdCgroup, restrictOOM, noAppArmor bool
		}{
			{Host{CgroupDriver: "systemd"}, true, true, true},
			{Host{CgroupDriver: "cgroupfs", CapSysResource: true, AppArmor: true}, false, false, false},
			{Host{CgroupDriver: "systemd", CapSysResource: true}, true, false, true},
			{Host{CgroupDriver: "cgroupfs", AppArmor: true}, false, true, false},
		} {
			t.Run(fmt.Sprintf("%s %+v", schema.source, tc.host), func(t *testing.T) {
				c := configtest.Cluster(t)
				c.Runtime.Source = schema.source
				data, err := containerdConfig(c, tc.host)
				if err != nil {
					t.Fatal(err)
				}
				tree, err := toml.LoadBytes(data)
				if err != nil {
					t.Fatalf("containerd config is not TOML: %v", err)
				}
				at := func(table []string, key string) any { return tree.GetPath(append(slices.Clone(table), key)) }
				want := map[string]any{
					"SystemdCgroup":                       tc.systemdCgroup,
					"restrict_oom_score_adj":              tc.restrictOOM,
					"disable_apparmor":                    tc.noAppArmor,
					"tolerate_missing_hugetlb_controller": true,
					"sandbox":                             "registry.k8s.io/pause:3.10",
				}
				got := map[string]any{
					"SystemdCgroup":                       at(schema.runc, "SystemdCgroup"),
					"restrict_oom_score_adj":              at(schema.cri, "restrict_oom_score_adj"),
					"disable_apparmor":                    at(schema.cri, "disable_apparmor"),
					"tolerate_missing_hugetlb_controller": at(schema.cri, "tolerate_missing_hugetlb_controller"),
					"sandbox":                             at(schema.images, schema.sandbox),
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s = %v, want %v", k, got[k], v)
					}
				}
				if v := tree.Get("version"); v != schema.version {
					t.Errorf("version = %v, want %d", v, schema.version)
				}
				for key, want := range schema.cni {
					if got := at(append(slices.Clone(schema.cri), "cni"), key); fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("cni %s = %v, want %v", key, got, want)
					}
				}
				runc := at(schema.runc, "BinaryName")
				if schema.source == "build" && runc != "/opt/kubernetes/bin/runc" {
					t.Errorf("runc BinaryName = %v, want k8s-single's /opt/kubernetes/bin/runc", runc)
				}
				if schema.source == "debian" && runc != nil {
					t.Errorf("runc BinaryName = %v, want none (Debian's runc on PATH)", runc)
				}
			})
		}
	}
}

func TestContainerdConfigNeedsResolvedDriver(t *testing.T) {
	_, err := Render(configtest.Cluster(t), Host{CgroupDriver: "auto"})
	if err == nil || !strings.Contains(err.Error(), ContainerdConfig) {
		t.Errorf("Render with driver auto: %v, want an error naming %s", err, ContainerdConfig)
	}
}

func TestCNIConflist(t *testing.T) {
	for _, tc := range []struct{ cidr, subnet, gateway, route string }{
		{"10.244.0.0/16", "10.244.0.0/16", "10.244.0.1", "0.0.0.0/0"},
		{"10.32.7.9/12", "10.32.0.0/12", "10.32.0.1", "0.0.0.0/0"},
		{"fd00:10:244::/56", "fd00:10:244::/56", "fd00:10:244::1", "::/0"},
	} {
		t.Run(tc.cidr, func(t *testing.T) {
			data, err := cniConflist(tc.cidr)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				CNIVersion string `json:"cniVersion"`
				Name       string `json:"name"`
				Plugins    []struct {
					Type         string          `json:"type"`
					Bridge       string          `json:"bridge"`
					IsGateway    bool            `json:"isGateway"`
					IPMasq       bool            `json:"ipMasq"`
					HairpinMode  bool            `json:"hairpinMode"`
					Capabilities map[string]bool `json:"capabilities"`
					IPAM         struct {
						Type   string `json:"type"`
						Ranges [][]struct{ Subnet, Gateway string }
						Routes []struct{ Dst string }
					} `json:"ipam"`
				} `json:"plugins"`
			}
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("conflist is not JSON: %v\n%s", err, data)
			}
			if got.CNIVersion != "0.4.0" || got.Name != "k8s-single" || len(got.Plugins) != 2 {
				t.Fatalf("conflist header or plugins wrong:\n%s", data)
			}
			br, pm := got.Plugins[0], got.Plugins[1]
			if br.Type != "bridge" || br.Bridge != "cni0" || !br.IsGateway || !br.IPMasq || !br.HairpinMode {
				t.Errorf("bridge plugin: %+v", br)
			}
			ipam := br.IPAM
			if ipam.Type != "host-local" || len(ipam.Ranges) != 1 || len(ipam.Ranges[0]) != 1 ||
				ipam.Ranges[0][0].Subnet != tc.subnet || ipam.Ranges[0][0].Gateway != tc.gateway ||
				len(ipam.Routes) != 1 || ipam.Routes[0].Dst != tc.route {
				t.Errorf("ipam %+v, want subnet %s gateway %s route %s", ipam, tc.subnet, tc.gateway, tc.route)
			}
			if pm.Type != "portmap" || !pm.Capabilities["portMappings"] {
				t.Errorf("portmap plugin: %+v", pm)
			}
		})
	}
	if _, err := cniConflist("10.244.0.0"); err == nil || !strings.Contains(err.Error(), CNIConflist) {
		t.Errorf("bad pod CIDR: %v, want an error naming %s", err, CNIConflist)
	}
}

func TestShadowingCNIConfigs(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"05-other.conf", "10-bridge.conflist", "10-k8s-single.conflist", "87-podman.json", "01-notes.txt", "00-UPPER.CONF"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "00-dir.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := ShadowingCNIConfigs(dir)
	if want := []string{"05-other.conf", "10-bridge.conflist"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ShadowingCNIConfigs = %q, %v; want %q", got, err, want)
	}
	if _, err := ShadowingCNIConfigs(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing conf dir is not an error")
	}
}

func TestSysctlConf(t *testing.T) {
	want := "# Written by k8s-single: the kernel settings its pods need.\n" +
		"net.ipv4.ip_forward = 1\n" +
		"net.bridge.bridge-nf-call-iptables = 1\n" +
		"net.bridge.bridge-nf-call-ip6tables = 1\n"
	if got := string(sysctlConf()); got != want {
		t.Errorf("sysctl drop-in:\n%s\nwant:\n%s", got, want)
	}
}

// fakeProcSys makes a /proc/sys with the given files and values.
func fakeProcSys(t *testing.T, values map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, v := range values {
		writeFile(t, filepath.Join(dir, p), v+"\n")
	}
	return dir
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// recorder is a fake Run that records command lines and answers from a table.
type recorder struct {
	calls   []string
	answers map[string]answer
}

type answer struct {
	out string
	err error
	do  func()
}

func (r *recorder) run(name string, args ...string) ([]byte, error) {
	line := commandLine(name, args)
	r.calls = append(r.calls, line)
	a, ok := r.answers[line]
	if !ok {
		return nil, fmt.Errorf("%s: unexpected command", line)
	}
	if a.do != nil {
		a.do()
	}
	return []byte(a.out), a.err
}

var bridgeSysctls = map[string]string{
	"net/bridge/bridge-nf-call-iptables":  "0",
	"net/bridge/bridge-nf-call-ip6tables": "1",
}

func TestApplySysctls(t *testing.T) {
	procSys := fakeProcSys(t, map[string]string{"net/ipv4/ip_forward": "0"})
	for k, v := range bridgeSysctls {
		writeFile(t, filepath.Join(procSys, k), v+"\n")
	}
	rec := &recorder{}
	got := ApplySysctls(procSys, filepath.Join(procSys, "no-modprobe"), rec.run)
	lines := reportLines(got)
	want := []string{
		"net.ipv4.ip_forward = 1 (was 0)",
		"net.bridge.bridge-nf-call-iptables = 1 (was 0)",
		"net.bridge.bridge-nf-call-ip6tables = 1 (already)",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("report\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, k := range []string{"net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"} {
		if data, _ := os.ReadFile(filepath.Join(procSys, k)); string(data) != "1\n" {
			t.Errorf("%s holds %q, want 1", k, data)
		}
	}
	if len(rec.calls) != 0 {
		t.Errorf("ran %q with the bridge settings present", rec.calls)
	}
}

func reportLines(rs []SysctlResult) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func TestApplySysctlsLoadsBrNetfilter(t *testing.T) {
	procSys := fakeProcSys(t, map[string]string{"net/ipv4/ip_forward": "1"})
	modprobe := filepath.Join(t.TempDir(), "modprobe")
	writeFile(t, modprobe, "")
	rec := &recorder{answers: map[string]answer{
		modprobe + " br_netfilter": {do: func() {
			for k, v := range bridgeSysctls {
				writeFile(t, filepath.Join(procSys, k), v+"\n")
			}
		}},
	}}
	for _, r := range ApplySysctls(procSys, modprobe, rec.run) {
		if r.Err != nil {
			t.Errorf("%s", r)
		}
	}
	if want := []string{modprobe + " br_netfilter"}; !slices.Equal(rec.calls, want) {
		t.Errorf("ran %q, want %q", rec.calls, want)
	}
}

// TestApplySysctlsReports: settings that cannot be set are reported with the
// reason and the fix, never fatal, and the others are still applied.
func TestApplySysctlsReports(t *testing.T) {
	procSys := fakeProcSys(t, map[string]string{"net/ipv4/ip_forward": "0"})
	t.Run("no modprobe", func(t *testing.T) {
		rec := &recorder{}
		got := ApplySysctls(procSys, filepath.Join(procSys, "no-modprobe"), rec.run)
		if got[0].Err != nil || got[0].Was != "0" {
			t.Errorf("ip_forward: %s", got[0])
		}
		for _, r := range got[1:] {
			if r.Err == nil || !strings.Contains(r.Err.Error(), "modprobe br_netfilter") {
				t.Errorf("%s: want the br_netfilter fix", r)
			}
		}
		if len(rec.calls) != 0 {
			t.Errorf("ran %q without a modprobe", rec.calls)
		}
	})
	t.Run("modprobe fails", func(t *testing.T) {
		modprobe := filepath.Join(t.TempDir(), "modprobe")
		writeFile(t, modprobe, "")
		rec := &recorder{answers: map[string]answer{
			modprobe + " br_netfilter": {err: errors.New("modprobe: FATAL: Module br_netfilter not found")},
		}}
		for _, r := range ApplySysctls(procSys, modprobe, rec.run)[1:] {
			if r.Err == nil || !strings.Contains(r.Err.Error(), "Module br_netfilter not found") {
				t.Errorf("%s: want modprobe's error", r)
			}
		}
	})
}

func TestSysctlError(t *testing.T) {
	s := Sysctl{Key: "net.ipv4.ip_forward", Value: "1"}
	const p = "/proc/sys/net/ipv4/ip_forward"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "open", Path: p, Err: syscall.EROFS}, "read-only here (a container?): set net.ipv4.ip_forward=1 on the host"},
		{&fs.PathError{Op: "open", Path: p, Err: syscall.EACCES}, "permission denied: run k8s-single as root"},
		{&fs.PathError{Op: "open", Path: p, Err: syscall.ENOENT}, "this kernel does not have the setting"},
		{&fs.PathError{Op: "write", Path: p, Err: syscall.EINVAL}, "invalid argument"},
	} {
		if got := sysctlError(s, p, tc.err).Error(); !strings.Contains(got, tc.want) || !strings.Contains(got, p) {
			t.Errorf("%v: %q, want the path and %q", tc.err, got, tc.want)
		}
	}
}

func TestDetectHost(t *testing.T) {
	const status = "Name:\tk8s-single\nCapEff:\t%s\nCapBnd:\t000001ffffffffff\n"
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  Host
	}{
		{"nspawn: no CAP_SYS_RESOURCE, no AppArmor", map[string]string{
			"proc/self/status": fmt.Sprintf(status, "000001fffeffffff"),
		}, Host{CgroupDriver: "systemd"}},
		{"vm with AppArmor", map[string]string{
			"proc/self/status":                       fmt.Sprintf(status, "000001ffffffffff"),
			"sys/module/apparmor/parameters/enabled": "Y\n",
			"sys/kernel/security/apparmor/profiles":  "",
			"usr/sbin/apparmor_parser":               "",
		}, Host{CgroupDriver: "systemd", CapSysResource: true, AppArmor: true}},
		{"AppArmor on but no apparmor_parser", map[string]string{
			"proc/self/status":                       fmt.Sprintf(status, "0000000001000000"),
			"sys/module/apparmor/parameters/enabled": "Y\n",
			"sys/kernel/security/apparmor/profiles":  "",
		}, Host{CgroupDriver: "systemd", CapSysResource: true}},
		{"AppArmor off", map[string]string{
			"sys/module/apparmor/parameters/enabled": "N\n",
			"sys/kernel/security/apparmor/profiles":  "",
			"sbin/apparmor_parser":                   "",
		}, Host{CgroupDriver: "systemd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for p, data := range tc.files {
				writeFile(t, filepath.Join(dir, p), data)
			}
			if got := detectHost(dir, "systemd"); got != tc.want {
				t.Errorf("detectHost = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMissingPackages(t *testing.T) {
	query := "dpkg-query -W -f=${Package} ${db:Status-Abbrev}\n containerd runc socat iptables"
	rec := &recorder{answers: map[string]answer{query: {
		out: "containerd ii \nrunc:amd64 ii \niptables rc \n",
		err: errors.New("exit status 1: dpkg-query: no packages found matching socat"),
	}}}
	got, err := MissingPackages(rec.run, []string{"containerd", "runc", "socat", "iptables"})
	if want := []string{"socat", "iptables"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("MissingPackages = %q, %v; want %q", got, err, want)
	}
	notDebian := &recorder{answers: map[string]answer{query: {err: &exec.Error{Name: "dpkg-query", Err: exec.ErrNotFound}}}}
	if _, err := MissingPackages(notDebian.run, []string{"containerd", "runc", "socat", "iptables"}); err == nil || !strings.Contains(err.Error(), "install containerd runc socat iptables yourself") {
		t.Errorf("without dpkg-query: %v", err)
	}
}

func TestInstallPackages(t *testing.T) {
	const line = "apt-get install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold containerd socat"
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("E: Unable to locate package socat"), "run apt-get update"},
		{&exec.Error{Name: "apt-get", Err: exec.ErrNotFound}, "apt-get not found: install containerd socat yourself"},
	} {
		rec := &recorder{answers: map[string]answer{line: {err: tc.err}}}
		err := InstallPackages(rec.run, []string{"containerd", "socat"})
		if !slices.Equal(rec.calls, []string{line}) {
			t.Errorf("ran %q, want %q", rec.calls, line)
		}
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: InstallPackages = %v, want %q", tc.err, err, tc.want)
		}
	}
}

func TestVersions(t *testing.T) {
	rec := &recorder{answers: map[string]answer{
		"containerd --version": {out: "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n"},
		"runc --version":       {out: "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n"},
	}}
	want := []string{"containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3", "runc version 1.1.5+ds1"}
	if got := Versions(rec.run); !slices.Equal(got, want) {
		t.Errorf("Versions = %q, want %q", got, want)
	}
}

func TestCRIReady(t *testing.T) {
	const line = "ctr -n k8s.io --connect-timeout 2s --timeout 10s plugins ls"
	const header = "TYPE                            ID          PLATFORMS      STATUS\n" +
		"io.containerd.snapshotter.v1    overlayfs   linux/amd64    ok\n"
	for _, tc := range []struct {
		name      string
		a         answer
		ready     bool
		state     string
		fatalText string
	}{
		{"ok", answer{out: header + "io.containerd.grpc.v1           cri         linux/amd64    ok\n"}, true, "ok", ""},
		{"not up yet", answer{err: errors.New("ctr: connection refused")}, false, "ctr: connection refused", ""},
		{"failed", answer{out: header + "io.containerd.grpc.v1           cri         linux/amd64    error\n"}, false, "", `CRI plugin is "error"`},
		{"disabled", answer{out: header}, false, "", "no CRI plugin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{answers: map[string]answer{line: tc.a}}
			ready, state, err := CRIReady(rec.run)
			if ready != tc.ready || state != tc.state {
				t.Errorf("CRIReady = %v, %q; want %v, %q", ready, state, tc.ready, tc.state)
			}
			if (tc.fatalText == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.fatalText)) {
				t.Errorf("CRIReady error %v, want %q", err, tc.fatalText)
			}
		})
	}
}

func TestImages(t *testing.T) {
	rec := &recorder{answers: map[string]answer{
		"ctr -n k8s.io --connect-timeout 2s --timeout 10s images ls -q":     {out: "docker.io/library/busybox:1.36\nregistry.k8s.io/pause:3.10\nsha256:0123\n"},
		"ctr -n k8s.io images pull registry.k8s.io/coredns/coredns:v1.14.7": {err: errors.New("dial tcp: lookup registry.k8s.io: no such host")},
	}}
	for ref, want := range map[string]bool{"registry.k8s.io/pause:3.10": true, "busybox:1.36": true, "registry.k8s.io/pause:3.9": false} {
		if got, err := HasImage(rec.run, ref); got != want || err != nil {
			t.Errorf("HasImage(%s) = %v, %v; want %v", ref, got, err, want)
		}
	}
	err := PullImage(rec.run, "registry.k8s.io/coredns/coredns:v1.14.7")
	if err == nil || !strings.Contains(err.Error(), "runtime.imageBundle") || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("PullImage without a registry: %v", err)
	}
}

func TestNormalizeRef(t *testing.T) {
	for ref, want := range map[string]string{
		"pause:3.10":                      "docker.io/library/pause:3.10",
		"busybox":                         "docker.io/library/busybox:latest",
		"headlamp-k8s/headlamp:v0.30.0":   "docker.io/headlamp-k8s/headlamp:v0.30.0",
		"registry.k8s.io/pause:3.10":      "registry.k8s.io/pause:3.10",
		"localhost/httpok:v1":             "localhost/httpok:v1",
		"localhost:5000/httpok":           "localhost:5000/httpok:latest",
		"registry.k8s.io/pause@sha256:ab": "registry.k8s.io/pause@sha256:ab",
	} {
		if got := NormalizeRef(ref); got != want {
			t.Errorf("NormalizeRef(%s) = %s, want %s", ref, got, want)
		}
	}
}

func TestExec(t *testing.T) {
	run := Exec(t.Context(), configtest.Cluster(t))
	if out, err := run("sh", "-c", "echo out; echo err >&2"); err != nil || string(out) != "out\n" {
		t.Errorf("sh: %q, %v; want stdout only", out, err)
	}
	if out, _ := run("sh", "-c", "echo $DEBIAN_FRONTEND"); string(out) != "noninteractive\n" {
		t.Errorf("DEBIAN_FRONTEND=%q, want noninteractive", out)
	}
	_, err := run("sh", "-c", "echo out; echo 'it broke' >&2; exit 3")
	if err == nil || err.Error() != "sh -c echo out; echo 'it broke' >&2; exit 3: exit status 3: it broke" {
		t.Errorf("failing sh: %v, want the command line, status and stderr", err)
	}
	if _, err := run("k8s-single-no-such-command"); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("missing command: %v, want exec.ErrNotFound", err)
	}
}

func TestExecRunsTheRuntimesCommandsFromTheirInstallPaths(t *testing.T) {
	c := configtest.Cluster(t)
	c.Binaries.InstallDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(c.Binaries.InstallDir, "ctr"), []byte("#!/bin/sh\necho ours\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c.Runtime.Source = "build"
	if out, err := Exec(t.Context(), c)("ctr", "--version"); err != nil || string(out) != "ours\n" {
		t.Errorf("ctr with runtime.source build: %q, %v; want the one in binaries.installDir", out, err)
	}
	c.Runtime.Source = "debian"
	if got := Binary(c, "ctr"); got != "/usr/bin/ctr" {
		t.Errorf("Binary(ctr) with runtime.source debian = %s, want Debian's /usr/bin/ctr", got)
	}
	if _, err := os.Stat("/usr/bin/ctr"); err != nil {
		// a node moving back to Debian's runtime: only k8s-single's ctr is there yet
		if out, err := Exec(t.Context(), c)("ctr", "--version"); err != nil || string(out) != "ours\n" {
			t.Errorf("ctr with runtime.source debian and no Debian ctr: %q, %v; want the installed one", out, err)
		}
	}
}

func TestSchemaVersion(t *testing.T) {
	for v, want := range map[string]int{"v2.4.2": 4, "v2.3.0": 4, "v2.2.9": 3, "v2.0.0": 3} {
		if got := schemaVersion(v); got != want {
			t.Errorf("schemaVersion(%s) = %d, want %d", v, got, want)
		}
	}
}

func TestServerVersion(t *testing.T) {
	const line = "ctr -n k8s.io --connect-timeout 2s --timeout 10s version"
	rec := &recorder{answers: map[string]answer{line: {out: "Client:\n  Version:  v2.4.2\n  Revision: \n  Go version: go1.26.8\n\n" +
		"Server:\n  Version:  1.6.20~ds1\n  Revision: 1.6.20~ds1-1+deb12u3\n  UUID: 5a0e\n"}}}
	if v, err := ServerVersion(rec.run); err != nil || v != "1.6.20~ds1" {
		t.Errorf("ServerVersion = %q, %v; want the server's 1.6.20~ds1, not the client's", v, err)
	}
	rec.answers[line] = answer{out: "Client:\n  Version:  v2.4.2\n"}
	if _, err := ServerVersion(rec.run); err == nil {
		t.Error("no Server section: no error")
	}
}

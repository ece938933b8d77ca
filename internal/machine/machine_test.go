package machine

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config/configtest"
	"github.com/k8s-single/k8s-single/internal/dashboard"
)

func TestAptMirror(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"deb822", "sources.list.d/debian.sources",
			"Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n\n" +
				"# comment\nTypes: deb\nURIs: http://mirror.example/debian http://other.example/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib\n",
			"http://mirror.example/debian"},
		{"one-line with options", "sources.list",
			"deb http://security.example/debian-security bookworm-security main\ndeb [arch=amd64] http://mirror.example/debian bookworm contrib main\n",
			"http://mirror.example/debian"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, tc.file)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(tc.content), 0o644)
			got, err := aptMirror(dir, "bookworm")
			if err != nil || got != tc.want {
				t.Fatalf("aptMirror = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	_, err := aptMirror(t.TempDir(), "bookworm")
	if err == nil || !strings.Contains(err.Error(), "deb http://deb.debian.org/debian bookworm main") {
		t.Fatalf("no sources: err = %v, want the line to add", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"k8s-single", "dev", "a", "m1"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Dev", "-a", "a-", "a_b", "../x", strings.Repeat("a", 33)} {
		if err := CheckName(bad); err == nil || !strings.Contains(err.Error(), "--name") {
			t.Errorf("CheckName(%q) = %v, want an error naming the fix", bad, err)
		}
	}
}

func TestMachineConfig(t *testing.T) {
	m := &Machine{Name: "dev", NodeAddress: "10.201.3.2", APIServerPort: 6443}
	base := configtest.Cluster(t)
	var out bytes.Buffer
	c, err := machineConfig(m, Options{Config: base}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Name != "dev" || c.Node.Address != "10.201.3.2" || c.Binaries.Source != "dir" || c.Binaries.Dir != mountBinaries ||
		c.Runtime.Source != "dir" || c.Runtime.ImageBundle != "" {
		t.Errorf("machine config: node %+v, binaries %s %s, runtime %s bundle %q", c.Node, c.Binaries.Source, c.Binaries.Dir, c.Runtime.Source, c.Runtime.ImageBundle)
	}
	if c.Dashboard.Kind != "none" || m.DashboardNodePort != 0 || !strings.Contains(out.String(), dashboard.HeadlampImage) {
		t.Errorf("no bundle: dashboard %s, node port %d, notice %q; want none and a notice naming the image", c.Dashboard.Kind, m.DashboardNodePort, out.String())
	}
	if base.Node.Name == "dev" {
		t.Error("machineConfig changed the caller's config")
	}
	if len(m.Routes()) != 1 {
		t.Errorf("routes without a dashboard: %v", m.Routes())
	}
}

func TestStatusAndSummary(t *testing.T) {
	m := &Machine{Name: "dev", NodeAddress: "10.201.0.2", APIPort: 16443, DashboardPort: 18443, DashboardNodePort: 30443,
		APIServerPort: 6443, Kubeconfig: "/root/.kube/k8s-single-dev.conf", BinariesDir: "/b"}
	s := StatusOf(m)
	if s.State != "stopped" || s.APIServer != "https://127.0.0.1:16443" || s.Dashboard != "https://127.0.0.1:18443/" {
		t.Errorf("status = %+v", s)
	}
	routes := m.Routes()
	if len(routes) != 2 || routes[0] != (Route{"127.0.0.1:16443", "10.201.0.2:6443"}) || routes[1] != (Route{"127.0.0.1:18443", "10.201.0.2:30443"}) {
		t.Errorf("routes = %v", routes)
	}
	sum := Summary(m)
	for _, want := range []string{"https://127.0.0.1:16443", "export KUBECONFIG=/root/.kube/k8s-single-dev.conf", "/b/kubectl", "machine down --name dev"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

func TestUpRefusesABinariesDirWithoutBinaries(t *testing.T) {
	dir := t.TempDir()
	_, err := Up(t.Context(), Options{Name: "dev", BinariesDir: dir}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--binaries-dir") || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "k8s-single build --print-dir") {
		t.Errorf("err = %v, want the flag, the value and the fix", err)
	}
}

// TestParseBind: SRC[:DST] as systemd-nspawn spells it; bad values name the
// flag, the value and the fix.
func TestParseBind(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		value, want, err string
		readOnly         bool
	}{
		{value: dir, want: "--bind=" + dir + ":" + dir},
		{value: dir + ":/mnt/in", readOnly: true, want: "--bind-ro=" + dir + ":/mnt/in"},
		{value: "rel/dir", err: "want absolute paths"},
		{value: dir + ":" + mountBinaries, err: "is the machine's own"},
		{value: dir + "/missing:/mnt/x", err: "the host path must exist"},
	} {
		b, err := ParseBind("--bind", tc.value, tc.readOnly)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.value)):
			t.Errorf("ParseBind(%q) error %v, want one saying %q and the value", tc.value, err, tc.err)
		case tc.err == "" && (err != nil || b.arg() != tc.want):
			t.Errorf("ParseBind(%q) = %q, %v; want %q", tc.value, b.arg(), err, tc.want)
		}
	}
}

// TestPrepareEnablesTheUpUnitUnlessNoUp: a machine runs `k8s-single up` at
// boot, one made with --no-up boots without it; both get the node address.
func TestPrepareEnablesTheUpUnitUnlessNoUp(t *testing.T) {
	defer func(d string) { StateDir = d }(StateDir)
	base := t.TempDir()
	self := filepath.Join(t.TempDir(), "k8s-single")
	if err := os.WriteFile(self, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	front := filepath.Join(t.TempDir(), "k8s-single")
	if err := os.WriteFile(front, []byte("#!/bin/sh\n# front\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, noUp := range []bool{false, true} {
		m := &Machine{Name: "dev", NodeAddress: "10.201.4.2", NoUp: noUp}
		StateDir = t.TempDir()
		withFront := map[bool]string{false: "", true: front}[noUp]
		if err := prepare(m, base, self, withFront, []byte("kind: Cluster\n")); err != nil {
			t.Fatal(err)
		}
		// k8s-single is the front when there is one, else a link to the full binary.
		if data, _ := os.ReadFile(m.Path("/usr/local/bin/k8s-single-full")); string(data) != "#!/bin/sh\n" {
			t.Errorf("noUp=%v: k8s-single-full holds %q", noUp, data)
		}
		target, _ := os.Readlink(m.Path("/usr/local/bin/k8s-single"))
		data, _ := os.ReadFile(m.Path("/usr/local/bin/k8s-single"))
		if withFront == "" && target != "k8s-single-full" || withFront != "" && (target != "" || string(data) != "#!/bin/sh\n# front\n") {
			t.Errorf("front %q: /usr/local/bin/k8s-single links to %q and holds %q", withFront, target, data)
		}
		wants := m.Path("/etc/systemd/system/multi-user.target.wants")
		if target, err := os.Readlink(filepath.Join(wants, netUnit)); err != nil || target != "/etc/systemd/system/"+netUnit {
			t.Errorf("noUp=%v: the net unit is not enabled: %q %v", noUp, target, err)
		}
		_, err := os.Lstat(filepath.Join(wants, upUnit))
		if noUp != errors.Is(err, fs.ErrNotExist) {
			t.Errorf("noUp=%v: the up unit enabled: %v", noUp, err == nil)
		}
		if data, _ := os.ReadFile(m.Path(clusterConfig)); string(data) != "kind: Cluster\n" {
			t.Errorf("noUp=%v: cluster config %q", noUp, data)
		}
	}
}

// TestCheckBaseRootfs: --rootfs must be an absolute dir a systemd can boot;
// the error names the flag, the value and what is missing.
func TestCheckBaseRootfs(t *testing.T) {
	if err := checkBaseRootfs(""); err != nil {
		t.Errorf("no --rootfs: %v", err)
	}
	dir := t.TempDir()
	if err := checkBaseRootfs(dir + "/missing"); err == nil || !strings.Contains(err.Error(), dir+"/missing") || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("missing dir: %v, want the value and that it is no dir", err)
	}
	if err := checkBaseRootfs("rel"); err == nil || !strings.Contains(err.Error(), `--rootfs "rel"`) {
		t.Errorf("relative: %v", err)
	}
	if err := checkBaseRootfs(dir); err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "/lib/systemd/systemd") {
		t.Errorf("empty dir: %v, want the value and what it lacks", err)
	}
	for _, p := range []string{"lib/systemd/systemd", "bin/sh", "bin/mountpoint", "bin/ip"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o755)
	}
	if err := checkBaseRootfs(dir); err != nil {
		t.Errorf("a bootable rootfs: %v", err)
	}
}

func TestSummaryWithoutUp(t *testing.T) {
	sum := Summary(&Machine{Name: "lab", NodeAddress: "10.201.1.2", APIPort: 16444, NoUp: true})
	for _, want := range []string{"without a cluster yet", "machine shell --name lab -- k8s-single up", "https://127.0.0.1:16444", "machine down --name lab"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}

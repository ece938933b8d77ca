package units

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/config/configtest"
	"github.com/k8s-single/k8s-single/internal/golden"
	"github.com/k8s-single/k8s-single/internal/layout"
)

func renderUnits(t *testing.T, c *config.Cluster) []File {
	t.Helper()
	files, err := RenderUnits(c, Host{})
	if err != nil {
		t.Fatalf("RenderUnits: %v", err)
	}
	return files
}

func TestRenderUnitsGolden(t *testing.T) {
	for _, f := range renderUnits(t, configtest.Cluster(t)) {
		golden.Check(t, filepath.Join("testdata", filepath.Base(f.Path)), f.Data)
	}
}

func TestRenderUnitsShape(t *testing.T) {
	c := configtest.Cluster(t)
	files := renderUnits(t, c)
	comps := Components(c, Host{})
	if len(files) != len(comps) {
		t.Fatalf("%d files for %d components", len(files), len(comps))
	}
	for i, f := range files {
		comp := comps[i]
		t.Run(comp.Name, func(t *testing.T) {
			if f.Path != layout.Unit(comp.Name) || filepath.Base(f.Path) != comp.Unit {
				t.Errorf("path %s, want %s named %s", f.Path, layout.Unit(comp.Name), comp.Unit)
			}
			if f.Mode != 0o600 {
				t.Errorf("mode %o, want 600", f.Mode)
			}
			opts, err := unit.DeserializeOptions(bytes.NewReader(f.Data))
			if err != nil {
				t.Fatalf("deserialize: %v", err)
			}
			for _, want := range []string{
				"Unit/Description", "Unit/Documentation", "Unit/StartLimitIntervalSec=0",
				"Service/ExecStart", "Service/Restart=always", "Service/RestartSec=2",
				"Service/LimitNOFILE=1048576", "Install/WantedBy=multi-user.target",
			} {
				if !hasOption(opts, want) {
					t.Errorf("no %s in\n%s", want, f.Data)
				}
			}
			argv, env, err := ParseExecStart(f.Data)
			if err != nil {
				t.Fatalf("ParseExecStart: %v", err)
			}
			if !slices.Equal(argv, comp.Args) || len(env) != 0 {
				t.Errorf("ParseExecStart = %q, %q; want %q and no environment", argv, env, comp.Args)
			}
		})
	}
}

// hasOption matches "Section/Name" (any value) or "Section/Name=value".
func hasOption(opts []*unit.UnitOption, want string) bool {
	key, value, withValue := strings.Cut(want, "=")
	return slices.ContainsFunc(opts, func(o *unit.UnitOption) bool {
		return o.Section+"/"+o.Name == key && (!withValue || o.Value == value)
	})
}

func TestUnitDependencies(t *testing.T) {
	files := renderUnits(t, configtest.Cluster(t))
	want := map[string][]string{
		"etcd.service":                    {"Service/Type=notify", "Unit/After=network-online.target", "Unit/Wants=network-online.target"},
		"kube-apiserver.service":          {"Service/Type=notify", "Unit/After=network-online.target etcd.service"},
		"kube-controller-manager.service": {"Unit/After=kube-apiserver.service"},
		"kube-scheduler.service":          {"Unit/After=kube-apiserver.service"},
		"kubelet.service":                 {"Unit/After=network-online.target containerd.service", "Unit/Requires=containerd.service"},
		"kube-proxy.service":              {"Unit/After=network-online.target"},
	}
	for _, f := range files {
		opts, err := unit.DeserializeOptions(bytes.NewReader(f.Data))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want[filepath.Base(f.Path)] {
			if !hasOption(opts, w) {
				t.Errorf("%s: no %s", f.Path, w)
			}
		}
	}
}

func TestComponents(t *testing.T) {
	c := configtest.Cluster(t)
	var names []string
	for _, comp := range Components(c, Host{}) {
		names = append(names, comp.Name)
		if comp.Unit != comp.Name+".service" {
			t.Errorf("%s: unit %s", comp.Name, comp.Unit)
		}
		if comp.Args[0] != "/opt/kubernetes/bin/"+comp.Name {
			t.Errorf("%s: binary %s", comp.Name, comp.Args[0])
		}
		flags := comp.Args[1:]
		if !slices.IsSorted(flags) {
			t.Errorf("%s: flags not sorted: %q", comp.Name, flags)
		}
		if len(slices.Compact(slices.Clone(flags))) != len(flags) {
			t.Errorf("%s: repeated flag in %q", comp.Name, flags)
		}
	}
	want := []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}
	if !slices.Equal(names, want) {
		t.Errorf("components %q, want %q", names, want)
	}
}

// flagsOf returns a component's flags as name -> value, on a host whose
// name is not the node's.
func flagsOf(t *testing.T, c *config.Cluster, name string) map[string]string {
	t.Helper()
	return flagsFor(t, c, Host{}, name)
}

// flagsFor returns a component's flags as name -> value on host h.
func flagsFor(t *testing.T, c *config.Cluster, h Host, name string) map[string]string {
	t.Helper()
	for _, comp := range Components(c, h) {
		if comp.Name != name {
			continue
		}
		flags := map[string]string{}
		for _, a := range comp.Args[1:] {
			k, v, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !ok || !strings.HasPrefix(a, "--") {
				t.Fatalf("%s: argument %q is not --name=value", name, a)
			}
			flags[k] = v
		}
		return flags
	}
	t.Fatalf("no component %s", name)
	return nil
}

// TestSecurityFlags pins the CIS Kubernetes Benchmark settings flag by flag,
// independently of the golden files.
func TestSecurityFlags(t *testing.T) {
	c := configtest.Cluster(t)
	pki := layout.PKIDir + "/"
	creds := "/run/credentials/etcd.service/"
	want := map[string]map[string]string{
		"etcd": {
			"client-cert-auth": "true", "peer-client-cert-auth": "true",
			"auto-tls": "false", "peer-auto-tls": "false",
			"trusted-ca-file": creds + "ca.crt", "peer-trusted-ca-file": creds + "ca.crt",
			"cert-file": creds + "server.crt", "key-file": creds + "server.key",
			"peer-cert-file": creds + "peer.crt", "peer-key-file": creds + "peer.key",
			"listen-client-urls":  "https://127.0.0.1:2379,https://192.168.56.10:2379",
			"listen-peer-urls":    "https://192.168.56.10:2380",
			"initial-cluster":     "node-1=https://192.168.56.10:2380",
			"listen-metrics-urls": "http://127.0.0.1:2381",
			"snapshot-count":      "10000",
			"data-dir":            "/var/lib/etcd",
		},
		"kube-apiserver": {
			"anonymous-auth": "false", "authorization-mode": "Node,RBAC",
			"enable-admission-plugins":      "NodeRestriction,DenyServiceExternalIPs,EventRateLimit",
			"admission-control-config-file": layout.AdmissionConfig, "profiling": "false",
			"audit-log-path": layout.AuditLog, "audit-log-maxage": "30",
			"audit-log-maxbackup": "10", "audit-log-maxsize": "100",
			"audit-policy-file":             layout.AuditPolicy,
			"encryption-provider-config":    layout.EncryptionConfig,
			"kubelet-certificate-authority": pki + "ca.crt",
			"kubelet-client-certificate":    pki + "apiserver-kubelet-client.crt",
			"kubelet-client-key":            pki + "apiserver-kubelet-client.key",
			"client-ca-file":                pki + "ca.crt",
			"tls-cert-file":                 pki + "apiserver.crt", "tls-private-key-file": pki + "apiserver.key",
			"etcd-servers": "https://127.0.0.1:2379", "etcd-cafile": pki + "etcd/ca.crt",
			"etcd-certfile": pki + "apiserver-etcd-client.crt", "etcd-keyfile": pki + "apiserver-etcd-client.key",
			"service-account-issuer":                  "https://kubernetes.default.svc.cluster.local",
			"service-account-key-file":                pki + "sa.pub",
			"service-account-signing-key-file":        pki + "sa.key",
			"service-account-extend-token-expiration": "false",
			"requestheader-client-ca-file":            pki + "front-proxy-ca.crt",
			"proxy-client-cert-file":                  pki + "front-proxy-client.crt",
			"advertise-address":                       "192.168.56.10",
			"tls-min-version":                         "VersionTLS12",
		},
		"kube-controller-manager": {
			"profiling": "false", "bind-address": "127.0.0.1", "use-service-account-credentials": "true",
			"service-account-private-key-file": pki + "sa.key", "root-ca-file": pki + "ca.crt",
			"cluster-signing-cert-file": pki + "ca.crt", "cluster-signing-key-file": pki + "ca.key",
			"terminated-pod-gc-threshold": "10", "allocate-node-cidrs": "true", "cluster-cidr": "10.244.0.0/16",
			"kubeconfig": "/etc/kubernetes/controller-manager.conf", "leader-elect": "false",
			"tls-cert-file": pki + "controller-manager-serving.crt", "tls-private-key-file": pki + "controller-manager-serving.key",
		},
		"kube-scheduler": {
			"profiling": "false", "bind-address": "127.0.0.1",
			"kubeconfig": "/etc/kubernetes/scheduler.conf", "leader-elect": "false",
			"tls-cert-file": pki + "scheduler-serving.crt", "tls-private-key-file": pki + "scheduler-serving.key",
		},
		"kubelet": {
			"config": layout.KubeletConfig, "kubeconfig": "/etc/kubernetes/kubelet.conf",
			"node-ip": "192.168.56.10", "hostname-override": "node-1",
		},
		"kube-proxy": {"config": layout.KubeProxyConfig, "hostname-override": "node-1"},
	}
	for name, flags := range want {
		got := flagsOf(t, c, name)
		for k, v := range flags {
			if got[k] != v {
				t.Errorf("%s --%s=%q, want %q", name, k, got[k], v)
			}
		}
	}
	for _, forbidden := range []string{"token-auth-file", "enable-bootstrap-token-auth", "disable-admission-plugins", "insecure-port"} {
		if v, ok := flagsOf(t, c, "kube-apiserver")[forbidden]; ok {
			t.Errorf("kube-apiserver --%s=%s must not be set", forbidden, v)
		}
	}
}

func TestIPv6NodeAddressIsBracketed(t *testing.T) {
	c := configtest.Cluster(t)
	c.Node.Address = "fd00::10"
	got := flagsOf(t, c, "etcd")["advertise-client-urls"]
	if got != "https://[fd00::10]:2379" {
		t.Errorf("advertise-client-urls %q", got)
	}
}

// TestHostnameOverrideOnlyWhenNeeded: the kubelet and kube-proxy get
// --hostname-override only when the node's name is not the host name (CIS
// 4.2.7), compared case-insensitively as the daemons do.
func TestHostnameOverrideOnlyWhenNeeded(t *testing.T) {
	c := configtest.Cluster(t)
	for _, tc := range []struct {
		hostname string
		want     bool
	}{{"node-1", false}, {"Node-1", false}, {"other-host", true}} {
		for _, comp := range []string{"kubelet", "kube-proxy"} {
			got, ok := flagsFor(t, c, Host{Hostname: tc.hostname}, comp)["hostname-override"]
			if ok != tc.want || (ok && got != "node-1") {
				t.Errorf("%s on host %s: --hostname-override=%q (set %v), want set %v", comp, tc.hostname, got, ok, tc.want)
			}
		}
	}
}

// unitOptionsOf reads a rendered unit back as section/name=value strings.
func unitOptionsOf(t *testing.T, name string) []*unit.UnitOption {
	t.Helper()
	for _, f := range renderUnits(t, configtest.Cluster(t)) {
		if filepath.Base(f.Path) == name {
			opts, err := unit.DeserializeOptions(bytes.NewReader(f.Data))
			if err != nil {
				t.Fatal(err)
			}
			return opts
		}
	}
	t.Fatalf("no unit %s", name)
	return nil
}

// TestEtcdRunsAsItsOwnUser: etcd runs as the etcd user with no capabilities
// and reads exactly the five PKI files it needs through systemd's
// credentials, from the paths its flags name (CIS 1.1.11/1.1.12).
func TestEtcdRunsAsItsOwnUser(t *testing.T) {
	opts := unitOptionsOf(t, "etcd.service")
	for _, want := range []string{"Service/User=etcd", "Service/Group=etcd", "Service/CapabilityBoundingSet=",
		"Service/ReadWritePaths=/var/lib/etcd",
		"Service/LoadCredential=ca.crt:/etc/kubernetes/pki/etcd/ca.crt",
		"Service/LoadCredential=server.key:/etc/kubernetes/pki/etcd/server.key",
		"Service/LoadCredential=peer.key:/etc/kubernetes/pki/etcd/peer.key"} {
		if !hasOption(opts, want) {
			t.Errorf("etcd.service has no %s", want)
		}
	}
	var etcdUnit []byte
	for _, f := range renderUnits(t, configtest.Cluster(t)) {
		if filepath.Base(f.Path) == "etcd.service" {
			etcdUnit = f.Data
		}
	}
	loaded, err := LoadCredentials(etcdUnit)
	if err != nil || len(loaded) != 5 {
		t.Fatalf("LoadCredentials = %v, %v; want the 5 etcd PKI files", loaded, err)
	}
	creds := map[string]bool{}
	for id := range loaded {
		creds[CredentialsDir("etcd.service")+"/"+id] = true
	}
	for flag, v := range flagsOf(t, configtest.Cluster(t), "etcd") {
		if strings.HasSuffix(v, ".crt") || strings.HasSuffix(v, ".key") {
			if !creds[v] {
				t.Errorf("etcd --%s=%s is not one of its credentials %v", flag, v, creds)
			}
		}
	}
}

// TestSandboxing: etcd and the control plane run sandboxed, the kubelet and
// kube-proxy (which manage the host) do not; the kubelet's own traffic is
// limited to the node, the pods and the Services (CIS 4.2.15).
func TestSandboxing(t *testing.T) {
	sandbox := []string{"Service/NoNewPrivileges=yes", "Service/ProtectSystem=strict", "Service/ProtectHome=yes",
		"Service/PrivateTmp=yes", "Service/PrivateDevices=yes", "Service/ProtectKernelTunables=yes",
		"Service/ProtectKernelModules=yes", "Service/ProtectControlGroups=yes", "Service/RestrictSUIDSGID=yes"}
	for _, name := range []string{"etcd.service", "kube-apiserver.service", "kube-controller-manager.service", "kube-scheduler.service"} {
		opts := unitOptionsOf(t, name)
		for _, want := range sandbox {
			if !hasOption(opts, want) {
				t.Errorf("%s has no %s", name, want)
			}
		}
	}
	if !hasOption(unitOptionsOf(t, "kube-apiserver.service"), "Service/ReadWritePaths="+layout.AuditLogDir) {
		t.Errorf("the apiserver cannot write its audit log")
	}
	for _, name := range []string{"kubelet.service", "kube-proxy.service"} {
		if hasOption(unitOptionsOf(t, name), "Service/ProtectSystem=strict") {
			t.Errorf("%s is sandboxed; it must manage the host", name)
		}
	}
	kubelet := unitOptionsOf(t, "kubelet.service")
	for _, want := range []string{"Service/IPAddressDeny=any", "Service/IPAddressAllow=localhost 192.168.56.10 10.244.0.0/16 10.96.0.0/12"} {
		if !hasOption(kubelet, want) {
			t.Errorf("kubelet.service has no %s", want)
		}
	}
}

// TestSystemdAcceptsEveryDirective runs the rendered units through
// systemd-analyze verify: every directive must be one this systemd knows and
// parses (an unknown or malformed one is only a warning to systemd, which
// then silently drops it).
func TestSystemdAcceptsEveryDirective(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze here")
	}
	dir := t.TempDir()
	var paths []string
	withBackups := configtest.Cluster(t)
	withBackups.Backup.Schedule = "*-*-* 03:00"
	timers, err := RenderTimers(withBackups)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(renderUnits(t, configtest.Cluster(t)), timers...) {
		p := filepath.Join(dir, filepath.Base(f.Path))
		if err := os.WriteFile(p, f.Data, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out, _ := exec.Command(analyze, append([]string{"verify", "--man=no", "--recursive-errors=no"}, paths...)...).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		// The binaries and the units they depend on are not installed here.
		if line == "" || strings.Contains(line, "is not executable") || strings.Contains(line, "No such file") ||
			strings.Contains(line, "not found") || strings.Contains(line, "Failed to ") && strings.Contains(line, "containerd") {
			continue
		}
		if strings.Contains(line, "Unknown key") || strings.Contains(line, "Failed to parse") ||
			strings.Contains(line, "Invalid") || strings.Contains(line, "ignoring") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// TestRenewalTimer: the daily timer runs k8s-single from the install dir to
// renew what expires within 30 days, catches up after downtime, and is
// spread over an hour.
func TestRenewalTimer(t *testing.T) {
	files, err := RenderTimers(configtest.Cluster(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Fatalf("%d files without backup.schedule, want the renewal service and timer and the boot check", len(files))
	}
	for _, f := range files {
		golden.Check(t, filepath.Join("testdata", filepath.Base(f.Path)), f.Data)
		if f.Mode != 0o600 {
			t.Errorf("%s mode %o, want 600", f.Path, f.Mode)
		}
	}
	opts, _ := unit.DeserializeOptions(bytes.NewReader(files[1].Data))
	for _, want := range []string{"Timer/OnCalendar=daily", "Timer/Persistent=true", "Timer/RandomizedDelaySec=1h", "Install/WantedBy=timers.target"} {
		if !hasOption(opts, want) {
			t.Errorf("timer has no %s", want)
		}
	}
	argv, _, err := ParseExecStart(files[0].Data)
	if err != nil || strings.Join(argv, " ") != "/opt/kubernetes/bin/k8s-single certs renew --expiring-within 30d" {
		t.Errorf("renewal service runs %q (%v)", argv, err)
	}
}

// TestBackupTimer: backup.schedule adds a timer on that schedule whose
// service keeps backup.keep archives in backup.dir.
func TestBackupTimer(t *testing.T) {
	c := configtest.Cluster(t)
	c.Backup.Schedule, c.Backup.Keep, c.Backup.Dir = "*-*-* 03:00", 14, "/srv/backups"
	files, err := RenderTimers(c)
	if err != nil || len(files) != 5 {
		t.Fatalf("RenderTimers = %d files, %v; want 5 with a schedule", len(files), err)
	}
	for _, f := range files[3:] {
		golden.Check(t, filepath.Join("testdata", filepath.Base(f.Path)), f.Data)
	}
	argv, _, err := ParseExecStart(files[3].Data)
	if err != nil || strings.Join(argv, " ") != "/opt/kubernetes/bin/k8s-single backup --dir /srv/backups --keep 14" {
		t.Errorf("backup service runs %q (%v)", argv, err)
	}
	opts, _ := unit.DeserializeOptions(bytes.NewReader(files[4].Data))
	if !hasOption(opts, "Timer/OnCalendar=*-*-* 03:00") || !hasOption(opts, "Timer/Persistent=true") {
		t.Errorf("backup timer:\n%s", files[4].Data)
	}
}

package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

var testHost = HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"}

func TestDefaults(t *testing.T) {
	c := Default(testHost)
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	checks := map[string][2]string{
		"kubernetesVersion": {c.KubernetesVersion, "v1.37.2"},
		"node.name":         {c.Node.Name, "node-1"},
		"node.address":      {c.Node.Address, "192.168.56.10"},
		"podCIDR":           {c.Network.PodCIDR, "10.244.0.0/16"},
		"serviceCIDR":       {c.Network.ServiceCIDR, "10.96.0.0/12"},
		"clusterDNS":        {c.Network.ClusterDNS, "10.96.0.10"},
		"apiserver svc IP":  {c.APIServerServiceIP(), "10.96.0.1"},
		"installDir":        {c.Binaries.InstallDir, "/opt/kubernetes/bin"},
		"keyAlgorithm":      {c.Certificates.KeyAlgorithm, "ecdsa-p256"},
		"dashboard":         {c.Dashboard.Kind, "headlamp"},
		"runtime.source":    {c.Runtime.Source, "build"},
		"containerd":        {c.Runtime.ContainerdVersion, "v2.4.2"},
	}
	for name, got := range checks {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", name, got[0], got[1])
		}
	}
	if c.Certificates.CAValidity.Duration != 10*Year || c.Certificates.Validity.Duration != Year {
		t.Errorf("validity = %v/%v, want 10y/1y", c.Certificates.CAValidity, c.Certificates.Validity)
	}
}

// TestRuntimeSourceFollowsTheBinaries: the runtime comes from where the
// binaries come from, unless set; there is no download of it.
func TestRuntimeSourceFollowsTheBinaries(t *testing.T) {
	for yaml, want := range map[string]string{
		"": "build",
		"binaries:\n  source: dir\n  dir: /srv/bin\n":                            "dir",
		"binaries:\n  source: download\n":                                        "debian",
		"binaries:\n  source: dir\n  dir: /srv/bin\nruntime:\n  source: build\n": "build",
	} {
		c, err := Parse([]byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		c.ApplyDefaults(testHost)
		if c.Runtime.Source != want {
			t.Errorf("%q: runtime.source %s, want %s", yaml, c.Runtime.Source, want)
		}
	}
}

func TestDefaultsRoundTrip(t *testing.T) {
	c := Default(testHost)
	back, err := Parse(c.Marshal())
	if err != nil {
		t.Fatalf("parse own output: %v", err)
	}
	back.ApplyDefaults(HostFacts{})
	if string(back.Marshal()) != string(c.Marshal()) {
		t.Errorf("round trip changed the config:\n%s\nvs\n%s", back.Marshal(), c.Marshal())
	}
}

func TestUserValuesKept(t *testing.T) {
	c, err := Parse([]byte("network:\n  serviceCIDR: 10.100.0.0/16\ncertificates:\n  validity: 90d\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults(testHost)
	if c.Network.ClusterDNS != "10.100.0.10" {
		t.Errorf("clusterDNS = %s, want the 10th address of the user's range", c.Network.ClusterDNS)
	}
	if c.Certificates.Validity.Duration != 90*24*time.Hour {
		t.Errorf("validity = %v", c.Certificates.Validity)
	}
}

// TestErrors feeds one bad value at a time and wants the field, the value and
// a hint of what is valid in the message.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, yaml, field, value, hint string
	}{
		{"unknown top-level field", "kubernetesVersoin: v1.37.2", "kubernetesVersoin", "kubernetesVersoin", "kubernetesVersion"},
		{"unknown nested field", "network:\n  podCIRD: 10.0.0.0/16", "network.podCIRD", "podCIRD", "podCIDR"},
		{"wrong apiVersion", "apiVersion: v1", "apiVersion", "v1", APIVersion},
		{"wrong kind", "kind: Pod", "kind", "Pod", "Cluster"},
		{"bad version", "kubernetesVersion: 1.37", "kubernetesVersion", "1.37", "v1.37.2"},
		{"bad pod CIDR", "network:\n  podCIDR: 10.244.0.0/33", "network.podCIDR", "10.244.0.0/33", "CIDR"},
		{"CIDR not network address", "network:\n  podCIDR: 10.244.1.0/16", "network.podCIDR", "10.244.1.0/16", "10.244.0.0/16"},
		{"bad service CIDR", "network:\n  serviceCIDR: nope", "network.serviceCIDR", "nope", "CIDR"},
		{"pod and service overlap", "network:\n  podCIDR: 10.96.0.0/16", "network.serviceCIDR", "10.96.0.0/12", "overlap"},
		{"node inside pod range", "node:\n  address: 10.244.3.4", "network.podCIDR", "10.244.0.0/16", "10.244.3.4"},
		{"node inside service range", "node:\n  address: 10.96.3.4", "network.serviceCIDR", "10.96.0.0/12", "10.96.3.4"},
		{"address not an IP", "node:\n  address: node-1.example", "node.address", "node-1.example", "IP address"},
		{"loopback address", "node:\n  address: 127.0.0.1", "node.address", "127.0.0.1", "not loopback"},
		{"DNS outside service range", "network:\n  clusterDNS: 10.0.0.10", "network.clusterDNS", "10.0.0.10", "inside network.serviceCIDR"},
		{"DNS is kubernetes svc", "network:\n  clusterDNS: 10.96.0.1", "network.clusterDNS", "10.96.0.1", "kubernetes Service"},
		{"DNS not an IP", "network:\n  clusterDNS: dns", "network.clusterDNS", "dns", "IP address"},
		{"ipvs", "network:\n  proxyMode: ipvs", "network.proxyMode", "ipvs", "IPVS is not supported"},
		{"unknown key algorithm", "certificates:\n  keyAlgorithm: ed25519", "certificates.keyAlgorithm", "ed25519", "ecdsa-p256, rsa-2048, rsa-4096"},
		{"bad duration", "certificates:\n  validity: forever", "certificates.validity", "forever", "10y"},
		{"CA shorter than leaf", "certificates:\n  caValidity: 1y\n  validity: 2y", "certificates.caValidity", "1y", "longer than"},
		{"port out of range", "etcd:\n  clientPort: 70000", "etcd.clientPort", "70000", "1 to 65535"},
		{"port not a number", "etcd:\n  clientPort: two", "etcd.clientPort", "two", "whole number"},
		{"port clash", "apiServer:\n  port: 2379", "apiServer.port", "2379", "etcd.clientPort"},
		{"relative data dir", "etcd:\n  dataDir: var/lib/etcd", "etcd.dataDir", "var/lib/etcd", "absolute path"},
		{"bad SAN", "apiServer:\n  extraSANs: [\"Not_A_Name\"]", "apiServer.extraSANs[0]", "Not_A_Name", "DNS name"},
		{"SANs not a list", "apiServer:\n  extraSANs: api.example.com", "apiServer.extraSANs", "api.example.com", "a list"},
		{"bad source", "binaries:\n  source: apt", "binaries.source", "apt", "build, dir, download"},
		{"dir source without dir", "binaries:\n  source: dir", "binaries.dir", "", "absolute path"},
		{"download bad url", "binaries:\n  source: download\n  downloadURL: ftp://x", "binaries.downloadURL", "ftp://x", "http"},
		{"bad runtime source", "runtime:\n  source: apt", "runtime.source", "apt", "build, dir, debian"},
		{"runtime from a dir without one", "runtime:\n  source: dir", "runtime.source", "dir", "set binaries.dir"},
		{"containerd 1.x", "runtime:\n  containerdVersion: v1.7.30", "runtime.containerdVersion", "v1.7.30", "runtime.source debian"},
		{"bad runc version", "runtime:\n  runcVersion: 1.5.3", "runtime.runcVersion", "1.5.3", "v1.5.3"},
		{"bad CNI plugins version", "runtime:\n  cniPluginsVersion: latest", "runtime.cniPluginsVersion", "latest", "v1.10.0"},
		{"bad dashboard", "dashboard:\n  kind: lens", "dashboard.kind", "lens", "headlamp"},
		{"backup schedule with a quote", "backup:\n  schedule: 'daily\"; rm -rf /'", "backup.schedule", "daily\"; rm -rf /", "systemd calendar expression"},
		{"backup keep negative", "backup:\n  keep: -1", "backup.keep", "-1", "1 to 1000"},
		{"backup dir relative", "backup:\n  dir: backups", "backup.dir", "backups", "absolute"},
		{"bad cgroup driver", "runtime:\n  cgroupDriver: cgroupv3", "runtime.cgroupDriver", "cgroupv3", "systemd"},
		{"bad encryption", "apiServer:\n  encryptionProvider: kms", "apiServer.encryptionProvider", "kms", "aescbc"},
		{"bad node name", "node:\n  name: Node_1", "node.name", "Node_1", "lower-case"},
		{"section not a mapping", "network: 10.0.0.0/8", "network", "10.0.0.0/8", "mapping"},
		{"two documents", "kind: Cluster\n---\nkind: Cluster", "(document)", "document 2", "exactly one"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantFieldError(t, tc.yaml, tc.field, tc.value, tc.hint) })
	}
}

// wantFieldError parses, defaults and validates a document and wants, among
// the errors, one for field with value whose message contains hint. It
// returns that error.
func wantFieldError(t *testing.T, doc, field, value, hint string) FieldError {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err == nil {
		c.ApplyDefaults(testHost)
		err = c.Validate()
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	for _, e := range errs {
		if e.Field == field && e.Value == value && strings.Contains(e.Error(), hint) {
			return e
		}
	}
	t.Errorf("no error for field %s value %q with hint %q in:\n%v", field, value, hint, err)
	return FieldError{}
}

func TestMissingAddressNamesTheFix(t *testing.T) {
	c := Default(HostFacts{Hostname: "n"})
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "set node.address") {
		t.Fatalf("want a node.address error telling to set it, got %v", err)
	}
}

func TestUnknownFieldHasLine(t *testing.T) {
	_, err := Parse([]byte("kind: Cluster\nnetwork:\n  bogus: 1\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3: network.bogus") {
		t.Fatalf("want the line and path, got %v", err)
	}
}

func TestEmptyIsDefaults(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults(testHost)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"10y": 10 * Year, "365d": Year, "8760h": Year, "90m": 90 * time.Minute} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if s := (Duration{Year}).String(); s != "1y" {
		t.Errorf("String() = %s", s)
	}
}

func TestDefaultRouteInterface(t *testing.T) {
	f := t.TempDir() + "/route"
	data := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n" +
		"eth1\t0038A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n" +
		"eth0\t00000000\t0138A8C0\t0003\t0\t0\t0\t00000000\n"
	if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := defaultRouteInterface(f); got != "eth0" {
		t.Errorf("default route interface = %q, want eth0", got)
	}
	// two default routes: the kernel takes the lower metric, whatever the order
	data += "node0\t00000000\t00000000\t0001\t0\t0\t10\t00000000\n"
	data = strings.Replace(data, "0138A8C0\t0003\t0\t0\t0\t", "0138A8C0\t0003\t0\t0\t1024\t", 1)
	if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := defaultRouteInterface(f); got != "node0" {
		t.Errorf("default route interface with metrics 1024 (eth0) and 10 (node0) = %q, want node0", got)
	}
}

// FuzzParse: no input makes the parser or the validator panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(Default(testHost).Marshal()))
	f.Add([]byte("network:\n  podCIDR: [1,2]\n"))
	f.Add([]byte("certificates:\n  validity: {a: b}\n"))
	f.Add([]byte("- a\n- b\n"))
	f.Add([]byte("certificates:\n  caValidity: 585y\n  validity: 0s\n"))
	f.Add([]byte("kind: Cluster\nkind: Cluster\n---\nnetwork:\n\tpodCIDR: x\n"))
	f.Add([]byte("node:\n  address: fd00::10\napiServer:\n  extraSANs: [\"*.a\", \"fe80::1%eth0\", 1.2.3.4.5]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		c.ApplyDefaults(testHost)
		_ = c.Validate()
		_ = c.Marshal()
	})
}

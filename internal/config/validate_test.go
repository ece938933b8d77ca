package config

import (
	"strings"
	"testing"
)

// validationCase is one bad document and the error it must produce.
type validationCase struct {
	name, yaml, field, value, hint string
}

func runValidationCases(t *testing.T, cases []validationCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantFieldError(t, tc.yaml, tc.field, tc.value, tc.hint) })
	}
}

// TestMixedIPFamilies: the node, the ranges and the DNS IP are all IPv4 or
// all IPv6; each field that disagrees is named.
func TestMixedIPFamilies(t *testing.T) {
	const v6 = "node:\n  address: fd00::10\n"
	runValidationCases(t, []validationCase{
		{"IPv6 node, default IPv4 pod range", v6, "network.podCIDR", "10.244.0.0/16", "dual-stack"},
		{"IPv6 node, default IPv4 service range", v6, "network.serviceCIDR", "10.96.0.0/12", "an IPv6 value like node.address (fd00::10)"},
		{"IPv6 node, default IPv4 DNS", v6, "network.clusterDNS", "10.96.0.10", "mixed IP families are not supported by k8s-single"},
		{"IPv6 pod range only", "network:\n  podCIDR: fd00:10:244::/56\n", "network.podCIDR", "fd00:10:244::/56", "an IPv4 value like node.address (192.168.56.10)"},
		{"IPv6 DNS in IPv4 services", "network:\n  clusterDNS: fd00::a\n", "network.clusterDNS", "fd00::a", "dual-stack"},
		{"dual-stack pod range", "network:\n  podCIDR: 10.244.0.0/16,fd00:10:244::/56\n", "network.podCIDR", "10.244.0.0/16,fd00:10:244::/56", "dual-stack"},
	})
}

func TestSingleStackIPv6IsValid(t *testing.T) {
	c, err := Parse([]byte("node:\n  address: fd00::10\nnetwork:\n  podCIDR: fd00:10:244::/56\n  serviceCIDR: fd00:10:96::/112\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults(testHost)
	if err := c.Validate(); err != nil {
		t.Errorf("IPv6 single-stack: %v", err)
	}
}

// TestDNSNameLengths: node.name and network.dnsDomain are DNS-1123
// subdomains: at most 253 characters, labels at most 63.
func TestDNSNameLengths(t *testing.T) {
	label63, label64 := strings.Repeat("a", 63), strings.Repeat("a", 64)
	long := strings.Repeat(label63+".", 4)[:254] // 254 characters, labels of 63
	long = strings.TrimSuffix(long, ".") + "b"
	runValidationCases(t, []validationCase{
		{"node label of 64", "node:\n  name: " + label64, "node.name", label64, "at most 63"},
		{"node name of 254", "node:\n  name: " + long, "node.name", long, "at most 253"},
		{"domain label of 64", "network:\n  dnsDomain: " + label64 + ".local", "network.dnsDomain", label64 + ".local", "at most 63"},
		{"domain of 254", "network:\n  dnsDomain: " + long, "network.dnsDomain", long, "at most 253"},
	})
	c := Default(testHost)
	c.Node.Name, c.Network.DNSDomain = label63+".node", strings.Repeat(label63+".", 3)+strings.Repeat("b", 61)
	if err := c.Validate(); err != nil {
		t.Errorf("63-character labels and a 253-character domain: %v", err)
	}
}

// TestExtraSANs: each entry is a usable IP or a DNS name; nothing that only
// looks like one.
func TestExtraSANs(t *testing.T) {
	san := func(s string) string { return "apiServer:\n  extraSANs: [\"" + s + "\"]\n" }
	runValidationCases(t, []validationCase{
		{"five numbers", san("1.2.3.4.5"), "apiServer.extraSANs[0]", "1.2.3.4.5", "not an IP address"},
		{"IPv4 out of range", san("1.2.3.256"), "apiServer.extraSANs[0]", "1.2.3.256", "not an IP address"},
		{"IPv4 unspecified", san("0.0.0.0"), "apiServer.extraSANs[0]", "0.0.0.0", "unspecified"},
		{"IPv6 unspecified", san("::"), "apiServer.extraSANs[0]", "::", "unspecified"},
		{"zoned", san("fe80::1%eth0"), "apiServer.extraSANs[0]", "fe80::1%eth0", "zone"},
		{"multicast", san("224.0.0.1"), "apiServer.extraSANs[0]", "224.0.0.1", "multicast"},
		{"long label", san(strings.Repeat("x", 64) + ".example.com"), "apiServer.extraSANs[0]", strings.Repeat("x", 64) + ".example.com", "at most 63"},
		{"wildcard inside", san("api.*.example.com"), "apiServer.extraSANs[0]", "api.*.example.com", "DNS name"},
		{"wildcard alone", san("*"), "apiServer.extraSANs[0]", "*", "DNS name"},
		{"second entry", "apiServer:\n  extraSANs: [api.example.com, 0.0.0.0]\n", "apiServer.extraSANs[1]", "0.0.0.0", "unspecified"},
	})
	c := Default(testHost)
	c.APIServer.ExtraSANs = []string{"api.example.com", "*.apps.example.com", "10.0.0.1", "fd00::1", "k8s", "1a.example.com"}
	if err := c.Validate(); err != nil {
		t.Errorf("good SANs: %v", err)
	}
}

// TestPortsOfOtherComponents: the three configurable ports keep off each
// other and off every port the node's components listen on.
func TestPortsOfOtherComponents(t *testing.T) {
	runValidationCases(t, []validationCase{
		{"apiserver on kubelet", "apiServer:\n  port: 10250\n", "apiServer.port", "10250", "the kubelet"},
		{"apiserver on kube-proxy healthz", "apiServer:\n  port: 10256\n", "apiServer.port", "10256", "kube-proxy"},
		{"etcd client on controller-manager", "etcd:\n  clientPort: 10257\n", "etcd.clientPort", "10257", "kube-controller-manager"},
		{"etcd peer on scheduler", "etcd:\n  peerPort: 10259\n", "etcd.peerPort", "10259", "kube-scheduler"},
		{"etcd peer on etcd metrics", "etcd:\n  peerPort: 2381\n", "etcd.peerPort", "2381", "etcd's metrics"},
		{"apiserver on kubelet healthz", "apiServer:\n  port: 10248\n", "apiServer.port", "10248", "the kubelet"},
		{"apiserver on kube-proxy metrics", "apiServer:\n  port: 10249\n", "apiServer.port", "10249", "kube-proxy"},
		{"apiserver in NodePort range", "apiServer:\n  port: 30443\n", "apiServer.port", "30443", "NodePort range 30000-32767"},
		{"etcd at NodePort range end", "etcd:\n  clientPort: 32767\n", "etcd.clientPort", "32767", "NodePort"},
		{"peer on client", "etcd:\n  peerPort: 2379\n", "etcd.peerPort", "2379", "etcd.clientPort"},
	})
	c := Default(testHost)
	c.APIServer.Port, c.Etcd.ClientPort, c.Etcd.PeerPort = 443, 29999, 32768
	if err := c.Validate(); err != nil {
		t.Errorf("ports next to the reserved ones: %v", err)
	}
}

// TestNodeAddressForms: the advertised address is written plainly.
func TestNodeAddressForms(t *testing.T) {
	runValidationCases(t, []validationCase{
		{"zoned", "node:\n  address: fe80::1%eth0\n", "node.address", "fe80::1%eth0", "without a zone"},
		{"IPv4 in IPv6", "node:\n  address: \"::ffff:192.168.56.10\"\n", "node.address", "::ffff:192.168.56.10", "written as IPv4: 192.168.56.10"},
	})
}

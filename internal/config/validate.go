package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// FieldError is one problem with one field: where, what was given, what is valid.
type FieldError struct {
	Field string
	Value string
	Want  string
	// Line is the line in the YAML file, when known.
	Line int
}

func (e FieldError) Error() string {
	where := e.Field
	if e.Line > 0 {
		where = fmt.Sprintf("line %d: %s", e.Line, e.Field)
	}
	return fmt.Sprintf("%s: %q is not valid; want %s", where, e.Value, e.Want)
}

// Errors is every problem found in one document.
type Errors []FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return "invalid config:\n  " + strings.Join(lines, "\n  ")
}

var (
	versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	// dns1123RE is a lower-case DNS subdomain, as Kubernetes wants node names.
	dns1123RE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// Validate checks a defaulted Cluster and returns Errors listing every problem.
func (c *Cluster) Validate() error {
	v := &validator{}
	v.oneOf("apiVersion", c.APIVersion, APIVersion)
	v.oneOf("kind", c.Kind, Kind)
	v.match("kubernetesVersion", c.KubernetesVersion, versionRE, "a release version such as v1.37.2")
	v.match("etcdVersion", c.EtcdVersion, versionRE, "a release version such as v3.7.3")
	if c.Node.Name == "" {
		v.add("node.name", "", "a node name; it could not be read from the host name, so set node.name")
	} else {
		v.match("node.name", c.Node.Name, dns1123RE, "a lower-case DNS name such as node-1")
	}
	node := v.nodeAddress(c.Node.Address)
	pods := v.prefix("network.podCIDR", c.Network.PodCIDR)
	svcs := v.prefix("network.serviceCIDR", c.Network.ServiceCIDR)
	if pods.IsValid() && svcs.IsValid() && pods.Overlaps(svcs) {
		v.add("network.serviceCIDR", c.Network.ServiceCIDR, "a range that does not overlap network.podCIDR "+c.Network.PodCIDR)
	}
	for _, r := range []struct {
		field string
		p     netip.Prefix
	}{{"network.podCIDR", pods}, {"network.serviceCIDR", svcs}} {
		if node.IsValid() && r.p.IsValid() && r.p.Contains(node) {
			v.add(r.field, r.p.String(), "a range that does not contain the node address "+node.String())
		}
	}
	v.clusterDNS(c.Network.ClusterDNS, svcs)
	v.match("network.dnsDomain", c.Network.DNSDomain, dns1123RE, "a DNS domain such as cluster.local")
	if c.Network.ProxyMode == "ipvs" {
		v.add("network.proxyMode", "ipvs", "iptables or nftables (IPVS is not supported by k8s-single)")
	} else {
		v.oneOf("network.proxyMode", c.Network.ProxyMode, "iptables", "nftables")
	}
	v.absPath("etcd.dataDir", c.Etcd.DataDir)
	ports := map[int]string{}
	for _, p := range []struct {
		field string
		port  int
	}{{"etcd.clientPort", c.Etcd.ClientPort}, {"etcd.peerPort", c.Etcd.PeerPort}, {"apiServer.port", c.APIServer.Port}} {
		if p.port < 1 || p.port > 65535 {
			v.add(p.field, strconv.Itoa(p.port), "a TCP port from 1 to 65535")
		} else if other, dup := ports[p.port]; dup {
			v.add(p.field, strconv.Itoa(p.port), "a port not already used by "+other)
		}
		ports[p.port] = p.field
	}
	for i, san := range c.APIServer.ExtraSANs {
		if _, err := netip.ParseAddr(san); err != nil && !dns1123RE.MatchString(san) {
			v.add(fmt.Sprintf("apiServer.extraSANs[%d]", i), san, "an IP address or a lower-case DNS name")
		}
	}
	v.oneOf("apiServer.encryptionProvider", c.APIServer.EncryptionProvider, "aescbc", "secretbox")
	v.oneOf("certificates.keyAlgorithm", c.Certificates.KeyAlgorithm, "ecdsa-p256", "rsa-2048", "rsa-4096")
	if c.Certificates.Validity.Duration < Day {
		v.add("certificates.validity", c.Certificates.Validity.String(), "at least 1d")
	}
	if c.Certificates.CAValidity.Duration > MaxDuration {
		v.add("certificates.caValidity", c.Certificates.CAValidity.String(), "at most "+Duration{MaxDuration}.String())
	} else if c.Certificates.CAValidity.Duration <= c.Certificates.Validity.Duration {
		v.add("certificates.caValidity", c.Certificates.CAValidity.String(),
			"longer than certificates.validity ("+c.Certificates.Validity.String()+")")
	}
	v.oneOf("binaries.source", c.Binaries.Source, "build", "dir", "download")
	v.absPath("binaries.installDir", c.Binaries.InstallDir)
	v.absPath("binaries.cacheDir", c.Binaries.CacheDir)
	switch c.Binaries.Source {
	case "dir":
		v.absPath("binaries.dir", c.Binaries.Dir)
	case "download":
		v.url("binaries.downloadURL", c.Binaries.DownloadURL)
		v.url("binaries.etcdDownloadURL", c.Binaries.EtcdDownloadURL)
	}
	v.oneOf("runtime.cgroupDriver", c.Runtime.CgroupDriver, "auto", "systemd", "cgroupfs")
	if c.Runtime.SandboxImage == "" {
		v.add("runtime.sandboxImage", "", "an image reference such as registry.k8s.io/pause:3.10")
	}
	if c.Runtime.ImageBundle != "" {
		v.absPath("runtime.imageBundle", c.Runtime.ImageBundle)
	}
	v.oneOf("dashboard.kind", c.Dashboard.Kind, "headlamp", "kubernetes-dashboard", "none")
	v.match("dashboard.adminClusterRole", c.Dashboard.AdminClusterRole, dns1123RE, "a ClusterRole name such as cluster-admin or view")
	if len(v.errs) > 0 {
		return v.errs
	}
	return nil
}

type validator struct{ errs Errors }

func (v *validator) add(field, value, want string) {
	v.errs = append(v.errs, FieldError{Field: field, Value: value, Want: want})
}

func (v *validator) oneOf(field, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	v.add(field, value, "one of "+strings.Join(allowed, ", "))
}

func (v *validator) match(field, value string, re *regexp.Regexp, want string) {
	if !re.MatchString(value) {
		v.add(field, value, want)
	}
}

func (v *validator) absPath(field, value string) {
	if !path.IsAbs(value) || path.Clean(value) != value {
		v.add(field, value, "a clean absolute path such as /var/lib/etcd")
	}
}

func (v *validator) url(field, value string) {
	u, err := url.Parse(value)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(field, value, "an http:// or https:// URL")
	}
}

func (v *validator) prefix(field, value string) netip.Prefix {
	p, err := netip.ParsePrefix(value)
	if err != nil {
		v.add(field, value, "a CIDR such as 10.244.0.0/16")
		return netip.Prefix{}
	}
	if p.Masked() != p {
		v.add(field, value, "the network address of the range: "+p.Masked().String())
		return netip.Prefix{}
	}
	return p
}

func (v *validator) nodeAddress(value string) netip.Addr {
	if value == "" {
		v.add("node.address", "", "the node's IP; no default route was found to detect it, so set node.address")
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(value)
	switch {
	case err != nil:
		v.add("node.address", value, "an IP address such as 192.168.56.10 (not a host name)")
	case a.IsLoopback() || a.IsUnspecified() || a.IsMulticast():
		v.add("node.address", value, "a routable address of this host, not loopback, 0.0.0.0 or multicast")
	default:
		return a
	}
	return netip.Addr{}
}

func (v *validator) clusterDNS(value string, svcs netip.Prefix) {
	a, err := netip.ParseAddr(value)
	if err != nil {
		v.add("network.clusterDNS", value, "an IP address inside network.serviceCIDR")
		return
	}
	if !svcs.IsValid() {
		return
	}
	first, _ := NthAddress(svcs.String(), 1)
	switch {
	case !svcs.Contains(a):
		v.add("network.clusterDNS", value, "an address inside network.serviceCIDR "+svcs.String())
	case a == svcs.Addr() || a == first:
		v.add("network.clusterDNS", value, "an address other than the range's first two ("+first.String()+" is the kubernetes Service)")
	}
}

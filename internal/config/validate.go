package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
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

// The patterns are compiled on first use, not at start-up: most commands never
// validate a name, and compiling the three took ~1 ms of every command's start.
var (
	versionRE = lazyRegexp(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	// calendarRE is what a systemd calendar expression is made of (systemd
	// itself parses it when the timer loads); no quotes, no newlines.
	calendarRE = lazyRegexp(`^[A-Za-z0-9*:,./~ +-]{1,100}$`)
	// dns1123RE is a lower-case DNS subdomain, as Kubernetes wants node names.
	dns1123RE = lazyRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// lazyRegexp returns a function that compiles expr the first time it is called.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Validate checks a defaulted Cluster and returns Errors listing every problem.
func (c *Cluster) Validate() error {
	v := &validator{}
	v.oneOf("apiVersion", c.APIVersion, APIVersion)
	v.oneOf("kind", c.Kind, Kind)
	v.match("kubernetesVersion", c.KubernetesVersion, versionRE(), "a release version such as v1.37.2")
	v.match("etcdVersion", c.EtcdVersion, versionRE(), "a release version such as v3.7.3")
	if c.Node.Name == "" {
		v.add("node.name", "", "a node name; it could not be read from the host name, so set node.name")
	} else {
		v.dnsName("node.name", c.Node.Name, "a lower-case DNS name such as node-1")
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
	dns := v.clusterDNS(c.Network.ClusterDNS, svcs)
	v.oneFamily([]addrField{
		{"node.address", c.Node.Address, node},
		{"network.podCIDR", c.Network.PodCIDR, pods.Addr()},
		{"network.serviceCIDR", c.Network.ServiceCIDR, svcs.Addr()},
		{"network.clusterDNS", c.Network.ClusterDNS, dns},
	})
	v.dnsName("network.dnsDomain", c.Network.DNSDomain, "a DNS domain such as cluster.local")
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
		} else if user := portUser(p.port); user != "" {
			v.add(p.field, strconv.Itoa(p.port), fmt.Sprintf("a port no other component of the node uses; %d is used by %s", p.port, user))
		}
		ports[p.port] = p.field
	}
	for i, san := range c.APIServer.ExtraSANs {
		v.san(fmt.Sprintf("apiServer.extraSANs[%d]", i), san)
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
	v.oneOf("runtime.images", c.Runtime.Images, ImagesAuto, ImagesPull, ImagesBundle)
	if c.Runtime.Images == ImagesBundle && c.Runtime.ImageBundle == "" {
		v.add("runtime.images", c.Runtime.Images, "auto or pull, or set runtime.imageBundle to a directory of image tarballs (`k8s-single images build --out DIR` makes one)")
	}
	v.oneOf("runtime.source", c.Runtime.Source, "build", "dir", "debian")
	if c.Runtime.Source == "dir" && c.Binaries.Dir == "" {
		v.add("runtime.source", c.Runtime.Source, "build or debian, or set binaries.dir to the directory holding containerd, containerd-shim-runc-v2, ctr, runc and cni/")
	}
	if !strings.HasPrefix(c.Runtime.ContainerdVersion, "v2.") || !versionRE().MatchString(c.Runtime.ContainerdVersion) {
		v.add("runtime.containerdVersion", c.Runtime.ContainerdVersion, "a containerd 2 release such as v2.4.2 (1.x is Debian's: runtime.source debian)")
	}
	v.match("runtime.runcVersion", c.Runtime.RuncVersion, versionRE(), "a runc release such as v1.5.3")
	v.match("runtime.cniPluginsVersion", c.Runtime.CNIPluginsVersion, versionRE(), "a CNI plugins release such as v1.10.0")
	v.oneOf("dashboard.kind", c.Dashboard.Kind, "headlamp", "kubernetes-dashboard", "none")
	v.match("dashboard.adminClusterRole", c.Dashboard.AdminClusterRole, dns1123RE(), "a ClusterRole name such as cluster-admin or view")
	if c.Backup.Schedule != "" {
		v.match("backup.schedule", c.Backup.Schedule, calendarRE(), "a systemd calendar expression such as daily, hourly or \"*-*-* 03:00\" (see systemd.time(7)), or nothing for no scheduled backups")
	}
	if c.Backup.Keep < 1 || c.Backup.Keep > 1000 {
		v.add("backup.keep", strconv.Itoa(c.Backup.Keep), "how many scheduled archives to keep, 1 to 1000")
	}
	v.absPath("backup.dir", c.Backup.Dir)
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

// dnsName checks a DNS-1123 subdomain, as Kubernetes wants node names: at
// most 253 characters, dot-separated labels of at most 63.
func (v *validator) dnsName(field, value, want string) {
	if why := dnsNameProblem(value); why != "" {
		v.add(field, value, want+" ("+why+")")
	}
}

// dnsNameProblem says what keeps name from being a DNS-1123 subdomain, or ""
// when nothing does.
func dnsNameProblem(name string) string {
	if len(name) > 253 {
		return fmt.Sprintf("at most 253 characters; it has %d", len(name))
	}
	for i, l := range strings.Split(name, ".") {
		if len(l) > 63 {
			return fmt.Sprintf("labels of at most 63 characters; label %d has %d", i+1, len(l))
		}
	}
	if !dns1123RE().MatchString(name) {
		return "dot-separated labels of lower-case letters, digits and '-', each starting and ending with a letter or digit"
	}
	return ""
}

// san checks an apiServer.extraSANs entry: an IP a client can connect to, or
// a DNS name, possibly with a wildcard first label.
func (v *validator) san(field, value string) {
	const want = "an IP address or a lower-case DNS name such as api.example.com"
	if a, err := netip.ParseAddr(value); err == nil {
		switch {
		case a.Zone() != "":
			v.add(field, value, "an IP address without a zone: a certificate cannot carry %"+a.Zone())
		case a.IsUnspecified():
			v.add(field, value, "an address clients connect to, not the unspecified address")
		case a.IsMulticast():
			v.add(field, value, "a unicast IP address, not a multicast one")
		}
		return
	}
	name := strings.TrimPrefix(value, "*.")
	labels := strings.Split(name, ".")
	if last := labels[len(labels)-1]; last != "" && strings.Trim(last, "0123456789") == "" {
		v.add(field, value, want+"; it is not an IP address, and a DNS name cannot end in a number")
	} else if why := dnsNameProblem(name); why != "" {
		v.add(field, value, want+" ("+why+")")
	}
}

// addrField is a field holding an address or a range, and the address that
// tells its IP family (invalid when the field itself is).
type addrField struct {
	field, value string
	addr         netip.Addr
}

// oneFamily wants every valid field in the family of the first: k8s-single
// is single-stack, IPv4 or IPv6.
func (v *validator) oneFamily(fields []addrField) {
	var ref addrField
	for _, f := range fields {
		if f.addr.IsValid() {
			ref = f
			break
		}
	}
	for _, f := range fields {
		if f.addr.IsValid() && f.addr.Is4() != ref.addr.Is4() {
			v.add(f.field, f.value, fmt.Sprintf("an %s value like %s (%s): dual-stack and mixed IP families are not supported by k8s-single;"+
				" node.address, network.podCIDR, network.serviceCIDR and network.clusterDNS must all be IPv4 or all IPv6", family(ref.addr), ref.field, ref.value))
		}
	}
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

func (v *validator) prefix(field, value string) netip.Prefix {
	p, err := netip.ParsePrefix(value)
	if err != nil && strings.Contains(value, ",") {
		v.add(field, value, "one CIDR such as 10.244.0.0/16: dual-stack is not supported by k8s-single")
		return netip.Prefix{}
	}
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
	case a.Zone() != "":
		v.add("node.address", value, "an IP address without a zone (%"+a.Zone()+"): the apiserver advertises it to clients")
	case a.Is4In6():
		v.add("node.address", value, "the IPv4 address written as IPv4: "+a.Unmap().String())
	case a.IsLoopback() || a.IsUnspecified() || a.IsMulticast():
		v.add("node.address", value, "a routable address of this host, not loopback, 0.0.0.0 or multicast")
	default:
		return a
	}
	return netip.Addr{}
}

// clusterDNS checks the CoreDNS Service IP against the service range and
// returns it when it is an IP.
func (v *validator) clusterDNS(value string, svcs netip.Prefix) netip.Addr {
	a, err := netip.ParseAddr(value)
	if err != nil {
		v.add("network.clusterDNS", value, "an IP address inside network.serviceCIDR")
		return netip.Addr{}
	}
	if !svcs.IsValid() || svcs.Addr().Is4() != a.Is4() { // oneFamily reports the latter
		return a
	}
	first, _ := NthAddress(svcs.String(), 1)
	switch {
	case !svcs.Contains(a):
		v.add("network.clusterDNS", value, "an address inside network.serviceCIDR "+svcs.String())
	case a == svcs.Addr() || a == first:
		v.add("network.clusterDNS", value, "an address other than the range's first two ("+first.String()+" is the kubernetes Service)")
	}
	return a
}

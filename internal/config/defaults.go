package config

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// HostFacts are what the defaults need to know about the machine.
type HostFacts struct {
	Hostname string
	// DefaultRouteAddress is the IPv4 address of the interface holding the
	// default route, or empty when there is none.
	DefaultRouteAddress string
}

// DetectHost reads the host name and the default route's address from the
// running kernel (/proc/net/route), never from the network.
func DetectHost() HostFacts {
	var f HostFacts
	if h, err := os.Hostname(); err == nil {
		f.Hostname = strings.ToLower(h)
	}
	if ifname := defaultRouteInterface("/proc/net/route"); ifname != "" {
		f.DefaultRouteAddress = interfaceIPv4(ifname)
	}
	return f
}

// defaultRouteInterface returns the interface of the 0.0.0.0/0 route the
// kernel uses: the one with the lowest metric when there are several (a VM
// with a management NIC and a node network, a laptop on Ethernet and Wi-Fi).
func defaultRouteInterface(routeFile string) string {
	fh, err := os.Open(routeFile)
	if err != nil {
		return ""
	}
	defer fh.Close()
	best, bestMetric := "", uint64(math.MaxUint64)
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[1] != "00000000" || f[7] != "00000000" {
			continue
		}
		metric, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			continue
		}
		if best == "" || metric < bestMetric {
			best, bestMetric = f[0], metric
		}
	}
	return best
}

func interfaceIPv4(name string) string {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return ""
	}
	addrs, err := ifc.Addrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() {
			return p.Addr().String()
		}
	}
	return ""
}

// Default returns a fully defaulted Cluster for a host.
func Default(h HostFacts) *Cluster {
	c := &Cluster{}
	c.ApplyDefaults(h)
	return c
}

// ApplyDefaults fills every empty field; fields the user set are kept.
func (c *Cluster) ApplyDefaults(h HostFacts) {
	setString(&c.APIVersion, APIVersion)
	setString(&c.Kind, Kind)
	setString(&c.KubernetesVersion, "v1.37.2")
	setString(&c.EtcdVersion, "v3.7.3")
	setString(&c.Node.Name, h.Hostname)
	setString(&c.Node.Address, h.DefaultRouteAddress)
	setString(&c.Network.PodCIDR, "10.244.0.0/16")
	setString(&c.Network.ServiceCIDR, "10.96.0.0/12")
	if c.Network.ClusterDNS == "" {
		if ip, err := NthAddress(c.Network.ServiceCIDR, 10); err == nil {
			c.Network.ClusterDNS = ip.String()
		}
	}
	setString(&c.Network.DNSDomain, "cluster.local")
	setString(&c.Network.ProxyMode, "iptables")
	setString(&c.Etcd.DataDir, "/var/lib/etcd")
	setInt(&c.Etcd.ClientPort, 2379)
	setInt(&c.Etcd.PeerPort, 2380)
	setInt(&c.APIServer.Port, 6443)
	if c.APIServer.ExtraSANs == nil {
		c.APIServer.ExtraSANs = []string{}
	}
	setString(&c.APIServer.EncryptionProvider, "aescbc")
	setString(&c.Certificates.KeyAlgorithm, "ecdsa-p256")
	// Zero means absent: Parse refuses a lifetime written as 0.
	if c.Certificates.CAValidity.Duration == 0 {
		c.Certificates.CAValidity.Duration = 10 * Year
	}
	if c.Certificates.Validity.Duration == 0 {
		c.Certificates.Validity.Duration = Year
	}
	setString(&c.Binaries.Source, "build")
	setString(&c.Binaries.InstallDir, "/opt/kubernetes/bin")
	setString(&c.Binaries.DownloadURL, "https://dl.k8s.io/release")
	setString(&c.Binaries.EtcdDownloadURL, "https://github.com/etcd-io/etcd/releases/download")
	setString(&c.Binaries.CacheDir, "/var/cache/k8s-single")
	setString(&c.Runtime.CgroupDriver, "auto")
	setString(&c.Runtime.SandboxImage, "registry.k8s.io/pause:3.10")
	setString(&c.Runtime.Images, ImagesAuto)
	setString(&c.Runtime.Source, map[string]string{"build": "build", "dir": "dir"}[c.Binaries.Source])
	setString(&c.Runtime.Source, "debian")
	setString(&c.Runtime.ContainerdVersion, "v2.4.2")
	setString(&c.Runtime.RuncVersion, "v1.5.3")
	setString(&c.Runtime.CNIPluginsVersion, "v1.10.0")
	setString(&c.Dashboard.Kind, "headlamp")
	setString(&c.Dashboard.AdminClusterRole, "cluster-admin")
	setInt(&c.Backup.Keep, 7)
	setString(&c.Backup.Dir, "/var/lib/k8s-single/backups") // layout.BackupDir
}

func setString(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

// NthAddress returns the n-th address of a CIDR (0 is the network address).
func NthAddress(cidr string, n int) (netip.Addr, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Addr{}, err
	}
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	if !p.Contains(a) {
		return netip.Addr{}, fmt.Errorf("%s has fewer than %d addresses", cidr, n+1)
	}
	return a, nil
}

// APIServerServiceIP is the first address of the service range: the
// kubernetes.default Service's ClusterIP, which the serving cert must carry.
func (c *Cluster) APIServerServiceIP() string {
	ip, err := NthAddress(c.Network.ServiceCIDR, 1)
	if err != nil {
		return ""
	}
	return ip.String()
}

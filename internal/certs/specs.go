package certs

import (
	"crypto/x509"
	"fmt"
	"net"
	"strings"
)

// Spec describes one certificate: what it is called, who signs it and what it
// says. CAs are valid for Params.CAValidity, leaves for Params.Validity (never
// beyond their CA).
type Spec struct {
	// Name is the path under the PKI directory without extension:
	// "apiserver", "etcd/server".
	Name string
	// CA is the Name of the issuing CA; "" for a CA.
	CA           string
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	// Usages are the extended key usages; empty for a CA.
	Usages []x509.ExtKeyUsage
	IsCA   bool
}

var (
	serverAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientAuth = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	bothAuth   = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
)

// Specs is the whole PKI, CAs first, with kubeadm's names. The client certs
// the kubeconfigs embed are here too, so one table renews and reports them.
func Specs(p Params) []Spec {
	nodeIP := net.ParseIP(p.NodeAddress)
	loopback := []net.IP{net.IPv4(127, 0, 0, 1)}
	if p.IPv6 {
		loopback = append(loopback, net.IPv6loopback)
	}
	etcdDNS := uniqueNames(p.Hostname, p.NodeName, "localhost")
	etcdIPs := uniqueIPs(append([]net.IP{nodeIP}, loopback...)...)
	admins := []string{"kubeadm:cluster-admins"}
	return []Spec{
		{Name: "ca", CommonName: "kubernetes", IsCA: true},
		{Name: "front-proxy-ca", CommonName: "front-proxy-ca", IsCA: true},
		{Name: "etcd/ca", CommonName: "etcd-ca", IsCA: true},
		apiserverSpec(p, nodeIP, loopback),
		// No group: RBAC binds this user to system:kubelet-api-admin only
		// (kubeadm's kubeadm:apiserver-kubelet-client), not cluster-admin.
		{Name: "apiserver-kubelet-client", CA: "ca", CommonName: "kube-apiserver-kubelet-client", Usages: clientAuth},
		{Name: "front-proxy-client", CA: "front-proxy-ca", CommonName: "front-proxy-client", Usages: clientAuth},
		{Name: "etcd/server", CA: "etcd/ca", CommonName: p.NodeName, DNSNames: etcdDNS, IPs: etcdIPs, Usages: bothAuth},
		{Name: "etcd/peer", CA: "etcd/ca", CommonName: p.NodeName, DNSNames: etcdDNS, IPs: etcdIPs, Usages: bothAuth},
		{Name: "etcd/healthcheck-client", CA: "etcd/ca", CommonName: "kube-etcd-healthcheck-client", Usages: clientAuth},
		{Name: "apiserver-etcd-client", CA: "etcd/ca", CommonName: "kube-apiserver-etcd-client", Usages: clientAuth},
		{Name: "admin", CA: "ca", CommonName: "kubernetes-admin", Organization: admins, Usages: clientAuth},
		{Name: "super-admin", CA: "ca", CommonName: "kubernetes-super-admin", Organization: []string{"system:masters"}, Usages: clientAuth},
		{Name: "controller-manager", CA: "ca", CommonName: "system:kube-controller-manager", Usages: clientAuth},
		{Name: "scheduler", CA: "ca", CommonName: "system:kube-scheduler", Usages: clientAuth},
		{Name: "kube-proxy", CA: "ca", CommonName: "system:kube-proxy", Organization: []string{"system:node-proxier"}, Usages: clientAuth},
		{Name: "kubelet-client", CA: "ca", CommonName: "system:node:" + p.NodeName, Organization: []string{"system:nodes"}, Usages: clientAuth},
		// The controller-manager's and the scheduler's secure ports (loopback
		// only) present these, so health probes verify them against the CA.
		loopbackServing("controller-manager-serving", "kube-controller-manager", loopback),
		loopbackServing("scheduler-serving", "kube-scheduler", loopback),
		// The kubelet's serving cert carries IP SANs so metrics-server and the
		// apiserver verify it without --kubelet-insecure-tls.
		{Name: "kubelet", CA: "ca", CommonName: p.NodeName, DNSNames: uniqueNames(p.NodeName, p.Hostname),
			IPs: uniqueIPs(nodeIP, loopback[0]), Usages: serverAuth},
	}
}

// loopbackServing is the serving cert of a daemon that listens on loopback only.
func loopbackServing(name, cn string, loopback []net.IP) Spec {
	return Spec{Name: name, CA: "ca", CommonName: cn, DNSNames: []string{"localhost"}, IPs: loopback, Usages: serverAuth}
}

// apiserverSpec is the API server's serving cert: every name a client inside
// or outside the cluster may use to reach it.
func apiserverSpec(p Params, nodeIP net.IP, loopback []net.IP) Spec {
	dns := []string{p.Hostname, p.NodeName, "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	if p.DNSDomain != "" {
		dns = append(dns, "kubernetes.default.svc."+p.DNSDomain)
	}
	dns = append(dns, "localhost")
	ips := append([]net.IP{nodeIP}, loopback...)
	ips = append(ips, net.ParseIP(p.ServiceIP))
	for _, san := range p.ExtraSANs {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, san)
		}
	}
	return Spec{Name: "apiserver", CA: "ca", CommonName: "kube-apiserver",
		DNSNames: uniqueNames(dns...), IPs: uniqueIPs(ips...), Usages: serverAuth}
}

// Lookup returns the spec called name, or an error listing the valid names.
func Lookup(p Params, name string) (Spec, error) {
	specs := Specs(p)
	for _, s := range specs {
		if s.Name == name {
			return s, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown certificate %q; valid names: %s", name, strings.Join(specNames(specs, false), ", "))
}

// specNames lists the names of specs, leaves only unless withCAs.
func specNames(specs []Spec, withCAs bool) []string {
	var names []string
	for _, s := range specs {
		if withCAs || !s.IsCA {
			names = append(names, s.Name)
		}
	}
	return names
}

// uniqueNames lower-cases DNS names and drops empty ones and repeats.
func uniqueNames(names ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(n)
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// uniqueIPs drops nil IPs and repeats.
func uniqueIPs(ips ...net.IP) []net.IP {
	var out []net.IP
	seen := map[string]bool{}
	for _, ip := range ips {
		if ip != nil && !seen[ip.String()] {
			seen[ip.String()] = true
			out = append(out, ip)
		}
	}
	return out
}

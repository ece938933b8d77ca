package dashboard

import (
	"net"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
)

// CertName is the serving certificate's PKI name: pki/dashboard.crt and
// pki/dashboard.key, next to the cluster's own certificates. certs issues it
// (certs.EnsureServing), reports its expiry and renews it.
const CertName = certs.Dashboard

// certCommonName is the serving certificate's subject.
const certCommonName = "k8s-single-dashboard"

// ServingCert is the spec of ui's serving certificate: the names a browser or
// client may use to reach it: the node's address, name and host name,
// apiServer.extraSANs (the node's other names, such as a public address),
// loopback (kubectl port-forward), and the Service's cluster DNS names.
func (ui UI) ServingCert(c *config.Cluster, hostname string) certs.Spec {
	svc := ui.Service + "." + ui.Namespace
	dns := []string{c.Node.Name, hostname, "localhost", ui.Service, svc, svc + ".svc"}
	if c.Network.DNSDomain != "" {
		dns = append(dns, svc+".svc."+c.Network.DNSDomain)
	}
	ips := []net.IP{net.ParseIP(c.Node.Address), net.IPv4(127, 0, 0, 1)}
	for _, san := range c.APIServer.ExtraSANs {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, san)
		}
	}
	return certs.ServingSpec(CertName, certCommonName, dns, ips)
}

package dashboard

import (
	"crypto/x509"
	"slices"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

func testCluster(t *testing.T) *config.Cluster {
	t.Helper()
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	c.APIServer.ExtraSANs = []string{"203.0.113.7", "k8s.example.com"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// testPKI makes the cluster's PKI (the real CA) under a temp root.
func testPKI(t *testing.T, c *config.Cluster, now time.Time) host.Root {
	t.Helper()
	root := host.Root(t.TempDir())
	if _, err := certs.Ensure(root, certs.ParamsFromConfig(c, "node-1", false), now, nil); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestServingCert(t *testing.T) {
	c := testCluster(t)
	s := mustUI(t, Headlamp).ServingCert(c, "Machine-1")
	wantDNS := []string{"node-1", "machine-1", "localhost", "headlamp", "headlamp.headlamp", "headlamp.headlamp.svc",
		"headlamp.headlamp.svc.cluster.local", "k8s.example.com"}
	if !slices.Equal(s.DNSNames, wantDNS) {
		t.Errorf("DNS SANs %q, want %q", s.DNSNames, wantDNS)
	}
	var ips []string
	for _, ip := range s.IPs {
		ips = append(ips, ip.String())
	}
	if want := []string{"192.168.56.10", "127.0.0.1", "203.0.113.7"}; !slices.Equal(ips, want) {
		t.Errorf("IP SANs %q, want %q", ips, want)
	}
	if s.Name != CertName || s.CA != "ca" || s.IsCA || !slices.Equal(s.Usages, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("spec %+v: want a server-auth leaf of the cluster CA called %s", s, CertName)
	}
}

// TestServingCertChainsToTheCA issues the certificate as the dashboard phase
// does and verifies it for every name and address a user may open.
func TestServingCertChainsToTheCA(t *testing.T) {
	c, now := testCluster(t), time.Now()
	root := testPKI(t, c, now)
	kp, action, _, err := certs.EnsureServing(root, mustUI(t, KubernetesDashboard).ServingCert(c, "node-1"),
		certs.ParamsFromConfig(c, "node-1", false), now)
	if err != nil || action != certs.Created {
		t.Fatalf("EnsureServing = %s, %v; want created", action, err)
	}
	ca, err := certs.Load(root, "ca")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, name := range []string{"192.168.56.10", "127.0.0.1", "203.0.113.7", "node-1", "localhost",
		"kubernetes-dashboard.kubernetes-dashboard.svc.cluster.local", "k8s.example.com"} {
		if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: name, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("the serving certificate does not verify for %s: %v", name, err)
		}
	}
	if err := kp.Cert.VerifyHostname("192.168.56.11"); err == nil {
		t.Error("the serving certificate verifies for an address not in its SANs")
	}
}

package dashboard

import (
	"bytes"
	"crypto/x509"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
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
	if _, err := certs.Ensure(root, certs.ParamsFromConfig(c, "node-1", false), now); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestServingSANs(t *testing.T) {
	c := testCluster(t)
	sans := mustUI(t, Headlamp).ServingSANs(c, "Machine-1")
	wantDNS := []string{"node-1", "machine-1", "localhost", "headlamp", "headlamp.headlamp", "headlamp.headlamp.svc",
		"headlamp.headlamp.svc.cluster.local", "k8s.example.com"}
	if !slices.Equal(sans.DNSNames, wantDNS) {
		t.Errorf("DNS SANs %q, want %q", sans.DNSNames, wantDNS)
	}
	if got, want := ipStrings(sans.IPs), []string{"192.168.56.10", "127.0.0.1", "203.0.113.7"}; !slices.Equal(got, want) {
		t.Errorf("IP SANs %q, want %q", got, want)
	}
}

// TestServingCertChainsToTheCA issues the certificate from the real cluster
// CA and verifies it for every name and address a user may open.
func TestServingCertChainsToTheCA(t *testing.T) {
	c, now := testCluster(t), time.Now()
	root := testPKI(t, c, now)
	ui := mustUI(t, KubernetesDashboard)
	sans := ui.ServingSANs(c, "node-1")
	kp, action, _, err := EnsureServingCert(root, sans, c.Certificates.Validity.Duration, now)
	if err != nil || action != certs.Created {
		t.Fatalf("EnsureServingCert = %s, %v; want created", action, err)
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
	if kp.Cert.IsCA || !slices.Equal(kp.Cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("IsCA %v, usages %v: want a server-auth leaf", kp.Cert.IsCA, kp.Cert.ExtKeyUsage)
	}
	if kp.Cert.NotAfter.After(ca.Cert.NotAfter) || kp.Cert.NotAfter.Sub(now) > c.Certificates.Validity.Duration {
		t.Errorf("valid until %s: beyond the configured validity or the CA", kp.Cert.NotAfter)
	}
	for path, mode := range map[string]os.FileMode{layout.Key(CertName): layout.ModePrivate, layout.Cert(CertName): layout.ModePublic} {
		st, err := os.Stat(root.Path(path))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v, mode %v; want %o", path, err, st.Mode().Perm(), mode)
		}
	}
	stored, err := certs.Load(root, CertName)
	if err != nil || !bytes.Equal(stored.CertPEM, kp.CertPEM) || !bytes.Equal(stored.KeyPEM, kp.KeyPEM) {
		t.Errorf("the stored pair is not the one returned: %v", err)
	}
}

func TestServingCertKeptOrReIssued(t *testing.T) {
	c, now := testCluster(t), time.Now()
	root := testPKI(t, c, now)
	ui := mustUI(t, Headlamp)
	sans, validity := ui.ServingSANs(c, "node-1"), c.Certificates.Validity.Duration
	first, _, _, err := EnsureServingCert(root, sans, validity, now)
	if err != nil {
		t.Fatal(err)
	}
	kept, action, _, err := EnsureServingCert(root, sans, validity, now.Add(time.Hour))
	if err != nil || action != certs.Kept || !bytes.Equal(kept.CertPEM, first.CertPEM) {
		t.Fatalf("second run: %s, %v; want the same certificate kept (a re-run must not roll the pods)", action, err)
	}
	other := mustUI(t, KubernetesDashboard).ServingSANs(c, "node-1")
	for _, tc := range []struct {
		name, wantReason string
		sans             SANs
		now              time.Time
		before           func()
	}{
		{name: "due for renewal", wantReason: "expires on", sans: sans, now: now.Add(validity - 29*24*time.Hour)},
		{name: "new CA", wantReason: "not signed by the current cluster CA", sans: sans, now: now, before: func() {
			for _, p := range []string{layout.Cert("ca"), layout.Key("ca")} {
				os.Remove(root.Path(p))
			}
			if _, err := certs.Ensure(root, certs.ParamsFromConfig(c, "node-1", false), now); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "other kind's Service names", wantReason: "DNS SANs", sans: other, now: now},
		{name: "new node address", wantReason: "IP SANs", sans: SANs{DNSNames: other.DNSNames, IPs: []net.IP{net.ParseIP("192.168.56.99")}}, now: now},
	} {
		if tc.before != nil {
			tc.before()
		}
		before, _ := certs.Load(root, CertName)
		got, action, reason, err := EnsureServingCert(root, tc.sans, validity, tc.now)
		if err != nil || action != certs.ReSigned || !strings.Contains(reason, tc.wantReason) || bytes.Equal(got.CertPEM, before.CertPEM) {
			t.Errorf("%s: %s (%s), %v; want a new certificate because %s", tc.name, action, reason, err, tc.wantReason)
		}
	}
}

func TestServingCertNeedsTheCA(t *testing.T) {
	_, _, _, err := EnsureServingCert(host.Root(t.TempDir()), SANs{}, time.Hour, time.Now())
	if err == nil || !strings.Contains(err.Error(), "phase run certs") {
		t.Errorf("without a CA: %v, want an error that says to run the certs phase", err)
	}
}

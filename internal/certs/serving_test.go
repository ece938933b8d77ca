package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// testServing is an in-cluster serving spec like metrics-server's.
func testServing() Spec {
	return ServingSpec(MetricsServer, "metrics-server", []string{"metrics-server", "metrics-server.kube-system",
		"Metrics-Server.kube-system.svc", "metrics-server.kube-system.svc", "", "metrics-server.kube-system.svc.cluster.local"}, nil)
}

func ensureServing(t *testing.T, root host.Root, s Spec, p Params, now time.Time) (*KeyPair, Action, string) {
	t.Helper()
	kp, action, reason, err := EnsureServing(root, s, p, now)
	if err != nil {
		t.Fatalf("EnsureServing(%s): %v", s.Name, err)
	}
	return kp, action, reason
}

func TestServingSpec(t *testing.T) {
	s := ServingSpec(Dashboard, "ui", []string{"Node-1", "", "node-1", "localhost"},
		[]net.IP{net.ParseIP("192.168.56.10"), nil, net.IPv4(192, 168, 56, 10), net.IPv4(127, 0, 0, 1)})
	if !slices.Equal(s.DNSNames, []string{"node-1", "localhost"}) || !slices.Equal(ipStrings(s.IPs), []string{"192.168.56.10", "127.0.0.1"}) {
		t.Errorf("SANs %v %v: want lower-cased, without empties and repeats, in order", s.DNSNames, s.IPs)
	}
	if s.CA != "ca" || s.IsCA || !slices.Equal(s.Usages, serverAuth) || s.CommonName != "ui" {
		t.Errorf("spec %+v: want a server-auth leaf of the cluster CA", s)
	}
}

// TestServingChainsVerify issues a serving certificate for each key
// algorithm and verifies it against the cluster CA with crypto/x509 (and
// openssl when installed) for each of its names, for server auth only.
func TestServingChainsVerify(t *testing.T) {
	for _, alg := range []string{"ecdsa-p256", "rsa-2048"} {
		t.Run(alg, func(t *testing.T) {
			now, p := time.Now(), testParams(alg)
			root, _ := ensure(t, p, now)
			s := testServing()
			kp, action, _ := ensureServing(t, root, s, p, now)
			if action != Created {
				t.Errorf("first issue: %s, want created", action)
			}
			ca := readCert(t, root, "ca")
			roots := x509.NewCertPool()
			roots.AddCert(ca)
			for _, name := range s.DNSNames {
				if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: now,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
					t.Errorf("verify for %s: %v", name, err)
				}
			}
			if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
				t.Error("the serving certificate verifies for client auth")
			}
			if err := kp.Cert.VerifyHostname("kubernetes.default.svc"); err == nil {
				t.Error("the serving certificate verifies for a name not in its SANs")
			}
			c := kp.Cert
			if c.IsCA || !slices.Equal(c.ExtKeyUsage, serverAuth) || c.Subject.CommonName != "metrics-server" ||
				!slices.Equal(c.DNSNames, s.DNSNames) || len(c.IPAddresses) != 0 {
				t.Errorf("IsCA %v, usages %v, CN %q, SANs %v %v", c.IsCA, c.ExtKeyUsage, c.Subject.CommonName, c.DNSNames, c.IPAddresses)
			}
			if c.KeyUsage != keyUsage(s, c.PublicKey) {
				t.Errorf("key usage %v, want the leaves' %v", c.KeyUsage, keyUsage(s, c.PublicKey))
			}
			switch c.PublicKey.(type) {
			case *ecdsa.PublicKey:
				if alg != "ecdsa-p256" {
					t.Errorf("an ECDSA key for %s", alg)
				}
			case *rsa.PublicKey:
				if alg != "rsa-2048" {
					t.Errorf("an RSA key for %s", alg)
				}
			}
			if got := c.NotAfter.Sub(now); got > p.Validity || got < p.Validity-time.Minute || c.NotAfter.After(ca.NotAfter) {
				t.Errorf("valid for %s, want certificates.validity %s, never beyond the CA", got, p.Validity)
			}
			if _, err := exec.LookPath("openssl"); err == nil {
				out, err := exec.Command("openssl", "verify", "-purpose", "sslserver", "-CAfile", root.Path(layout.Cert("ca")),
					root.Path(layout.Cert(s.Name))).CombinedOutput()
				if err != nil || !strings.Contains(string(out), ": OK") {
					t.Errorf("openssl verify: %v\n%s", err, out)
				}
			}
		})
	}
}

func TestServingFiles(t *testing.T) {
	now, p := time.Now(), testParams("ecdsa-p256")
	root, _ := ensure(t, p, now)
	kp, _, _ := ensureServing(t, root, testServing(), p, now)
	for path, mode := range map[string]os.FileMode{layout.Key(MetricsServer): 0o600, layout.Cert(MetricsServer): 0o644} {
		st, err := os.Stat(root.Path(path))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v; want mode %o", path, err, mode)
		}
	}
	stored, err := Load(root, MetricsServer)
	if err != nil || !bytes.Equal(stored.CertPEM, kp.CertPEM) || !bytes.Equal(stored.KeyPEM, kp.KeyPEM) {
		t.Errorf("the stored pair is not the one returned: %v", err)
	}
}

// TestServingKeptOrReIssued: an unchanged certificate is kept byte for byte
// (a re-run must not roll the pods); other names, another CA, another key
// algorithm, a damaged pair or the renewal window re-issue it. The CA is
// never touched.
func TestServingKeptOrReIssued(t *testing.T) {
	now, p := time.Now(), testParams("ecdsa-p256")
	root, _ := ensure(t, p, now)
	s := testServing()
	first, _, _ := ensureServing(t, root, s, p, now)
	caBefore := snapshot(t, root)["etc/kubernetes/pki/ca.crt"]
	kept, action, _ := ensureServing(t, root, s, p, now.Add(time.Hour))
	if action != Kept || !bytes.Equal(kept.CertPEM, first.CertPEM) {
		t.Fatalf("second run: %s; want the same certificate kept", action)
	}
	// Just outside the window (a month before expiry with a 1y validity) it is still kept.
	if _, action, _ := ensureServing(t, root, s, p, first.Cert.NotAfter.Add(-renewBefore-time.Hour)); action != Kept {
		t.Errorf("31 days before expiry: %s, want kept", action)
	}
	rsa := testParams("rsa-2048")
	other := ServingSpec(MetricsServer, "metrics-server", []string{"metrics-server.kube-system.svc"}, nil)
	withIP := ServingSpec(MetricsServer, "metrics-server", other.DNSNames, []net.IP{net.ParseIP("10.96.0.20")})
	short := testParams("ecdsa-p256")
	short.Validity = 30 * config.Day
	for _, tc := range []struct {
		name, wantReason string
		s                Spec
		p                Params
		now              func() time.Time
		before           func()
	}{
		{name: "less than a month left", wantReason: "expires on", s: s, p: p,
			now: func() time.Time { return readCert(t, root, MetricsServer).NotAfter.Add(-29 * config.Day) }},
		{name: "less than a third of a short validity left", wantReason: "expires on", s: s, p: short,
			before: func() { ensureServing(t, root, s, short, now) },
			now:    func() time.Time { return readCert(t, root, MetricsServer).NotAfter.Add(-9 * config.Day) }},
		{name: "DNS names changed", wantReason: "DNS SANs", s: other, p: p},
		{name: "IP SANs changed", wantReason: "IP SANs", s: withIP, p: p},
		{name: "key algorithm changed", wantReason: "key is not rsa-2048", s: withIP, p: rsa},
		{name: "key replaced", wantReason: "does not belong", s: withIP, p: rsa, before: func() {
			copyFile(t, root, layout.Key("admin"), layout.Key(MetricsServer))
		}},
		{name: "certificate deleted", wantReason: "read certificate", s: withIP, p: rsa, before: func() {
			removeFile(t, root, layout.Cert(MetricsServer))
		}},
		{name: "new CA", wantReason: "not signed by the current ca", s: withIP, p: rsa, before: func() {
			removeFile(t, root, layout.Cert("ca"))
			removeFile(t, root, layout.Key("ca"))
			if _, err := Ensure(root, rsa, now, nil); err != nil {
				t.Fatal(err)
			}
			caBefore = snapshot(t, root)["etc/kubernetes/pki/ca.crt"]
		}},
	} {
		if tc.before != nil {
			tc.before()
		}
		at := now
		if tc.now != nil {
			at = tc.now()
		}
		before, _ := os.ReadFile(root.Path(layout.Cert(MetricsServer)))
		got, action, reason, err := EnsureServing(root, tc.s, tc.p, at)
		if err != nil || action != ReSigned || !strings.Contains(reason, tc.wantReason) || bytes.Equal(got.CertPEM, before) {
			t.Errorf("%s: %s (%s), %v; want a new certificate because %s", tc.name, action, reason, err, tc.wantReason)
		}
		if _, action, _ := ensureServing(t, root, tc.s, tc.p, at); action != Kept {
			t.Errorf("%s: the run after re-issuing: %s, want kept", tc.name, action)
		}
		if ca := snapshot(t, root)["etc/kubernetes/pki/ca.crt"]; !bytes.Equal(ca, caBefore) {
			t.Fatalf("%s: EnsureServing changed the CA", tc.name)
		}
	}
}

func TestServingRefuses(t *testing.T) {
	now, p := time.Now(), testParams("ecdsa-p256")
	if _, _, _, err := EnsureServing(host.Root(t.TempDir()), testServing(), p, now); err == nil ||
		!strings.Contains(err.Error(), "phase run certs") {
		t.Errorf("without a CA: %v, want an error that says to run the certs phase", err)
	}
	root, _ := ensure(t, p, now)
	before := snapshot(t, root)
	apiserver, _ := Lookup(p, "apiserver")
	client := ServingSpec(Dashboard, "ui", nil, nil)
	client.Usages = clientAuth
	for _, tc := range []struct {
		s    Spec
		want string
	}{
		{ServingSpec("webhook", "webhook", []string{"webhook.default.svc"}, nil), "not an in-cluster serving certificate"},
		{apiserver, "not an in-cluster serving certificate"},
		{client, "server-auth leaf of the cluster CA"},
	} {
		if _, _, _, err := EnsureServing(root, tc.s, p, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("EnsureServing(%s) = %v, want an error containing %q", tc.s.Name, err, tc.want)
		}
	}
	if diff := changed(before, snapshot(t, root)); len(diff) > 0 {
		t.Errorf("refused issues changed %v", diff)
	}
}

// TestServingRenewAndReport: check-expiration lists the serving certificates
// that exist, renew re-signs them with the names they carry, and renewing
// one that was never issued says which phase issues it.
func TestServingRenewAndReport(t *testing.T) {
	now, p := time.Now(), testParams("ecdsa-p256")
	root, _ := ensure(t, p, now)
	s := testServing()
	first, _, _ := ensureServing(t, root, s, p, now)

	report, err := CheckExpiration(root, now)
	if err != nil {
		t.Fatal(err)
	}
	last := report[len(report)-1]
	if len(report) != len(Specs(p))+1 || last.Name != MetricsServer || last.CA != "ca" || last.IsCA || !last.NotAfter.Equal(first.Cert.NotAfter) {
		t.Errorf("report ends with %+v (%d entries), want the PKI then metrics-server", last, len(report))
	}

	if _, err := Renew(root, p, []string{Dashboard}, now); err == nil || !strings.Contains(err.Error(), "phase run dashboard") {
		t.Errorf("renewing the dashboard certificate that was never issued = %v, want an error naming the dashboard phase", err)
	}
	res, err := Renew(root, p, []string{MetricsServer}, now.Add(time.Hour))
	if err != nil || res.Actions[MetricsServer] != ReSigned || len(res.Actions) != 1 {
		t.Fatalf("Renew(metrics-server) = %v, %v", res.Actions, err)
	}
	renewed := readCert(t, root, MetricsServer)
	if bytes.Equal(renewed.Raw, first.Cert.Raw) || !renewed.NotBefore.After(first.Cert.NotBefore) ||
		!slices.Equal(renewed.DNSNames, s.DNSNames) || renewed.Subject.CommonName != s.CommonName {
		t.Errorf("renewed: CN %q, SANs %v, from %v; want a new certificate with the same names", renewed.Subject.CommonName, renewed.DNSNames, renewed.NotBefore)
	}
	if _, action, _ := ensureServing(t, root, s, p, now.Add(time.Hour)); action != Kept {
		t.Errorf("the phase after a renewal: %s, want the renewed certificate kept", action)
	}

	res, err = Renew(root, p, []string{"all"}, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Actions[MetricsServer] != ReSigned {
		t.Errorf("renew all: metrics-server %s, want re-signed", res.Actions[MetricsServer])
	}
	if _, ok := res.Actions[Dashboard]; ok {
		t.Error("renew all issued a dashboard certificate that did not exist")
	}
	if _, err := Renew(root, p, []string{"dashbord"}, now); err == nil || !strings.Contains(err.Error(), "kubelet, dashboard, metrics-server") {
		t.Errorf("an unknown name: %v, want the valid names with the serving certificates", err)
	}
}

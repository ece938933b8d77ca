package dashboard

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// CertName is the serving certificate's PKI name: pki/dashboard.crt and
// pki/dashboard.key, next to the cluster's own certificates.
const CertName = "dashboard"

// Issuing policy: a certificate starts a little in the past (as the cluster's
// own do) and is re-issued when it has less than a month, or a third of its
// validity, left.
const (
	certBackdate = 5 * time.Minute
	renewBefore  = 30 * 24 * time.Hour
)

// SANs are the names the serving certificate is valid for.
type SANs struct {
	DNSNames []string
	IPs      []net.IP
}

// ServingSANs are the names a browser or client may use to reach ui: the
// node's address, name and host name, apiServer.extraSANs (the node's other
// names, such as a public address), loopback (kubectl port-forward), and the
// Service's cluster DNS names.
func (ui UI) ServingSANs(c *config.Cluster, hostname string) SANs {
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
	return SANs{DNSNames: uniqueStrings(dns), IPs: uniqueIPs(ips)}
}

// EnsureServingCert keeps the serving certificate under root when the
// current cluster CA signed it for exactly sans and it is not due for renewal,
// and otherwise issues a new ECDSA P-256 key and certificate from the CA,
// valid for validity but never beyond the CA. It returns the pair, what it did
// and, when it re-issued, why.
func EnsureServingCert(root host.Root, sans SANs, validity time.Duration, now time.Time) (*certs.KeyPair, certs.Action, string, error) {
	ca, err := certs.Load(root, "ca")
	if err != nil {
		return nil, "", "", fmt.Errorf("dashboard serving certificate: load the cluster CA: %w; run `k8s-single phase run certs` first", err)
	}
	action, reason := certs.Created, ""
	kp, err := certs.Load(root, CertName)
	switch {
	case err == nil:
		if reason = mismatch(kp, ca, sans, validity, now); reason == "" {
			return kp, certs.Kept, "", nil
		}
		action = certs.ReSigned
	case !errors.Is(err, fs.ErrNotExist):
		action, reason = certs.ReSigned, err.Error()
	}
	kp, err = issue(ca, sans, validity, now)
	if err != nil {
		return nil, "", "", err
	}
	if err := root.WriteFile(layout.Key(CertName), kp.KeyPEM, layout.ModePrivate, layout.ModePrivateDir); err != nil {
		return nil, "", "", err
	}
	if err := root.WriteFile(layout.Cert(CertName), kp.CertPEM, layout.ModePublic, layout.ModePrivateDir); err != nil {
		return nil, "", "", err
	}
	return kp, action, reason, nil
}

// mismatch says why a stored serving certificate must be re-issued, or "".
func mismatch(kp, ca *certs.KeyPair, sans SANs, validity time.Duration, now time.Time) string {
	c := kp.Cert
	switch {
	case !bytes.Equal(c.RawIssuer, ca.Cert.RawSubject) || c.CheckSignatureFrom(ca.Cert) != nil:
		return "not signed by the current cluster CA"
	case !slices.Equal(sortedStrings(c.DNSNames), sortedStrings(sans.DNSNames)):
		return fmt.Sprintf("DNS SANs are %v, want %v", c.DNSNames, sans.DNSNames)
	case !slices.Equal(sortedStrings(ipStrings(c.IPAddresses)), sortedStrings(ipStrings(sans.IPs))):
		return fmt.Sprintf("IP SANs are %v, want %v", c.IPAddresses, sans.IPs)
	case c.NotAfter.Sub(now) < min(renewBefore, validity/3):
		return "expires on " + c.NotAfter.Format(time.RFC3339)
	}
	return ""
}

// issue makes a new key and a server certificate for sans, signed by ca.
func issue(ca *certs.KeyPair, sans SANs, validity time.Duration, now time.Time) (*certs.KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dashboard serving certificate: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("dashboard serving certificate: serial number: %w", err)
	}
	start := now.UTC().Truncate(time.Second)
	notAfter := start.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "k8s-single-dashboard"},
		DNSNames:     sans.DNSNames,
		IPAddresses:  sans.IPs,
		NotBefore:    start.Add(-certBackdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("dashboard serving certificate: sign with the cluster CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("dashboard serving certificate: parse: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dashboard serving certificate: encode key: %w", err)
	}
	return &certs.KeyPair{
		Cert:    cert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// uniqueStrings lower-cases names and drops empty ones and repeats, in order.
func uniqueStrings(names []string) []string {
	var out []string
	for _, n := range names {
		n = strings.ToLower(n)
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// uniqueIPs drops nil IPs and repeats, in order.
func uniqueIPs(ips []net.IP) []net.IP {
	var out []net.IP
	for _, ip := range ips {
		if ip != nil && !slices.ContainsFunc(out, ip.Equal) {
			out = append(out, ip)
		}
	}
	return out
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

func sortedStrings(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

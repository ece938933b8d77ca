package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/csr"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// The in-cluster serving certificates: server-auth leaves from the cluster CA
// for workloads k8s-single deploys into the cluster, stored next to the
// others as pki/<name>.crt and .key. Their names depend on what is deployed
// (the dashboard's kind, the cluster domain), so they are not in Specs and
// Ensure never writes them: the phase that deploys the workload issues its
// certificate with EnsureServing and tracks the files as its artifacts.
// CheckExpiration lists them when they exist and Renew re-signs them.
const (
	// Dashboard is the web UI's certificate, for its Service and NodePort.
	Dashboard = "dashboard"
	// MetricsServer is metrics-server's certificate, which the kube-apiserver's
	// aggregation layer verifies against the APIService's caBundle.
	MetricsServer = "metrics-server"
)

// servingNames are the in-cluster serving certificates, in report order.
var servingNames = []string{Dashboard, MetricsServer}

// renewBefore: an in-cluster serving certificate is re-issued when it has less
// than this, or a third of the configured validity, left (whichever is less),
// so a re-run renews it well before its pods would serve an expired one.
const renewBefore = 30 * 24 * time.Hour

// ServingSpec is the spec of the in-cluster serving certificate name: signed
// by the cluster CA, for server auth only, valid for dnsNames (lower-cased,
// empty names and repeats dropped) and ips.
func ServingSpec(name, commonName string, dnsNames []string, ips []net.IP) Spec {
	return Spec{Name: name, CA: "ca", CommonName: commonName,
		DNSNames: uniqueNames(dnsNames...), IPs: uniqueIPs(ips...), Usages: serverAuth}
}

// EnsureServing keeps the in-cluster serving certificate s when the current
// cluster CA signed it exactly as s says (subject, SANs, usages) with a key of
// p's algorithm, and it has more than renewBefore or a third of p.Validity
// left. Otherwise it issues a new key and certificate, as Ensure issues every
// leaf (same signing path, valid for p.Validity, never beyond the CA), and writes them
// (key 0600, certificate 0644). It returns the pair, what it did and, when it
// re-issued, why. The CA is only read, never made: without it the error says
// to run the certs phase.
func EnsureServing(root host.Root, s Spec, p Params, now time.Time) (*KeyPair, Action, string, error) {
	if err := checkServing(s); err != nil {
		return nil, "", "", err
	}
	kr, err := p.keyRequest()
	if err != nil {
		return nil, "", "", err
	}
	ca, err := loadCA(root, s.CA, now)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", "", fmt.Errorf("%s serving certificate: the cluster CA %s is missing; run `k8s-single phase run certs` first",
			s.Name, root.Path(layout.Cert(s.CA)))
	} else if err != nil {
		return nil, "", "", fmt.Errorf("%s serving certificate: %w", s.Name, err)
	}
	return keepOrIssue(root, s, ca, kr, p, now, func(kp *KeyPair) string { return servingMismatch(s, kp, ca, kr, p, now) })
}

// servingMismatch says why a stored serving certificate must be re-issued:
// it no longer matches s (as Ensure checks every leaf), or it is in its
// renewal window; "" when it is kept.
func servingMismatch(s Spec, kp, ca *KeyPair, kr *csr.KeyRequest, p Params, now time.Time) string {
	if reason := mismatch(s, kp, ca, kr, now); reason != "" {
		return reason
	}
	if kp.Cert.NotAfter.Sub(now) < min(renewBefore, p.Validity/3) {
		return "expires on " + kp.Cert.NotAfter.Format(time.RFC3339)
	}
	return ""
}

// checkServing refuses a spec that is not one of the in-cluster serving
// certificates: one CheckExpiration and Renew would not know about, or one
// that is not a server-auth leaf of the cluster CA.
func checkServing(s Spec) error {
	if !slices.Contains(servingNames, s.Name) {
		return fmt.Errorf("certs: %q is not an in-cluster serving certificate (%s)", s.Name, strings.Join(servingNames, ", "))
	}
	if s.IsCA || s.CA != "ca" || !slices.Equal(s.Usages, serverAuth) {
		return fmt.Errorf("certs: %s: an in-cluster serving certificate is a server-auth leaf of the cluster CA; make its spec with ServingSpec", s.Name)
	}
	return nil
}

// renewServing re-signs the in-cluster serving certificate name from the
// cluster CA with a new key, keeping the names it was issued for (as kubeadm
// renews: the existing certificate is the source of its attributes; a phase
// run re-issues it if the config wants other names). It returns the files
// written, or none when the certificate does not exist and !required.
func renewServing(root host.Root, name string, ca *KeyPair, p Params, now time.Time, required bool) ([]string, error) {
	old, err := Load(root, name)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !required:
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("renew %s: %s does not exist: %s; nothing to renew",
			name, root.Path(layout.Cert(name)), servingOwner(name))
	case err != nil:
		return nil, fmt.Errorf("renew %s: %w; delete %s and %s and %s to issue a new one", name, err,
			root.Path(layout.Cert(name)), root.Path(layout.Key(name)), servingOwner(name))
	}
	kr, err := p.keyRequest()
	if err != nil {
		return nil, err
	}
	s := ServingSpec(name, old.Cert.Subject.CommonName, old.Cert.DNSNames, old.Cert.IPAddresses)
	return issueAndWrite(root, s, ca, kr, p, now)
}

// servingOwner says which phase issues an in-cluster serving certificate.
func servingOwner(name string) string {
	if name == Dashboard {
		return "the dashboard phase issues it (`k8s-single phase run dashboard`; none with dashboard.kind none)"
	}
	return "the addons phase issues it (`k8s-single phase run addons`)"
}

package certs

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	cfconfig "github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// backdate starts every certificate a little in the past, as cfssl does by
// default, so a clock that is slightly behind still accepts it.
const backdate = 5 * time.Minute

// issue makes a new key and a certificate for s, signed by ca, or self-signed
// when s is a CA (ca is then nil).
func issue(s Spec, ca *KeyPair, kr *csr.KeyRequest, p Params, now time.Time) (*KeyPair, error) {
	key, keyPEM, err := newKey(kr)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", s.Name, err)
	}
	notBefore, notAfter := validity(s, ca, p, now)
	certPEM, err := sign(s, key, ca, notBefore, notAfter)
	if err != nil {
		return nil, fmt.Errorf("issue %s: %w", s.Name, err)
	}
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("issue %s: parse the new certificate: %w", s.Name, err)
	}
	return &KeyPair{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// validity is the certificate's lifetime: CAValidity for a CA, Validity for a
// leaf but never beyond its CA's NotAfter.
func validity(s Spec, ca *KeyPair, p Params, now time.Time) (notBefore, notAfter time.Time) {
	start := now.UTC().Truncate(time.Second)
	if s.IsCA {
		return start.Add(-backdate), start.Add(p.CAValidity)
	}
	notAfter = start.Add(p.Validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	return start.Add(-backdate), notAfter
}

// sign builds a CSR for s with cfssl's csr package and signs it with cfssl's
// local signer, with explicit NotBefore/NotAfter so callers control the clock.
func sign(s Spec, key crypto.Signer, ca *KeyPair, notBefore, notAfter time.Time) ([]byte, error) {
	req := &csr.CertificateRequest{CN: s.CommonName, Hosts: hosts(s)}
	for _, o := range s.Organization {
		req.Names = append(req.Names, csr.Name{O: o})
	}
	signerKey, signerCert := key, (*x509.Certificate)(nil)
	if s.IsCA {
		req.CA = &csr.CAConfig{}
	} else {
		signerKey, signerCert = ca.Key, ca.Cert
	}
	csrPEM, err := csr.Generate(key, req)
	if err != nil {
		return nil, fmt.Errorf("create CSR: %w", err)
	}
	sg, err := local.NewSigner(signerKey, signerCert, signer.DefaultSigAlgo(signerKey), policy(s, key.Public(), notAfter.Sub(notBefore)))
	if err != nil {
		return nil, fmt.Errorf("create signer: %w", err)
	}
	certPEM, err := sg.Sign(signer.SignRequest{Request: string(csrPEM), NotBefore: notBefore, NotAfter: notAfter})
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return certPEM, nil
}

// policy is the cfssl signing profile of s: initca's CA policy for a CA, a
// plain leaf profile otherwise, with the usages keyUsage and s.Usages name.
func policy(s Spec, pub crypto.PublicKey, lifetime time.Duration) *cfconfig.Signing {
	p := &cfconfig.Signing{Default: &cfconfig.SigningProfile{}}
	if s.IsCA {
		p = initca.CAPolicy()
	}
	p.Default.Usage = usageNames(keyUsage(s, pub), s.Usages)
	p.Default.Expiry = lifetime
	p.Default.ExpiryString = lifetime.String()
	return p
}

// keyUsage is what a certificate's key may do: sign certificates and CRLs for
// a CA; sign (and, for RSA, encipher keys, as kubeadm does) for a leaf.
func keyUsage(s Spec, pub crypto.PublicKey) x509.KeyUsage {
	if s.IsCA {
		return x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	}
	return x509.KeyUsageDigitalSignature
}

// usageNames spells usages the way cfssl profiles do ("digital signature",
// "server auth"), sorted so a profile is the same on every run.
func usageNames(ku x509.KeyUsage, ekus []x509.ExtKeyUsage) []string {
	var names []string
	for name, bit := range cfconfig.KeyUsage {
		if ku&bit != 0 {
			names = append(names, name)
		}
	}
	for name, eku := range cfconfig.ExtKeyUsage {
		if slices.Contains(ekus, eku) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// hosts are the SANs of s in cfssl's form: DNS names and IPs as strings.
func hosts(s Spec) []string {
	out := slices.Clone(s.DNSNames)
	for _, ip := range s.IPs {
		out = append(out, ip.String())
	}
	return out
}

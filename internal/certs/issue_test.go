package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"slices"
	"testing"
	"time"

	cfconfig "github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
)

// TestSignMatchesCfssl proves that sign writes, field for field, the
// certificate cfssl's local signer wrote with initca's CA policy (what
// k8s-single used before it stopped linking cfssl's signer): same key, same
// clock, every field but the random serial and the signature compared.
func TestSignMatchesCfssl(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	ca := Spec{Name: "ca", IsCA: true, CommonName: "kubernetes"}
	leaf := Spec{Name: "apiserver", CA: "ca", CommonName: "kube-apiserver", Organization: []string{"system:masters", "b"},
		DNSNames: []string{"kubernetes", "node-1"}, IPs: []net.IP{net.ParseIP("10.96.0.1"), net.ParseIP("::1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	for _, alg := range []string{"ecdsa-p256", "rsa-2048"} {
		t.Run(alg, func(t *testing.T) {
			kr, err := testParams(alg).keyRequest()
			if err != nil {
				t.Fatal(err)
			}
			caKey, _, err := newKey(kr)
			if err != nil {
				t.Fatal(err)
			}
			notBefore, notAfter := now.Add(-backdate), now.Add(10*365*24*time.Hour)
			ours := signed(t, ca, caKey, nil, notBefore, notAfter, sign)
			theirs := signed(t, ca, caKey, nil, notBefore, notAfter, cfsslSign)
			sameCertificate(t, ours, theirs)
			caPair := &KeyPair{Cert: ours, Key: caKey}
			leafKey, _, err := newKey(kr)
			if err != nil {
				t.Fatal(err)
			}
			notAfter = now.Add(365 * 24 * time.Hour)
			sameCertificate(t, signed(t, leaf, leafKey, caPair, notBefore, notAfter, sign),
				signed(t, leaf, leafKey, caPair, notBefore, notAfter, cfsslSign))
		})
	}
}

// TestSigAlgoMatchesCfssl covers the key sizes TestSignMatchesCfssl does not
// generate (RSA-4096 takes seconds): only the public key's size matters.
func TestSigAlgoMatchesCfssl(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, pub := range []crypto.PublicKey{p256.Public(), rsaPublicKey(2048), rsaPublicKey(4096)} {
		if got, want := sigAlgo(pub), signer.DefaultSigAlgo(publicOnly{pub}); got != want {
			t.Errorf("%T: sigAlgo %v, cfssl %v", pub, got, want)
		}
	}
}

func rsaPublicKey(bits int) *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), uint(bits-1)), E: 65537}
}

// publicOnly is a crypto.Signer that only knows its public key.
type publicOnly struct{ pub crypto.PublicKey }

func (k publicOnly) Public() crypto.PublicKey { return k.pub }

func (publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("public key only")
}

type signFunc func(s Spec, key crypto.Signer, ca *KeyPair, notBefore, notAfter time.Time) ([]byte, error)

func signed(t *testing.T, s Spec, key crypto.Signer, ca *KeyPair, notBefore, notAfter time.Time, f signFunc) *x509.Certificate {
	t.Helper()
	certPEM, err := f(s, key, ca, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func sameCertificate(t *testing.T, ours, theirs *x509.Certificate) {
	t.Helper()
	extIDs := func(c *x509.Certificate) []string {
		var ids []string
		for _, e := range c.Extensions {
			ids = append(ids, e.Id.String())
		}
		slices.Sort(ids)
		return ids
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"subject", bytes.Equal(ours.RawSubject, theirs.RawSubject)},
		{"issuer", bytes.Equal(ours.RawIssuer, theirs.RawIssuer)},
		{"public key", bytes.Equal(ours.RawSubjectPublicKeyInfo, theirs.RawSubjectPublicKeyInfo)},
		{"validity", ours.NotBefore.Equal(theirs.NotBefore) && ours.NotAfter.Equal(theirs.NotAfter)},
		{"key usage", ours.KeyUsage == theirs.KeyUsage},
		{"extended key usage", sameSet(ours.ExtKeyUsage, theirs.ExtKeyUsage)},
		{"basic constraints", ours.BasicConstraintsValid == theirs.BasicConstraintsValid && ours.IsCA == theirs.IsCA &&
			ours.MaxPathLen == theirs.MaxPathLen && ours.MaxPathLenZero == theirs.MaxPathLenZero},
		{"SANs", slices.Equal(ours.DNSNames, theirs.DNSNames) && slices.EqualFunc(ours.IPAddresses, theirs.IPAddresses, net.IP.Equal)},
		{"key ids", bytes.Equal(ours.SubjectKeyId, theirs.SubjectKeyId) && bytes.Equal(ours.AuthorityKeyId, theirs.AuthorityKeyId)},
		{"signature algorithm", ours.SignatureAlgorithm == theirs.SignatureAlgorithm},
		{"extensions", slices.Equal(extIDs(ours), extIDs(theirs))},
		{"serial size", ours.SerialNumber.Sign() > 0 && ours.SerialNumber.BitLen() <= 159},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s differs from cfssl's", c.what)
		}
	}
}

// cfsslSign is how sign made certificates with cfssl's csr and local signer.
func cfsslSign(s Spec, key crypto.Signer, ca *KeyPair, notBefore, notAfter time.Time) ([]byte, error) {
	req := &csr.CertificateRequest{CN: s.CommonName, Hosts: slices.Clone(s.DNSNames)}
	for _, ip := range s.IPs {
		req.Hosts = append(req.Hosts, ip.String())
	}
	for _, o := range s.Organization {
		req.Names = append(req.Names, csr.Name{O: o})
	}
	signerKey, signerCert := key, (*x509.Certificate)(nil)
	policy := &cfconfig.Signing{Default: &cfconfig.SigningProfile{}}
	if s.IsCA {
		req.CA = &csr.CAConfig{}
		policy = initca.CAPolicy()
	} else {
		signerKey, signerCert = ca.Key, ca.Cert
	}
	ku := keyUsage(s, key.Public())
	for name, bit := range cfconfig.KeyUsage {
		if ku&bit != 0 {
			policy.Default.Usage = append(policy.Default.Usage, name)
		}
	}
	for name, eku := range cfconfig.ExtKeyUsage {
		if slices.Contains(s.Usages, eku) {
			policy.Default.Usage = append(policy.Default.Usage, name)
		}
	}
	policy.Default.Expiry = notAfter.Sub(notBefore)
	csrPEM, err := csr.Generate(key, req)
	if err != nil {
		return nil, err
	}
	sg, err := local.NewSigner(signerKey, signerCert, signer.DefaultSigAlgo(signerKey), policy)
	if err != nil {
		return nil, err
	}
	return sg.Sign(signer.SignRequest{Request: string(csrPEM), NotBefore: notBefore, NotAfter: notAfter})
}

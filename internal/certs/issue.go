package certs

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
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

// sign makes s's certificate for key with crypto/x509, signed by ca (self-signed
// when s is a CA), with explicit NotBefore/NotAfter so callers control the clock.
// It writes what cfssl's local signer wrote with initca's CA policy: a random
// 159-bit serial, basic constraints on every certificate, a SHA-1 subject key
// id, the signature algorithm by key size; cfssl's signer is not linked in
// because its lint registry costs every command ~10 ms at start-up.
func sign(s Spec, key crypto.Signer, ca *KeyPair, notBefore, notAfter time.Time) ([]byte, error) {
	serial := make([]byte, 20)
	if _, err := rand.Read(serial); err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	serial[0] &= 0x7f
	ski, err := subjectKeyID(key.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial),
		Subject:               pkix.Name{CommonName: s.CommonName, Organization: s.Organization},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              keyUsage(s, key.Public()),
		ExtKeyUsage:           s.Usages,
		BasicConstraintsValid: true,
		IsCA:                  s.IsCA,
		SubjectKeyId:          ski,
		DNSNames:              s.DNSNames,
		IPAddresses:           s.IPs,
	}
	parent, signer := tmpl, key
	if !s.IsCA {
		parent, signer = ca.Cert, ca.Key
	}
	tmpl.SignatureAlgorithm = sigAlgo(signer.Public())
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// subjectKeyID is the SHA-1 of the public key's bits (RFC 5280 4.2.1.2,
// method 1), as cfssl computes it.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("subject key id: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// sigAlgo is the signature algorithm for the signing key pub, by key size as
// cfssl chooses it: SHA-512 for RSA-4096, SHA-256 for RSA-2048 and ECDSA P-256.
func sigAlgo(pub crypto.PublicKey) x509.SignatureAlgorithm {
	k, isRSA := pub.(*rsa.PublicKey)
	switch {
	case isRSA && k.N.BitLen() >= 4096:
		return x509.SHA512WithRSA
	case isRSA:
		return x509.SHA256WithRSA
	}
	return x509.ECDSAWithSHA256
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

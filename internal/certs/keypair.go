package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// KeyPair is a certificate and its private key, both as stored (PEM) and parsed.
type KeyPair struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// Load reads the certificate and key of a PKI name ("ca", "etcd/server") and
// checks that the key belongs to the certificate. A missing file yields an
// error that wraps fs.ErrNotExist.
func Load(root host.Root, name string) (*KeyPair, error) {
	certPEM, err := root.ReadFile(layout.Cert(name))
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	keyPEM, err := root.ReadFile(layout.Key(name))
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	return parsePair(root, name, certPEM, keyPEM)
}

func parsePair(root host.Root, name string, certPEM, keyPEM []byte) (*KeyPair, error) {
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %s: %w", root.Path(layout.Cert(name)), err)
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", root.Path(layout.Key(name)), err)
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("key %s does not belong to certificate %s",
			root.Path(layout.Key(name)), root.Path(layout.Cert(name)))
	}
	return &KeyPair{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// write stores the key first, then the certificate: a run killed in between
// leaves a key that no longer matches its certificate, which the next Ensure
// re-signs (for a leaf) or reports (for a CA).
func (kp *KeyPair) write(root host.Root, name string) ([]string, error) {
	files := []string{layout.Key(name), layout.Cert(name)}
	if err := root.WriteFile(files[0], kp.KeyPEM, layout.ModePrivate, layout.ModePrivateDir); err != nil {
		return nil, err
	}
	if err := root.WriteFile(files[1], kp.CertPEM, layout.ModePublic, layout.ModePrivateDir); err != nil {
		return nil, err
	}
	return files, nil
}

// presence reports which of a name's certificate and key exist.
func presence(root host.Root, name string) (cert, key bool, err error) {
	if cert, err = exists(root, layout.Cert(name)); err != nil {
		return false, false, err
	}
	key, err = exists(root, layout.Key(name))
	return cert, key, err
}

func exists(root host.Root, hostPath string) (bool, error) {
	_, err := os.Stat(root.Path(hostPath))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("check: %w", err)
}

// newKey generates a private key as kr asks and returns it with its PEM.
func newKey(kr *csr.KeyRequest) (crypto.Signer, []byte, error) {
	priv, err := kr.Generate()
	if err != nil {
		return nil, nil, fmt.Errorf("generate %s-%d key: %w", kr.Algo(), kr.Size(), err)
	}
	key, ok := priv.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("generate %s-%d key: %T cannot sign", kr.Algo(), kr.Size(), priv)
	}
	keyPEM, err := encodeKey(key)
	return key, keyPEM, err
}

// encodeKey writes a key the way kubeadm does: SEC 1 for ECDSA, PKCS #1 for RSA.
func encodeKey(key crypto.Signer) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("encode ECDSA key: %w", err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	}
	return nil, fmt.Errorf("encode key: unsupported key type %T", key)
}

// encodePublicKey writes a public key as PKIX PEM, the form of sa.pub.
func encodePublicKey(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

// keyFits reports whether a public key has the algorithm and size kr asks for.
func keyFits(pub crypto.PublicKey, kr *csr.KeyRequest) bool {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return kr.Algo() == "ecdsa" && helpers.KeyLength(pub) == kr.Size()
	case *rsa.PublicKey:
		return kr.Algo() == "rsa" && helpers.KeyLength(pub) == kr.Size()
	}
	return false
}

package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// WarnWithin is how close to its expiry a certificate is reported as a
// warning by check-expiration and status, and renewed by the daily timer.
const WarnWithin = 30 * 24 * time.Hour

// KubeletRotatedCert is the client certificate the kubelet really uses once
// it has rotated its own through the cluster's CSR signer (about 10 s after
// its first start); pki/kubelet-client.crt only bootstraps it.
const KubeletRotatedCert = layout.KubeletDir + "/pki/kubelet-client-current.pem"

// Due names the leaves (the in-cluster serving certificates included) that
// expire within the window at now, for `certs renew --expiring-within`. CAs
// are never due: k8s-single never rotates a CA on its own. The kubelet's
// client certificate is not due either when the kubelet rotates its own.
func Due(report []Expiry, within time.Duration) []string {
	var due []string
	for _, e := range report {
		if !e.IsCA && !e.Rotated && !e.Unused && e.Residual < within {
			due = append(due, e.Name)
		}
	}
	return due
}

// Warnings are the lines a user must see about the report: every
// certificate with less than within left, with what happens or what to do.
func Warnings(report []Expiry, within time.Duration) []string {
	var out []string
	for _, e := range report {
		if e.Residual >= within {
			continue
		}
		left := "expired"
		if e.Residual > 0 {
			left = residual(e.Residual) + " left"
		}
		switch {
		case e.IsCA:
			out = append(out, fmt.Sprintf("CA %s: %s; k8s-single never replaces a CA on its own: a new CA means new certificates "+
				"for every component and client, see the README's \"CA expiry\"", e.Name, left))
		case e.Rotated:
			out = append(out, fmt.Sprintf("%s: %s; the kubelet rotates it itself: check that kubelet.service runs "+
				"and the controller-manager signs its CSRs (kubectl get csr)", e.Name, left))
		default:
			out = append(out, fmt.Sprintf("%s: %s; the daily k8s-single-certs.timer renews it, or now: k8s-single certs renew %s",
				e.Name, left, e.Name))
		}
	}
	return out
}

// kubeletInUse reports the kubelet's rotated client certificate, when the
// kubelet has made one.
func kubeletInUse(root host.Root, now time.Time) (*Expiry, error) {
	data, err := root.ReadFile(KubeletRotatedCert)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cert, err := firstCertificate(data, err)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; stop kubelet.service, delete the file and start the kubelet again (it falls back to kubelet.conf)",
			root.Path(KubeletRotatedCert), err)
	}
	return &Expiry{Name: "kubelet-client (rotated)", CA: "ca", NotAfter: cert.NotAfter, Residual: cert.NotAfter.Sub(now),
		Rotated: true, Path: KubeletRotatedCert}, nil
}

// firstCertificate parses the first CERTIFICATE block of a PEM file that
// also holds the key, as the kubelet writes its rotated pair.
func firstCertificate(data []byte, readErr error) (*x509.Certificate, error) {
	if readErr != nil {
		return nil, readErr
	}
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
	return nil, errors.New("no certificate in it")
}

// DropForeignKubeletCerts removes the kubelet's rotated client certificates
// when the cluster CA did not sign the one in use: a previous install's
// (left by `reset --purge`, or found by a restore on a used machine). With it
// the apiserver refuses the kubelet (Unauthorized) and the Node never
// registers; without it the kubelet starts from kubelet.conf's certificate
// and rotates anew. It returns the host paths it removed.
func DropForeignKubeletCerts(root host.Root) ([]string, error) {
	data, err := root.ReadFile(KubeletRotatedCert)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	cert, err := firstCertificate(data, err)
	if err == nil {
		var ca *x509.Certificate
		if ca, err = firstCertificate(root.ReadFile(layout.Cert("ca"))); err != nil {
			return nil, fmt.Errorf("read the cluster CA: %w", err)
		}
		if cert.CheckSignatureFrom(ca) == nil {
			return nil, nil
		}
	}
	paths, gerr := filepath.Glob(root.Path(path.Join(path.Dir(KubeletRotatedCert), "kubelet-client-*.pem")))
	if gerr != nil {
		return nil, gerr
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

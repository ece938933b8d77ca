package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// NodePortOf reads the node port ui's Service answers HTTPS on.
func NodePortOf(ctx context.Context, cs kubernetes.Interface, ui UI) (int32, error) {
	svc, err := cs.CoreV1().Services(ui.Namespace).Get(ctx, ui.Service, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("read Service %s/%s: %w; is the dashboard installed? run `k8s-single phase run dashboard`", ui.Namespace, ui.Service, err)
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == httpsPortName && p.NodePort != 0 {
			return p.NodePort, nil
		}
	}
	return 0, fmt.Errorf("Service %s/%s has no %s node port; run `k8s-single phase run dashboard` to restore it", ui.Namespace, ui.Service, httpsPortName)
}

// HTTPSClient trusts only the CA in caPEM, as a browser told to trust the
// cluster CA does, and never follows a redirect (the UI's answer is checked,
// not where it points).
func HTTPSClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no PEM certificate in the cluster CA file; restore /etc/kubernetes/pki/ca.crt from your backup")
	}
	return &http.Client{
		Timeout:       5 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Status GETs url with client and returns the HTTP status code.
func Status(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// Fingerprint is the SHA-256 fingerprint of the first certificate in
// certPEM, as browsers show it (AB:CD:...).
func Fingerprint(certPEM []byte) (string, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("no PEM certificate")
	}
	sum := sha256.Sum256(block.Bytes)
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(hexes, ":"), nil
}

package dashboard

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// TestHTTPSClientTrustsOnlyTheCA serves the issued certificate as the UI
// would and GETs it as the dashboard phase does: only the cluster CA is trusted.
func TestHTTPSClientTrustsOnlyTheCA(t *testing.T) {
	c, now := testCluster(t), time.Now()
	root := testPKI(t, c, now)
	kp, _, _, err := certs.EnsureServing(root, mustUI(t, Headlamp).ServingCert(c, "node-1"), certs.ParamsFromConfig(c, "node-1", false), now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(kp.CertPEM, kp.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.Redirect(w, r, "/", http.StatusFound)
		}
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()

	caPEM, err := root.ReadFile(layout.Cert("ca"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := HTTPSClient(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for path, want := range map[string]int{"/": http.StatusOK, "/elsewhere": http.StatusFound} {
		if code, err := Status(ctx, client, srv.URL+path); err != nil || code != want {
			t.Errorf("GET %s = %d, %v; want %d", path, code, err, want)
		}
	}
	otherCA, err := root.ReadFile(layout.Cert("front-proxy-ca"))
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := HTTPSClient(otherCA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Status(ctx, stranger, srv.URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client trusting another CA got through: %v", err)
	}
	if _, err := HTTPSClient([]byte("not PEM")); err == nil {
		t.Error("a CA file without a certificate was accepted")
	}

	fp, err := Fingerprint(caPEM)
	block, _ := pem.Decode(caPEM)
	sum := sha256.Sum256(block.Bytes)
	if err != nil || !strings.HasPrefix(fp, fmt.Sprintf("%02X:%02X:", sum[0], sum[1])) || len(fp) != len(sum)*3-1 {
		t.Errorf("Fingerprint = %q, %v; want the SHA-256 of the CA as AB:CD:...", fp, err)
	}
}

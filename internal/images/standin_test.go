package images

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/gocachetest"
)

func TestDashboardStandInIsTestOnly(t *testing.T) {
	img := DashboardStandIn()
	if img.Ref != "k8s-single.local/dashboard-standin:"+img.Version || !strings.HasPrefix(img.Version, "src-") ||
		img.Binary != "/dashboard-standin" || img.Module != "" {
		t.Errorf("stand-in recipe %+v: want k8s-single's own source under a k8s-single.local reference", img)
	}
	for _, r := range Required(config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})) {
		if r.Name == DashboardStandInName {
			t.Error("the stand-in is among the required images; only tests build it")
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stand-in test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestBuildDashboardStandIn builds the stand-in image through Build, cold
// then warm, and runs the binary it holds with Headlamp's TLS flags: it
// answers HTTPS and refuses plain HTTP.
func TestBuildDashboardStandIn(t *testing.T) {
	cacheDir, outDir := gocachetest.SharedCacheDir(t), t.TempDir()
	_, loaded := buildTwice(t, []Image{DashboardStandIn()}, outDir, cacheDir)
	_, bin := onlyFile(t, loaded[DashboardStandInName])
	dir := t.TempDir()
	path := filepath.Join(dir, DashboardStandInName)
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, pool := selfSigned(t, dir)
	port := strconv.Itoa(freePort(t))
	cmd := exec.Command(path, "-in-cluster", "-tls-cert-path="+certFile, "-tls-key-path="+keyFile, "-port="+port)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get("https://127.0.0.1:" + port + "/")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d: %s", resp.StatusCode, body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stand-in does not answer HTTPS: %v", err)
		}
	}
	if !strings.Contains(string(body), "TEST-ONLY STAND-IN") {
		t.Errorf("the page does not say it is a stand-in:\n%s", body)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the stand-in answered plain HTTP")
		}
	}
}

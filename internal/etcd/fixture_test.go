package etcd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
)

// etcdBinaryEnv overrides where the tests find the etcd binary.
const etcdBinaryEnv = "K8S_SINGLE_ETCD"

const defaultEtcdBinary = "/var/cache/k8s-single/work/etcd-v3.7.3/bin/etcd"

// testPKI is a throwaway etcd PKI: a CA with a server and a client
// certificate, and a client certificate from another CA.
type testPKI struct {
	CA                      string
	ServerCert, ServerKey   string
	ClientCert, ClientKey   string
	ForeignCert, ForeignKey string
}

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestPKI(t testing.TB) testPKI {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, dir, "ca")
	foreign := newCA(t, dir, "foreign-ca")
	p := testPKI{CA: filepath.Join(dir, "ca.crt")}
	p.ServerCert, p.ServerKey = ca.issue(t, dir, "server", x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey = ca.issue(t, dir, "client", x509.ExtKeyUsageClientAuth)
	p.ForeignCert, p.ForeignKey = foreign.issue(t, dir, "foreign-client", x509.ExtKeyUsageClientAuth)
	return p
}

func newCA(t testing.TB, dir, name string) issuer {
	t.Helper()
	tmpl := template(name)
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	key := newKey(t)
	cert := sign(t, tmpl, tmpl, key, key)
	writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", cert.Raw)
	return issuer{cert: cert, key: key}
}

// issue writes a leaf certificate valid for 127.0.0.1 and returns its paths.
func (ca issuer) issue(t testing.TB, dir, name string, usage x509.ExtKeyUsage) (certPath, keyPath string) {
	t.Helper()
	tmpl := template(name)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	key := newKey(t)
	cert := sign(t, tmpl, ca.cert, key, ca.key)
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, certPath, "CERTIFICATE", cert.Raw)
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyPath, "EC PRIVATE KEY", der)
	return certPath, keyPath
}

func template(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// etcdMember describes an etcd process to start.
type etcdMember struct {
	Name    string
	DataDir string
	// PeerPort is chosen at random when zero.
	PeerPort int
	// NoClientCertAuth starts etcd without --client-cert-auth and without
	// --trusted-ca-file (which alone makes etcd require client certificates).
	NoClientCertAuth bool
	// QuotaBytes is --quota-backend-bytes when not zero.
	QuotaBytes int
}

// etcdServer is a running etcd process.
type etcdServer struct {
	Endpoint string
	PeerURL  string
}

// etcdBinary returns the etcd binary to test against, or skips the test.
func etcdBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(etcdBinaryEnv)
	if bin == "" {
		bin = defaultEtcdBinary
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no etcd binary at %s (build it, or set %s to one): %v", bin, etcdBinaryEnv, err)
	}
	return bin
}

// startEtcd runs etcd on 127.0.0.1 with random free ports, waits until it
// is healthy and kills it when the test ends.
func startEtcd(t testing.TB, p testPKI, m etcdMember) etcdServer {
	t.Helper()
	bin := etcdBinary(t)
	if m.PeerPort == 0 {
		m.PeerPort = freePort(t)
	}
	srv := etcdServer{
		Endpoint: "https://127.0.0.1:" + strconv.Itoa(freePort(t)),
		PeerURL:  "http://127.0.0.1:" + strconv.Itoa(m.PeerPort),
	}
	args := []string{
		"--name", m.Name, "--data-dir", m.DataDir,
		"--listen-client-urls", srv.Endpoint, "--advertise-client-urls", srv.Endpoint,
		"--listen-peer-urls", srv.PeerURL, "--initial-advertise-peer-urls", srv.PeerURL,
		"--initial-cluster", m.Name + "=" + srv.PeerURL,
		"--cert-file", p.ServerCert, "--key-file", p.ServerKey,
		"--log-level", "warn",
	}
	if !m.NoClientCertAuth {
		args = append(args, "--client-cert-auth", "--trusted-ca-file", p.CA)
	}
	if m.QuotaBytes > 0 {
		args = append(args, "--quota-backend-bytes", strconv.Itoa(m.QuotaBytes))
	}
	logPath := filepath.Join(t.TempDir(), "etcd.log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	waitHealthy(t, p.client(t, srv.Endpoint), logPath)
	return srv
}

func waitHealthy(t testing.TB, c *etcd.Client, logPath string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		report := c.Health(context.Background())
		if report.Healthy() {
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("etcd not healthy after 30s: %+v\netcd log:\n%s", report, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client returns a client with the PKI's client certificate.
func (p testPKI) client(t testing.TB, endpoints ...string) *etcd.Client {
	t.Helper()
	return newClient(t, etcdconn.Options{Endpoints: endpoints, CACert: p.CA, Cert: p.ClientCert, Key: p.ClientKey})
}

// foreignClient returns a client whose certificate another CA signed.
func (p testPKI) foreignClient(t testing.TB, endpoints ...string) *etcd.Client {
	t.Helper()
	return newClient(t, etcdconn.Options{Endpoints: endpoints, CACert: p.CA, Cert: p.ForeignCert, Key: p.ForeignKey})
}

func newClient(t testing.TB, o etcdconn.Options) *etcd.Client {
	t.Helper()
	c, err := etcd.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// compactAll compacts the server's history up to its current revision, as
// the apiserver does every 5 minutes, with etcdctl (our client has no
// compaction: the apiserver owns it).
func compactAll(t testing.TB, srv etcdServer, p testPKI) {
	t.Helper()
	etcdctl := filepath.Join(filepath.Dir(etcdBinary(t)), "etcdctl")
	flags := []string{"--endpoints", srv.Endpoint, "--cacert", p.CA, "--cert", p.ClientCert, "--key", p.ClientKey}
	out, err := exec.Command(etcdctl, append(flags, "endpoint", "status", "-w", "json")...).Output()
	if err != nil {
		t.Fatalf("etcdctl endpoint status: %v", err)
	}
	var status []struct {
		Status struct {
			Header struct {
				Revision int64 `json:"revision"`
			} `json:"header"`
		} `json:"Status"`
	}
	if err := json.Unmarshal(out, &status); err != nil || len(status) != 1 {
		t.Fatalf("etcdctl endpoint status: %v\n%s", err, out)
	}
	rev := strconv.FormatInt(status[0].Status.Header.Revision, 10)
	if out, err := exec.Command(etcdctl, append(flags, "compact", rev, "--physical")...).CombinedOutput(); err != nil {
		t.Fatalf("etcdctl compact %s: %v\n%s", rev, err, out)
	}
}

package kubeconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// setup returns a defaulted cluster and a root holding its PKI.
func setup(t *testing.T) (host.Root, *config.Cluster) {
	t.Helper()
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	root := host.Root(t.TempDir())
	if _, err := certs.Ensure(root, certs.ParamsFromConfig(c, "node-1", false), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	return root, c
}

// stats returns each kubeconfig's FileInfo, to tell whether Ensure replaced it.
func stats(t *testing.T, root host.Root) map[string]os.FileInfo {
	t.Helper()
	out := map[string]os.FileInfo{}
	for _, n := range Names() {
		st, err := os.Stat(root.Path(layout.Kubeconfig(n)))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = st
	}
	return out
}

func TestEnsureWritesEachKubeconfig(t *testing.T) {
	tests := []struct {
		name, user string
		groups     []string
	}{
		{"admin", "kubernetes-admin", []string{"kubeadm:cluster-admins"}},
		{"super-admin", "kubernetes-super-admin", []string{"system:masters"}},
		{"controller-manager", "system:kube-controller-manager", nil},
		{"scheduler", "system:kube-scheduler", nil},
		{"kubelet", "system:node:node-1", []string{"system:nodes"}},
		{"kube-proxy", "system:kube-proxy", []string{"system:node-proxier"}},
	}
	root, c := setup(t)
	files, err := Ensure(root, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) || len(Names()) != len(tests) {
		t.Fatalf("Ensure wrote %v; Names() = %v; the test table has %d", files, Names(), len(tests))
	}
	caPEM, err := root.ReadFile(layout.Cert("ca"))
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if files[i] != layout.Kubeconfig(tt.name) {
				t.Errorf("files[%d] = %s, want %s", i, files[i], layout.Kubeconfig(tt.name))
			}
			path := root.Path(layout.Kubeconfig(tt.name))
			cfg, err := clientcmd.LoadFromFile(path)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			ctx := cfg.Contexts[cfg.CurrentContext]
			if cfg.CurrentContext != tt.user+"@kubernetes" || ctx == nil || ctx.Cluster != "kubernetes" || ctx.AuthInfo != tt.user {
				t.Fatalf("current context %q = %+v, want %s@kubernetes on cluster kubernetes", cfg.CurrentContext, ctx, tt.user)
			}
			cluster, auth := cfg.Clusters["kubernetes"], cfg.AuthInfos[tt.user]
			if cluster.Server != "https://192.168.56.10:6443" {
				t.Errorf("server %q", cluster.Server)
			}
			if !bytes.Equal(cluster.CertificateAuthorityData, caPEM) {
				t.Error("embedded CA differs from pki/ca.crt")
			}
			cert := clientCert(t, auth.ClientCertificateData, auth.ClientKeyData)
			if cert.Subject.CommonName != tt.user || !slices.Equal(cert.Subject.Organization, tt.groups) {
				t.Errorf("client cert CN=%q O=%q, want CN=%q O=%q", cert.Subject.CommonName, cert.Subject.Organization, tt.user, tt.groups)
			}
			if spec, err := User(c, tt.name); err != nil || spec.CommonName != tt.user || !slices.Equal(spec.Organization, tt.groups) {
				t.Errorf("User(%s) = %+v, %v", tt.name, spec, err)
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(cluster.CertificateAuthorityData)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("client cert does not verify against the embedded CA: %v", err)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("mode %v (%v), want 0600", st.Mode().Perm(), err)
			}
		})
	}
}

// clientCert checks that the key belongs to the cert and returns the cert.
func clientCert(t *testing.T, certPEM, keyPEM []byte) *x509.Certificate {
	t.Helper()
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("client cert and key: %v", err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestSecondEnsureTouchesNothing(t *testing.T) {
	root, c := setup(t)
	if _, err := Ensure(root, c); err != nil {
		t.Fatal(err)
	}
	before := stats(t, root)
	if _, err := Ensure(root, c); err != nil {
		t.Fatal(err)
	}
	for name, st := range stats(t, root) {
		if !os.SameFile(before[name], st) || !st.ModTime().Equal(before[name].ModTime()) {
			t.Errorf("%s.conf was rewritten", name)
		}
	}
}

func TestEnsureRewritesOnlyWhatChanged(t *testing.T) {
	root, c := setup(t)
	if _, err := Ensure(root, c); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.Renew(root, certs.ParamsFromConfig(c, "node-1", false), []string{"admin"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root.Path(layout.Kubeconfig("scheduler")), 0o644); err != nil {
		t.Fatal(err)
	}
	before := stats(t, root)
	if _, err := Ensure(root, c); err != nil {
		t.Fatal(err)
	}
	after := stats(t, root)
	for _, name := range Names() {
		rewritten := !os.SameFile(before[name], after[name])
		if want := name == "admin" || name == "scheduler"; rewritten != want {
			t.Errorf("%s.conf rewritten=%v, want %v", name, rewritten, want)
		}
		if after[name].Mode().Perm() != 0o600 {
			t.Errorf("%s.conf mode %o, want 600", name, after[name].Mode().Perm())
		}
	}
}

func TestEnsureErrors(t *testing.T) {
	tests := []struct {
		name string
		prep func(t *testing.T) (host.Root, *config.Cluster)
		want []string
	}{
		{"no PKI", func(t *testing.T) (host.Root, *config.Cluster) {
			_, c := setup(t)
			return host.Root(t.TempDir()), c
		}, []string{"ca.crt", "phase run certs"}},
		{"node renamed, certs not re-run", func(t *testing.T) (host.Root, *config.Cluster) {
			root, c := setup(t)
			c.Node.Name = "node-2"
			return root, c
		}, []string{"kubelet-client.crt", `want CN="system:node:node-2"`, "phase run certs"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, c := tt.prep(t)
			_, err := Ensure(root, c)
			for _, w := range tt.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Ensure = %v, want an error containing %q", err, w)
				}
			}
		})
	}
}

func TestServer(t *testing.T) {
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "fd00::10"})
	c.APIServer.Port = 8443
	if got, want := Server(c), "https://[fd00::10]:8443"; got != want {
		t.Errorf("Server = %s, want %s", got, want)
	}
}

func TestClientCertUnknown(t *testing.T) {
	if _, err := ClientCert("kubelet-client"); err == nil || !strings.Contains(err.Error(), "admin") {
		t.Errorf("ClientCert(kubelet-client) = %v, want an error listing the valid names", err)
	}
}

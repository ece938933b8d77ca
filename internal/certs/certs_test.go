package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/helpers"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

func testParams(alg string) Params {
	return Params{
		NodeName:     "node-1",
		NodeAddress:  "192.168.56.10",
		Hostname:     "vm-1",
		ServiceIP:    "10.96.0.1",
		DNSDomain:    "cluster.local",
		ExtraSANs:    []string{"203.0.113.7", "api.example.com"},
		IPv6:         true,
		KeyAlgorithm: alg,
		CAValidity:   10 * config.Year,
		Validity:     config.Year,
	}
}

// ensure runs Ensure on a fresh root and fails the test on error.
func ensure(t testing.TB, p Params, now time.Time) (host.Root, Result) {
	t.Helper()
	root := host.Root(t.TempDir())
	res, err := Ensure(root, p, now, nil)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return root, res
}

func readCert(t *testing.T, root host.Root, name string) *x509.Certificate {
	t.Helper()
	data, err := root.ReadFile(layout.Cert(name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := helpers.ParseCertificatePEM(data)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return c
}

// snapshot maps every file under root (relative path) to its content.
func snapshot(t *testing.T, root host.Root) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(string(root), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(string(root), path)
		files[rel] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// changed lists the files whose content differs between two snapshots.
func changed(before, after map[string][]byte) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if !bytes.Equal(before[k], after[k]) {
			out = append(out, k)
		}
	}
	return out
}

func TestEnsureChainsVerify(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	for _, alg := range []string{"ecdsa-p256", "rsa-2048"} {
		t.Run(alg, func(t *testing.T) {
			now := time.Now()
			p := testParams(alg)
			root, _ := ensure(t, p, now)
			for _, s := range Specs(p) {
				if s.IsCA {
					continue
				}
				t.Run(s.Name, func(t *testing.T) {
					roots := x509.NewCertPool()
					roots.AddCert(readCert(t, root, s.CA))
					opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: s.Usages}
					if _, err := readCert(t, root, s.Name).Verify(opts); err != nil {
						t.Errorf("crypto/x509 verify: %v", err)
					}
					purpose := "sslclient"
					if slices.Contains(s.Usages, x509.ExtKeyUsageServerAuth) {
						purpose = "sslserver"
					}
					out, err := exec.Command("openssl", "verify", "-purpose", purpose,
						"-CAfile", root.Path(layout.Cert(s.CA)), root.Path(layout.Cert(s.Name))).CombinedOutput()
					if err != nil || !strings.Contains(string(out), ": OK") {
						t.Errorf("openssl verify: %v\n%s", err, out)
					}
				})
			}
		})
	}
}

func TestEnsureCertificateContents(t *testing.T) {
	server, client := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	etcdDNS := []string{"vm-1", "node-1", "localhost"}
	etcdIPs := []string{"192.168.56.10", "127.0.0.1", "::1"}
	tests := []struct {
		name, ca, cn string
		o            []string
		dns, ips     []string
		usages       []x509.ExtKeyUsage
	}{
		{name: "ca", cn: "kubernetes"},
		{name: "front-proxy-ca", cn: "front-proxy-ca"},
		{name: "etcd/ca", cn: "etcd-ca"},
		{name: "apiserver", ca: "ca", cn: "kube-apiserver", usages: server,
			dns: []string{"vm-1", "node-1", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local", "localhost", "api.example.com"},
			ips: []string{"192.168.56.10", "127.0.0.1", "::1", "10.96.0.1", "203.0.113.7"}},
		{name: "apiserver-kubelet-client", ca: "ca", cn: "kube-apiserver-kubelet-client", usages: client},
		{name: "front-proxy-client", ca: "front-proxy-ca", cn: "front-proxy-client", usages: client},
		{name: "etcd/server", ca: "etcd/ca", cn: "node-1", dns: etcdDNS, ips: etcdIPs, usages: both},
		{name: "etcd/peer", ca: "etcd/ca", cn: "node-1", dns: etcdDNS, ips: etcdIPs, usages: both},
		{name: "etcd/healthcheck-client", ca: "etcd/ca", cn: "kube-etcd-healthcheck-client", usages: client},
		{name: "apiserver-etcd-client", ca: "etcd/ca", cn: "kube-apiserver-etcd-client", usages: client},
		{name: "admin", ca: "ca", cn: "kubernetes-admin", o: []string{"kubeadm:cluster-admins"}, usages: client},
		{name: "super-admin", ca: "ca", cn: "kubernetes-super-admin", o: []string{"system:masters"}, usages: client},
		{name: "controller-manager", ca: "ca", cn: "system:kube-controller-manager", usages: client},
		{name: "scheduler", ca: "ca", cn: "system:kube-scheduler", usages: client},
		{name: "kube-proxy", ca: "ca", cn: "system:kube-proxy", o: []string{"system:node-proxier"}, usages: client},
		{name: "kubelet-client", ca: "ca", cn: "system:node:node-1", o: []string{"system:nodes"}, usages: client},
		{name: "controller-manager-serving", ca: "ca", cn: "kube-controller-manager", dns: []string{"localhost"}, ips: []string{"127.0.0.1", "::1"}, usages: server},
		{name: "scheduler-serving", ca: "ca", cn: "kube-scheduler", dns: []string{"localhost"}, ips: []string{"127.0.0.1", "::1"}, usages: server},
		{name: "kubelet", ca: "ca", cn: "node-1", dns: []string{"node-1", "vm-1"}, ips: []string{"192.168.56.10", "127.0.0.1"}, usages: server},
	}
	now := time.Date(2026, 3, 1, 12, 0, 30, 500, time.UTC)
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, now)
	if got, want := len(Specs(p)), len(tests); got != want {
		t.Fatalf("Specs has %d entries, the test table %d: add the new spec here", got, want)
	}
	start := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := readCert(t, root, tt.name)
			wantKU, wantNotAfter := x509.KeyUsageDigitalSignature, start.Add(p.Validity)
			if tt.ca == "" {
				wantKU, wantNotAfter = x509.KeyUsageCertSign|x509.KeyUsageCRLSign, start.Add(p.CAValidity)
				if !c.IsCA || !c.BasicConstraintsValid || c.Issuer.CommonName != tt.cn {
					t.Errorf("want a self-signed CA, got IsCA=%v issuer %q", c.IsCA, c.Issuer.CommonName)
				}
			} else if c.IsCA || c.Issuer.CommonName != readCert(t, root, tt.ca).Subject.CommonName {
				t.Errorf("want a leaf issued by %s, got IsCA=%v issuer %q", tt.ca, c.IsCA, c.Issuer.CommonName)
			}
			checks := []struct {
				what      string
				got, want any
			}{
				{"CN", c.Subject.CommonName, tt.cn},
				{"O", c.Subject.Organization, tt.o},
				{"DNS SANs", c.DNSNames, tt.dns},
				{"IP SANs", ipStringsOrNil(c.IPAddresses), tt.ips},
				{"EKUs", c.ExtKeyUsage, tt.usages},
				{"KeyUsage", c.KeyUsage, wantKU},
				{"NotBefore", c.NotBefore, start.Add(-backdate)},
				{"NotAfter", c.NotAfter, wantNotAfter},
				{"key", helpers.KeyLength(c.PublicKey), 256},
			}
			for _, ch := range checks {
				if !equalish(ch.got, ch.want) {
					t.Errorf("%s = %v, want %v", ch.what, ch.got, ch.want)
				}
			}
		})
	}
}

func ipStringsOrNil(ips []net.IP) []string {
	if len(ips) == 0 {
		return nil
	}
	return ipStrings(ips)
}

// equalish compares values, treating nil and empty string slices alike and
// extended key usages as a set.
func equalish(got, want any) bool {
	if g, ok := got.([]string); ok {
		return slices.Equal(g, want.([]string))
	}
	if g, ok := got.([]x509.ExtKeyUsage); ok {
		return sameSet(g, want.([]x509.ExtKeyUsage))
	}
	if g, ok := got.(time.Time); ok {
		return g.Equal(want.(time.Time))
	}
	return got == want
}

func TestLeafValidityStopsAtCA(t *testing.T) {
	now := time.Now()
	p := testParams("ecdsa-p256")
	p.CAValidity, p.Validity = 30*config.Day, config.Year
	root, _ := ensure(t, p, now)
	ca := readCert(t, root, "ca")
	if got := readCert(t, root, "apiserver").NotAfter; !got.Equal(ca.NotAfter) {
		t.Errorf("apiserver NotAfter %v, want the CA's %v", got, ca.NotAfter)
	}
}

func TestRSAKeys(t *testing.T) {
	root, _ := ensure(t, testParams("rsa-2048"), time.Now())
	for _, name := range []string{"ca", "apiserver", "etcd/peer", "admin"} {
		c := readCert(t, root, name)
		if pub, ok := c.PublicKey.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
			t.Errorf("%s: key %T, want RSA-2048", name, c.PublicKey)
		}
		if !c.IsCA && c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment {
			t.Errorf("%s: KeyUsage %v, want digital signature | key encipherment", name, c.KeyUsage)
		}
	}
	key, err := loadServiceAccountKey(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := key.(*rsa.PrivateKey); !ok {
		t.Errorf("sa.key is %T, want RSA", key)
	}
}

func TestFileModes(t *testing.T) {
	p := testParams("ecdsa-p256")
	root, res := ensure(t, p, time.Now())
	want := map[string]os.FileMode{
		layout.PKIDir: 0o700, layout.EtcdPKIDir: 0o700,
		layout.ServiceAccountKey: 0o600, layout.ServiceAccountPubKey: 0o644,
	}
	for _, s := range Specs(p) {
		want[layout.Cert(s.Name)], want[layout.Key(s.Name)] = 0o644, 0o600
	}
	for path, mode := range want {
		st, err := os.Stat(root.Path(path))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", path, st.Mode().Perm(), mode)
		}
	}
	if got := len(res.Files); got != len(want)-2 {
		t.Errorf("Result.Files has %d paths, want %d: %v", got, len(want)-2, res.Files)
	}
}

func TestSecondEnsureKeepsEveryByte(t *testing.T) {
	p := testParams("ecdsa-p256")
	now := time.Now()
	root, first := ensure(t, p, now)
	before := snapshot(t, root)
	caSum := sha256.Sum256(readCert(t, root, "ca").Raw)
	second, err := Ensure(root, p, now.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := changed(before, snapshot(t, root)); len(diff) > 0 {
		t.Errorf("second Ensure changed %v", diff)
	}
	if sha256.Sum256(readCert(t, root, "ca").Raw) != caSum {
		t.Error("CA fingerprint changed")
	}
	for name, a := range second.Actions {
		if a != Kept || first.Actions[name] != Created {
			t.Errorf("%s: first %s, second %s; want created then kept", name, first.Actions[name], a)
		}
	}
	if !slices.Equal(first.Files, second.Files) {
		t.Errorf("Files differ between runs:\n%v\n%v", first.Files, second.Files)
	}
}

func TestNodeAddressChangeReSignsOnlyItsCerts(t *testing.T) {
	p := testParams("ecdsa-p256")
	now := time.Now()
	root, _ := ensure(t, p, now)
	before := snapshot(t, root)
	p.NodeAddress = "192.168.56.20"
	res, err := Ensure(root, p, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	var resigned []string
	for name, a := range res.Actions {
		if a == ReSigned {
			resigned = append(resigned, name)
		} else if a != Kept {
			t.Errorf("%s: %s, want kept", name, a)
		}
	}
	slices.Sort(resigned)
	want := []string{"apiserver", "etcd/peer", "etcd/server", "kubelet"}
	if !slices.Equal(resigned, want) {
		t.Errorf("re-signed %v, want %v", resigned, want)
	}
	var wantFiles []string
	for _, n := range want {
		wantFiles = append(wantFiles, strings.TrimPrefix(layout.Cert(n), "/"), strings.TrimPrefix(layout.Key(n), "/"))
	}
	slices.Sort(wantFiles)
	if got := changed(before, snapshot(t, root)); !slices.Equal(got, wantFiles) {
		t.Errorf("changed files %v, want %v", got, wantFiles)
	}
	if !strings.Contains(res.Reasons["apiserver"], "IP SANs") {
		t.Errorf("apiserver reason %q, want it to name the IP SANs", res.Reasons["apiserver"])
	}
	if !slices.ContainsFunc(readCert(t, root, "kubelet").IPAddresses, func(ip net.IP) bool { return ip.String() == "192.168.56.20" }) {
		t.Error("kubelet cert lacks the new node IP")
	}
}

func TestEnsureReSignsBrokenLeaves(t *testing.T) {
	tests := []struct {
		name    string
		breakIt func(t *testing.T, root host.Root)
		now     time.Duration
		reason  string
	}{
		{"key from another cert", func(t *testing.T, root host.Root) {
			copyFile(t, root, layout.Key("admin"), layout.Key("scheduler"))
		}, 0, "does not belong"},
		{"key missing", func(t *testing.T, root host.Root) {
			removeFile(t, root, layout.Key("scheduler"))
		}, 0, "no such file"},
		{"signed by another CA", func(t *testing.T, root host.Root) {
			copyFile(t, root, layout.Cert("front-proxy-client"), layout.Cert("scheduler"))
			copyFile(t, root, layout.Key("front-proxy-client"), layout.Key("scheduler"))
		}, 0, "not signed by the current ca"},
		{"expired", func(*testing.T, host.Root) {}, 2 * config.Year, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams("ecdsa-p256")
			p.CAValidity = 10 * config.Year
			now := time.Now()
			root, _ := ensure(t, p, now)
			tt.breakIt(t, root)
			res, err := Ensure(root, p, now.Add(tt.now), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Actions["scheduler"] != ReSigned || !strings.Contains(res.Reasons["scheduler"], tt.reason) {
				t.Errorf("scheduler: %s (%q), want re-signed because %q", res.Actions["scheduler"], res.Reasons["scheduler"], tt.reason)
			}
			if _, err := Load(root, "scheduler"); err != nil {
				t.Errorf("after re-signing: %v", err)
			}
		})
	}
}

func copyFile(t *testing.T, root host.Root, from, to string) {
	t.Helper()
	data, err := root.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.WriteFile(to, data, 0o600, 0o700); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, root host.Root, path string) {
	t.Helper()
	if err := os.Remove(root.Path(path)); err != nil {
		t.Fatal(err)
	}
}

func TestHalfPresentCAOrServiceAccountKeyIsAnError(t *testing.T) {
	tests := []struct {
		name, remove string
		want         []string
	}{
		{"CA cert without key", layout.Key("ca"), []string{"exists without its key", "restore"}},
		{"CA key without cert", layout.Cert("etcd/ca"), []string{"exists without its certificate", "restore"}},
		{"sa.pub without sa.key", layout.ServiceAccountKey, []string{"sa.pub exists without", "restore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams("ecdsa-p256")
			root, _ := ensure(t, p, time.Now())
			removeFile(t, root, tt.remove)
			before := snapshot(t, root)
			_, err := Ensure(root, p, time.Now(), nil)
			if err == nil {
				t.Fatal("Ensure succeeded, want an error")
			}
			for _, w := range append(tt.want, root.Path(tt.remove)) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if diff := changed(before, snapshot(t, root)); len(diff) > 0 {
				t.Errorf("a failed Ensure changed %v", diff)
			}
		})
	}
}

// TestHalfPairNeverRecordedIsMadeAnew: a run killed between writing a CA's
// key and its certificate (or sa.key and sa.pub) never recorded them, so
// nothing was signed with them: the next run makes the pair anew instead of
// asking the user to delete a key by hand.
func TestHalfPairNeverRecordedIsMadeAnew(t *testing.T) {
	for _, tt := range []struct{ name, remove, action string }{
		{"CA key without cert", layout.Cert("ca"), "ca"},
		{"etcd CA cert without key", layout.Key("etcd/ca"), "etcd/ca"},
		{"sa.pub without sa.key", layout.ServiceAccountKey, "sa"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams("ecdsa-p256")
			root := host.Root(t.TempDir())
			if _, err := Ensure(root, p, time.Now(), nil); err != nil {
				t.Fatal(err)
			}
			// What a kill between the two writes of a first run leaves.
			removeFile(t, root, tt.remove)
			never := func(string) bool { return false }
			res, err := Ensure(root, p, time.Now(), never)
			if err != nil {
				t.Fatalf("Ensure after an interrupted first run: %v", err)
			}
			if res.Actions[tt.action] != Created {
				t.Errorf("%s: %s, want created", tt.action, res.Actions[tt.action])
			}
			if _, err := os.Stat(root.Path(tt.remove)); err != nil {
				t.Errorf("%s not made: %v", tt.remove, err)
			}
		})
	}
}

// TestKeptFilesGetTheirModesBack: a key chmod-ed 0644 and a certificate
// chmod-ed 0600 are kept (same bytes) with 0600 and 0644 again.
func TestKeptFilesGetTheirModesBack(t *testing.T) {
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, time.Now())
	for path, mode := range map[string]os.FileMode{layout.Key("ca"): 0o644, layout.Cert("apiserver"): 0o600,
		layout.Key("etcd/server"): 0o666, layout.ServiceAccountKey: 0o644} {
		if err := os.Chmod(root.Path(path), mode); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, root)
	res, err := Ensure(root, p, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{layout.Key("ca"): 0o600, layout.Cert("apiserver"): 0o644,
		layout.Key("etcd/server"): 0o600, layout.ServiceAccountKey: 0o600} {
		if st, _ := os.Stat(root.Path(path)); st.Mode().Perm() != mode {
			t.Errorf("%s has mode %04o after Ensure, want %04o", path, st.Mode().Perm(), mode)
		}
	}
	if res.Actions["ca"] != Kept || res.Actions["apiserver"] != Kept {
		t.Errorf("actions %v, want the pairs kept", res.Actions)
	}
	if diff := changed(before, snapshot(t, root)); len(diff) > 0 {
		t.Errorf("content changed: %v", diff)
	}
}

func TestExpiredCAIsAnError(t *testing.T) {
	p := testParams("ecdsa-p256")
	now := time.Now()
	root, _ := ensure(t, p, now)
	before := snapshot(t, root)
	_, err := Ensure(root, p, now.Add(p.CAValidity+time.Hour), nil)
	if err == nil || !strings.Contains(err.Error(), "CA ca expired") || !strings.Contains(err.Error(), "move "+root.Path(layout.Cert("ca"))) {
		t.Errorf("Ensure after the CA expired = %v, want an error saying how to replace it", err)
	}
	if _, err := Renew(root, p, []string{"admin"}, now.Add(p.CAValidity+time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Renew after the CA expired = %v, want an error", err)
	}
	if diff := changed(before, snapshot(t, root)); len(diff) > 0 {
		t.Errorf("a failed Ensure or Renew changed %v", diff)
	}
}

func TestServiceAccountPubIsReDerived(t *testing.T) {
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, time.Now())
	want, _ := root.ReadFile(layout.ServiceAccountPubKey)
	removeFile(t, root, layout.ServiceAccountPubKey)
	res, err := Ensure(root, p, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := root.ReadFile(layout.ServiceAccountPubKey)
	if res.Actions["sa"] != Rewritten || !bytes.Equal(got, want) {
		t.Errorf("sa: %s, pub equal %v; want rewritten with the same public key", res.Actions["sa"], bytes.Equal(got, want))
	}
	key, err := loadServiceAccountKey(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := key.(*ecdsa.PrivateKey); !ok {
		t.Errorf("sa.key is %T, want ECDSA", key)
	}
}

func TestKeyAlgorithmChangeReSignsLeavesKeepsCAs(t *testing.T) {
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, time.Now())
	p.KeyAlgorithm = "rsa-2048"
	res, err := Ensure(root, p, time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Specs(p) {
		want := ReSigned
		if s.IsCA {
			want = Kept
		}
		if res.Actions[s.Name] != want {
			t.Errorf("%s: %s, want %s", s.Name, res.Actions[s.Name], want)
		}
	}
	if res.Actions["sa"] != Kept {
		t.Errorf("sa: %s, want kept (a new key would invalidate tokens)", res.Actions["sa"])
	}
}

func TestRenew(t *testing.T) {
	p := testParams("ecdsa-p256")
	now := time.Now()
	root, _ := ensure(t, p, now)
	before := snapshot(t, root)
	oldNotBefore := readCert(t, root, "apiserver").NotBefore
	res, err := Renew(root, p, []string{"apiserver", "admin"}, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"etc/kubernetes/pki/admin.crt", "etc/kubernetes/pki/admin.key",
		"etc/kubernetes/pki/apiserver.crt", "etc/kubernetes/pki/apiserver.key"}
	if got := changed(before, snapshot(t, root)); !slices.Equal(got, want) {
		t.Errorf("Renew changed %v, want %v", got, want)
	}
	if got := readCert(t, root, "apiserver").NotBefore; !got.After(oldNotBefore) {
		t.Errorf("NotBefore %v, want after %v", got, oldNotBefore)
	}
	if res.Actions["apiserver"] != ReSigned || len(res.Actions) != 2 {
		t.Errorf("Actions %v, want apiserver and admin re-signed", res.Actions)
	}
	again, err := Ensure(root, p, now.Add(time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Actions["apiserver"] != Kept {
		t.Errorf("Ensure after Renew: apiserver %s, want kept", again.Actions["apiserver"])
	}
}

func TestRenewAll(t *testing.T) {
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, time.Now())
	before := snapshot(t, root)
	res, err := Renew(root, p, []string{"all"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, root)
	for _, s := range Specs(p) {
		crt := strings.TrimPrefix(layout.Cert(s.Name), "/")
		if s.IsCA != bytes.Equal(before[crt], after[crt]) {
			t.Errorf("%s: changed=%v, want CAs kept and every leaf re-signed", s.Name, !s.IsCA)
		}
		if !s.IsCA && res.Actions[s.Name] != ReSigned {
			t.Errorf("%s: %s, want re-signed", s.Name, res.Actions[s.Name])
		}
	}
}

func TestRenewRefuses(t *testing.T) {
	tests := []struct {
		names []string
		want  string
	}{
		{[]string{"ca"}, "is a CA"},
		{[]string{"apiserver", "etcd/ca"}, "is a CA"},
		{[]string{"apisever"}, `unknown certificate apisever; valid names: all, apiserver, apiserver-kubelet-client`},
		{nil, "name the certificates to renew"},
	}
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, time.Now())
	before := snapshot(t, root)
	for _, tt := range tests {
		_, err := Renew(root, p, tt.names, time.Now())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Renew(%v) = %v, want an error containing %q", tt.names, err, tt.want)
		}
	}
	if diff := changed(before, snapshot(t, root)); len(diff) > 0 {
		t.Errorf("refused renewals changed %v", diff)
	}
	if _, err := Renew(host.Root(t.TempDir()), p, []string{"admin"}, time.Now()); err == nil ||
		!strings.Contains(err.Error(), "phase run certs") {
		t.Errorf("Renew without a CA = %v, want an error telling to run the certs phase", err)
	}
}

func TestCheckExpiration(t *testing.T) {
	p := testParams("ecdsa-p256")
	now := time.Now()
	root, _ := ensure(t, p, now)
	later := now.Add(30 * config.Day)
	got, err := CheckExpiration(root, later)
	if err != nil {
		t.Fatal(err)
	}
	specs := Specs(p)
	if len(got) != len(specs) {
		t.Fatalf("%d entries, want %d", len(got), len(specs))
	}
	for i, s := range specs {
		e := got[i]
		c := readCert(t, root, s.Name)
		if e.Name != s.Name || e.CA != s.CA || e.IsCA != s.IsCA || !e.NotAfter.Equal(c.NotAfter) || e.Residual != c.NotAfter.Sub(later) {
			t.Errorf("entry %d = %+v, want %s (CA %q) expiring %v", i, e, s.Name, s.CA, c.NotAfter)
		}
	}
	removeFile(t, root, layout.Cert("kubelet"))
	got, err = CheckExpiration(root, later)
	if err == nil || !strings.Contains(err.Error(), root.Path(layout.Cert("kubelet"))) || len(got) != len(specs)-1 {
		t.Errorf("with kubelet.crt missing: %d entries, err %v; want the others and an error naming it", len(got), err)
	}
}

func TestParamsErrors(t *testing.T) {
	tests := []struct {
		edit func(*Params)
		want string
	}{
		{func(p *Params) { p.NodeName = "" }, "node.name"},
		{func(p *Params) { p.NodeAddress = "node" }, "node.address"},
		{func(p *Params) { p.KeyAlgorithm = "ed25519" }, "certificates.keyAlgorithm"},
		{func(p *Params) { p.Validity = 0 }, "certificates.validity"},
	}
	for _, tt := range tests {
		p := testParams("ecdsa-p256")
		tt.edit(&p)
		if _, err := Ensure(host.Root(t.TempDir()), p, time.Now(), nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Ensure = %v, want an error naming %s", err, tt.want)
		}
	}
}

func TestKeyAlgorithms(t *testing.T) {
	tests := []struct {
		alg, algo string
		size      int
	}{{"", "ecdsa", 256}, {"ecdsa-p256", "ecdsa", 256}, {"rsa-2048", "rsa", 2048}, {"rsa-4096", "rsa", 4096}}
	for _, tt := range tests {
		kr, err := testParams(tt.alg).keyRequest()
		if err != nil || kr.Algo() != tt.algo || kr.Size() != tt.size {
			t.Errorf("%q: %v %v, want %s-%d", tt.alg, kr, err, tt.algo, tt.size)
		}
	}
}

func TestParamsFromConfig(t *testing.T) {
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	p := ParamsFromConfig(c, "VM-1", false)
	if p.ServiceIP != "10.96.0.1" || p.Hostname != "vm-1" || p.KeyAlgorithm != "ecdsa-p256" ||
		p.Validity != config.Year || p.CAValidity != 10*config.Year || p.DNSDomain != "cluster.local" {
		t.Errorf("ParamsFromConfig = %+v", p)
	}
}

func BenchmarkEnsure(b *testing.B) {
	for _, alg := range []string{"ecdsa-p256", "rsa-2048"} {
		b.Run(alg, func(b *testing.B) {
			p := testParams(alg)
			for b.Loop() {
				if _, err := Ensure(host.Root(b.TempDir()), p, time.Now(), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

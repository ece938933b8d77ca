package certs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// TestDueAndWarnings: the leaves inside the window are due, CAs never are
// (they get a warning that says what to do), and the kubelet's rotated
// client certificate is reported in place of the bootstrap one.
func TestDueAndWarnings(t *testing.T) {
	p := testParams("ecdsa-p256")
	issued := time.Now()
	root, _ := ensure(t, p, issued)
	// A rotated kubelet client certificate, as the kubelet keeps it.
	kp, err := Load(root, "kubelet-client")
	if err != nil {
		t.Fatal(err)
	}
	rotated := root.Path(KubeletRotatedCert)
	if err := os.MkdirAll(filepath.Dir(rotated), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rotated, append(kp.CertPEM, kp.KeyPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	// 20 days before the leaves expire (1y), 9y before the CAs do.
	now := issued.Add(p.Validity - 20*24*time.Hour)
	report, err := CheckExpiration(root, now)
	if err != nil {
		t.Fatal(err)
	}
	due := Due(report, WarnWithin)
	for _, want := range []string{"apiserver", "etcd/server", "admin", "kubelet"} {
		if !slices.Contains(due, want) {
			t.Errorf("%s is not due 20 days before it expires: %v", want, due)
		}
	}
	for _, never := range []string{"ca", "etcd/ca", "front-proxy-ca", "kubelet-client", "kubelet-client (rotated)"} {
		if slices.Contains(due, never) {
			t.Errorf("%s is due; CAs never are, and the kubelet renews its own client certificate", never)
		}
	}
	if got := Due(report, 10*24*time.Hour); len(got) != 0 {
		t.Errorf("with 20 days left nothing is due within 10d, got %v", got)
	}
	warnings := strings.Join(Warnings(report, WarnWithin), "\n")
	for _, want := range []string{"apiserver: 19d left", "k8s-single-certs.timer", "kubelet-client (rotated): 19d left; the kubelet rotates it itself"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings do not say %q:\n%s", want, warnings)
		}
	}
	// Near the CA's end, the CA gets its own warning.
	late, _ := CheckExpiration(root, issued.Add(p.CAValidity-24*time.Hour))
	if w := strings.Join(Warnings(late, WarnWithin), "\n"); !strings.Contains(w, "CA ca: 23h left; k8s-single never replaces a CA") {
		t.Errorf("no CA warning a day before the CA expires:\n%s", w)
	}
	_, rows := ExpiryReport(report).Table()
	var unused, inUse bool
	for _, r := range rows {
		unused = unused || (r[0] == "kubelet-client" && strings.Contains(r[4], "not in use"))
		inUse = inUse || (r[0] == "kubelet-client (rotated)" && strings.Contains(r[4], layout.KubeletDir))
	}
	if !unused || !inUse {
		t.Errorf("the table does not tell the bootstrap kubelet-client (unused %v) from the rotated one (in use %v): %v", unused, inUse, rows)
	}
}

// TestCheckFindsAWrongSAN: a certificate put in the apiserver's place that
// lacks the node's address is named with what is wrong; the others pass.
func TestCheckFindsAWrongSAN(t *testing.T) {
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, time.Now())
	if problems, err := Check(root, p, time.Now()); err != nil || len(problems) != 0 {
		t.Fatalf("a fresh PKI has problems: %v %v", problems, err)
	}
	for _, ext := range []string{".crt", ".key"} {
		data, err := os.ReadFile(root.Path(layout.PKIDir + "/front-proxy-client" + ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(layout.PKIDir+"/apiserver"+ext), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	problems, err := Check(root, p, time.Now())
	if err != nil || len(problems) != 1 || problems[0].Name != "apiserver" || !strings.Contains(problems[0].What, "not signed by the current ca") {
		t.Errorf("Check = %+v, %v; want the apiserver named (signed by another CA)", problems, err)
	}
}

// TestDropForeignKubeletCerts: the kubelet's rotated certificate of another
// CA (a previous install's) goes with its siblings; one the cluster CA
// signed stays.
func TestDropForeignKubeletCerts(t *testing.T) {
	p := testParams("ecdsa-p256")
	root, _ := ensure(t, p, time.Now())
	other, _ := ensure(t, p, time.Now()) // another install: another CA
	rotated := root.Path(KubeletRotatedCert)
	os.MkdirAll(filepath.Dir(rotated), 0o755)
	write := func(from string) {
		t.Helper()
		kp, err := Load(host.Root(from), "kubelet-client")
		if err != nil {
			t.Fatal(err)
		}
		dated := filepath.Join(filepath.Dir(rotated), "kubelet-client-2026-12-02-04-18-27.pem")
		os.Remove(rotated)
		if err := os.WriteFile(dated, append(kp.CertPEM, kp.KeyPEM...), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Base(dated), rotated); err != nil {
			t.Fatal(err)
		}
	}
	write(string(root))
	if removed, err := DropForeignKubeletCerts(root); err != nil || len(removed) != 0 {
		t.Fatalf("the cluster CA's own: removed %v, %v", removed, err)
	}
	write(string(other))
	removed, err := DropForeignKubeletCerts(root)
	if err != nil || len(removed) != 2 {
		t.Fatalf("another CA's: removed %v, %v; want the link and its file", removed, err)
	}
	if _, err := os.Lstat(rotated); !os.IsNotExist(err) {
		t.Errorf("%s is still there", rotated)
	}
	if removed, err := DropForeignKubeletCerts(root); err != nil || removed != nil {
		t.Errorf("none there: %v, %v", removed, err)
	}
}

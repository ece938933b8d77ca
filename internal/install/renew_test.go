package install

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/kubeconfig"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
)

// TestRenewExpiringWithin: with a window shorter than what the leaves have
// left nothing is renewed; with a longer one every leaf is re-signed (the
// CAs kept), the kubeconfigs embed the new client certificates, and a tree
// that runs no cluster (a dry run) is not started.
func TestRenewExpiringWithin(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	addonsDryRun(t, root, c, phases.Options{})
	if _, err := kubeconfig.Ensure(root, c); err != nil {
		t.Fatal(err)
	}
	ca, admin, adminConf := readHost(t, root, layout.Cert("ca")), readHost(t, root, layout.Cert("admin")), readHost(t, root, layout.Kubeconfig("admin"))
	var out bytes.Buffer
	names, err := RenewCertificates(context.Background(), root, &out, false, c, RenewOptions{ExpiringWithin: 30 * 24 * time.Hour})
	if err != nil || len(names) != 0 || !strings.Contains(out.String(), "no certificate expires within 30d; the first to expire is") {
		t.Fatalf("renew within 30d of fresh certificates: %v %v\n%s", names, err, out.String())
	}
	out.Reset()
	names, err = RenewCertificates(context.Background(), root, &out, false, c, RenewOptions{ExpiringWithin: 400 * 24 * time.Hour})
	if err != nil || len(names) < 15 {
		t.Fatalf("renew within 400d: %v %v\n%s", names, err, out.String())
	}
	if !bytes.Equal(readHost(t, root, layout.Cert("ca")), ca) {
		t.Error("the CA changed")
	}
	if bytes.Equal(readHost(t, root, layout.Cert("admin")), admin) || bytes.Equal(readHost(t, root, layout.Kubeconfig("admin")), adminConf) {
		t.Error("admin's certificate or admin.conf was not renewed")
	}
	if !strings.Contains(out.String(), "no cluster is running from these files") {
		t.Errorf("a dry-run tree was treated as a running cluster:\n%s", out.String())
	}
}

// TestRenewTakesTheLock: renewing while another k8s-single holds the root's
// lock (an up or a reset in progress) is refused, and nothing is re-signed.
func TestRenewTakesTheLock(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	addonsDryRun(t, root, c, phases.Options{})
	before := readHost(t, root, layout.Cert("apiserver"))
	unlock, err := phases.Lock(root)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = RenewCertificates(context.Background(), root, &bytes.Buffer{}, false, c, RenewOptions{Names: []string{"all"}})
	if err == nil || !strings.Contains(err.Error(), "another k8s-single is running") {
		t.Fatalf("renew under a held lock: %v, want it refused", err)
	}
	if !bytes.Equal(readHost(t, root, layout.Cert("apiserver")), before) {
		t.Error("the apiserver certificate was re-signed although the lock was held")
	}
}

//go:build integration

package integration

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// TestControlPlane brings up etcd and the three control-plane daemons from
// the rendered units and checks what a user (or kube-bench) would check.
func TestControlPlane(t *testing.T) {
	c := render(t, binDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	etcdStart := time.Now()
	c.start("etcd")
	cli, err := etcd.New(etcdconn.OptionsFromConfig(c.root, c.cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	waitFor(t, "etcd healthy", time.Minute, func() error {
		if r := cli.Health(ctx); !r.Healthy() {
			return errorString(strings.Join(r.Lines(), "; "))
		}
		return nil
	})
	t.Logf("etcd healthy %s after start", time.Since(etcdStart).Round(time.Millisecond))

	t.Run("etcd answers our client over mTLS and refuses a certless one", func(t *testing.T) {
		// Verify includes the certless-client check.
		if err := cli.Verify(ctx); err != nil {
			t.Fatal(err)
		}
	})

	apiStart := time.Now()
	for _, comp := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		c.start(comp)
	}
	for _, e := range install.ControlPlaneEndpoints(c.root, c.cfg) {
		took, err := e.WaitOK(ctx, 3*time.Minute, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s ok %s after the control plane started (%s waiting)", e.Name, time.Since(apiStart).Round(time.Millisecond), took.Round(time.Millisecond))
	}
	super, err := kube.NewClient(c.root.Path(layout.Kubeconfig("super-admin")))
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.BootstrapRBAC(ctx, super); err != nil {
		t.Fatal(err)
	}

	t.Run("kubectl get ns with admin.conf", func(t *testing.T) {
		out, err := c.kubectl("admin", "get", "ns", "-o", "name")
		if err != nil || !strings.Contains(out, "namespace/kube-system") {
			t.Fatalf("kubectl get ns: %v\n%s", err, out)
		}
	})

	t.Run("anonymous request gets 401", func(t *testing.T) {
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := client.Get("https://" + c.cfg.Node.Address + ":6443/api/v1/namespaces")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("anonymous GET: HTTP %d, want 401", resp.StatusCode)
		}
	})

	t.Run("the scheduler identity can do only a scheduler's work", func(t *testing.T) {
		for _, tc := range []struct {
			ask  string
			want string
		}{
			{"list pods", "yes"},
			{"create bindings", "yes"},
			{"update pods --subresource=status", "yes"},
			{"get secrets", "no"},
			{"delete nodes", "no"},
			{"create clusterrolebindings", "no"},
		} {
			args := append([]string{"auth", "can-i", "-A"}, strings.Fields(tc.ask)...)
			if out, _ := c.kubectl("scheduler", args...); out != tc.want {
				t.Errorf("scheduler: can-i %s = %q, want %q", tc.ask, out, tc.want)
			}
		}
	})

	t.Run("the apiserver's kubelet client reaches the kubelet API and nothing else", func(t *testing.T) {
		for _, tc := range []struct{ ask, want string }{
			{"get nodes --subresource=proxy", "yes"},
			{"get nodes --subresource=log", "yes"},
			{"get secrets", "no"},
			{"create clusterrolebindings", "no"},
		} {
			args := append([]string{"auth", "can-i", "-A", "--as", kube.APIServerKubeletClientUser}, strings.Fields(tc.ask)...)
			if out, _ := c.kubectl("super-admin", args...); out != tc.want {
				t.Errorf("%s: can-i %s = %q, want %q", kube.APIServerKubeletClientUser, tc.ask, out, tc.want)
			}
		}
	})

	t.Run("admission refuses a Service with externalIPs (DenyServiceExternalIPs)", func(t *testing.T) {
		svc := filepath.Join(t.TempDir(), "svc.yaml")
		os.WriteFile(svc, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: external, namespace: default}\n"+
			"spec: {ports: [{port: 80}], externalIPs: [203.0.113.9]}\n"), 0o644)
		out, err := c.kubectl("super-admin", "create", "-f", svc)
		if err == nil || !strings.Contains(out, "externalIPs") {
			t.Fatalf("a Service with externalIPs was not refused: %v\n%s", err, out)
		}
	})

	t.Run("a Secret is stored encrypted in etcd", func(t *testing.T) {
		if out, err := c.kubectl("admin", "create", "secret", "generic", "itest", "--from-literal=password=hunter2"); err != nil {
			t.Fatalf("create secret: %v\n%s", err, out)
		}
		kvs, err := cli.Get(ctx, "/registry/secrets/default/itest", false, false)
		if err != nil || len(kvs) != 1 {
			t.Fatalf("raw read: %v (%d keys)", err, len(kvs))
		}
		if !strings.HasPrefix(kvs[0].Value, "k8s:enc:"+c.cfg.APIServer.EncryptionProvider+":v1:") || strings.Contains(kvs[0].Value, "hunter2") {
			t.Fatalf("secret stored as %.40q..., want k8s:enc:%s:v1: and no plaintext", kvs[0].Value, c.cfg.APIServer.EncryptionProvider)
		}
		if out, err := c.kubectl("admin", "get", "secret", "itest", "-o", "jsonpath={.data.password}"); err != nil || out != "aHVudGVyMg==" {
			t.Fatalf("read back through the apiserver: %v %q", err, out)
		}
	})

	t.Run("snapshot save and restore bring the same keys back", func(t *testing.T) {
		snap := filepath.Join(t.TempDir(), "snap.db")
		info, err := cli.SnapshotSave(ctx, snap)
		if err != nil {
			t.Fatal(err)
		}
		if info.Revision <= 0 || info.TotalKeys == 0 {
			t.Fatalf("snapshot info %+v", info)
		}
		restored := filepath.Join(t.TempDir(), "restored")
		if err := etcd.SnapshotRestore(snap, restored, c.cfg.Node.Name, "https://127.0.0.1:12380"); err != nil {
			t.Fatal(err)
		}
		keys := restoredKeys(t, c, restored)
		for _, want := range []string{"/registry/secrets/default/itest", "/registry/namespaces/kube-system"} {
			if !strings.Contains(keys, want) {
				t.Errorf("restored etcd lacks %s", want)
			}
		}
		if err := etcd.SnapshotRestore(snap, restored, c.cfg.Node.Name, "https://127.0.0.1:12380"); err == nil {
			t.Errorf("restore over a non-empty data dir was not refused")
		}
	})
}

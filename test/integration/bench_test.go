//go:build integration

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// BenchmarkEtcdHealthCLI times one `k8s-single etcd health` process against
// one `etcdctl endpoint health` process on the same etcd, both over mTLS with
// the healthcheck-client certificate: what a user types, start to exit.
//
//	go test -tags integration -run '^$' -bench EtcdHealthCLI -benchtime 20x ./test/integration/
func BenchmarkEtcdHealthCLI(b *testing.B) {
	c := render(b, binDir(b))
	c.start("etcd")
	cli, err := etcd.New(etcd.OptionsFromConfig(c.root, c.cfg))
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(time.Minute)
	for !cli.Health(b.Context()).Healthy() {
		if time.Now().After(deadline) {
			b.Fatal("etcd not healthy")
		}
		time.Sleep(200 * time.Millisecond)
	}
	k8sSingle := buildK8sSingle(b)
	pki := func(p string) string { return c.root.Path(p) }
	commands := map[string][]string{
		"k8s-single": {k8sSingle, "etcd", "health", "--root", string(c.root), "-c", writeConfig(b, c)},
		"etcdctl": {filepath.Join(c.bin, "etcdctl"), "endpoint", "health", "--endpoints=https://127.0.0.1:2379",
			"--cacert=" + pki(layout.Cert("etcd/ca")), "--cert=" + pki(layout.Cert("etcd/healthcheck-client")), "--key=" + pki(layout.Key("etcd/healthcheck-client"))},
	}
	for _, name := range []string{"k8s-single", "etcdctl"} {
		argv := commands[name]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil || !strings.Contains(string(out), "true") && !strings.Contains(string(out), "is healthy") {
					b.Fatalf("%s: %v\n%s", name, err, out)
				}
			}
		})
	}
}

func buildK8sSingle(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "k8s-single")
	if msg, err := exec.Command("go", "build", "-o", out, "../../cmd/k8s-single").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, msg)
	}
	return out
}

// writeConfig writes the test cluster's config where k8s-single reads it.
func writeConfig(b *testing.B, c *cluster) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "cluster.yaml")
	if err := os.WriteFile(p, c.cfg.Marshal(), 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

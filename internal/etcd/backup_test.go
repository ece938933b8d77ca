package etcd_test

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// TestBackupRestoreLiveEtcd: a backup of a live etcd, restored by
// internal/backup into a new root with etcd's own restore, starts as the new
// node's member and holds the same keys.
func TestBackupRestoreLiveEtcd(t *testing.T) {
	p := newTestPKI(t)
	srv := startEtcd(t, p, etcdMember{Name: "node-a", DataDir: t.TempDir()})
	c := p.client(t, srv.Endpoint)
	ctx := context.Background()
	for i := range 10 {
		if err := c.Put(ctx, "/registry/configmaps/default/cm-"+strconv.Itoa(i), "v"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := c.Get(ctx, "", true, false)
	if err != nil {
		t.Fatal(err)
	}

	src := host.Root(t.TempDir())
	for _, f := range []struct{ path, data string }{
		{layout.Cert("ca"), "CA"}, {layout.Key("ca"), "KEY"}, {layout.EncryptionConfig, "kind: EncryptionConfiguration\n"},
	} {
		if err := src.WriteFile(f.path, []byte(f.data), 0o600, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default(config.HostFacts{Hostname: "node-a", DefaultRouteAddress: "127.0.0.1"})
	res, err := backup.Create(ctx, backup.Options{Root: src, Dir: "/backups", Cluster: cfg, Snapshots: backup.EtcdSnapshotter(c)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Snapshot.TotalKeys != len(before) || res.Manifest.Snapshot.Revision <= 0 {
		t.Errorf("manifest snapshot = %+v; want %d keys", res.Manifest.Snapshot, len(before))
	}

	a, err := backup.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	dst := host.Root(t.TempDir())
	cfg.Node.Name = "node-b"
	cfg.Etcd.PeerPort = freePort(t)
	r, err := a.Restore(backup.RestoreOptions{Root: dst, Cluster: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://127.0.0.1:" + strconv.Itoa(cfg.Etcd.PeerPort); r.PeerURL != want || r.Member != "node-b" {
		t.Errorf("restored member %s at %s; want node-b at %s", r.Member, r.PeerURL, want)
	}
	restored := startEtcd(t, p, etcdMember{Name: "node-b", DataDir: dst.Path(cfg.Etcd.DataDir), PeerPort: cfg.Etcd.PeerPort})
	rc := p.client(t, restored.Endpoint)
	after, err := rc.Get(ctx, "", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(after, before) {
		t.Errorf("restored keys = %+v\nwant %+v", after, before)
	}
	members, err := rc.Members(ctx)
	if err != nil || len(members) != 1 || members[0].Name != "node-b" || !slices.Equal(members[0].PeerURLs, []string{r.PeerURL}) {
		t.Errorf("restored members = %+v, %v; want node-b alone at %s", members, err, r.PeerURL)
	}
}

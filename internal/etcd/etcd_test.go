package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/host"
)

func TestOptionsFromConfig(t *testing.T) {
	root := t.TempDir()
	c := config.Default(config.HostFacts{Hostname: "node"})
	c.Etcd.ClientPort = 12379
	got := etcdconn.OptionsFromConfig(host.Root(root), c)
	want := etcdconn.Options{
		Endpoints:      []string{"https://127.0.0.1:12379"},
		CACert:         filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt"),
		Cert:           filepath.Join(root, "etc/kubernetes/pki/etcd/healthcheck-client.crt"),
		Key:            filepath.Join(root, "etc/kubernetes/pki/etcd/healthcheck-client.key"),
		DialTimeout:    5 * time.Second,
		CommandTimeout: 10 * time.Second,
	}
	if !slices.Equal(got.Endpoints, want.Endpoints) || got.CACert != want.CACert || got.Cert != want.Cert ||
		got.Key != want.Key || got.DialTimeout != want.DialTimeout || got.CommandTimeout != want.CommandTimeout {
		t.Errorf("OptionsFromConfig = %+v, want %+v", got, want)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	p := newTestPKI(t)
	good := etcdconn.Options{Endpoints: []string{"https://127.0.0.1:2379"}, CACert: p.CA, Cert: p.ClientCert, Key: p.ClientKey}
	for _, tc := range []struct {
		name   string
		change func(*etcdconn.Options)
		want   string
	}{
		{"no endpoint", func(o *etcdconn.Options) { o.Endpoints = nil }, "no endpoint"},
		{"plain http", func(o *etcdconn.Options) { o.Endpoints = []string{"http://127.0.0.1:2379"} }, "only speaks TLS"},
		{"no port", func(o *etcdconn.Options) { o.Endpoints = []string{"https://127.0.0.1"} }, "want https://HOST:PORT"},
		{"no client key", func(o *etcdconn.Options) { o.Key = "" }, "all required"},
		{"missing CA", func(o *etcdconn.Options) { o.CACert = "/nonexistent/ca.crt" }, "/nonexistent/ca.crt"},
		{"CA not PEM", func(o *etcdconn.Options) { o.CACert = p.ClientKey }, "holds no PEM certificate"},
		{"missing cert", func(o *etcdconn.Options) { o.Cert = "/nonexistent/c.crt" }, "k8s-single phase run certs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			tc.change(&o)
			c, err := etcd.New(o)
			if err == nil {
				c.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v; want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestConnectionRefused needs no etcd: nothing listens on the port.
func TestConnectionRefused(t *testing.T) {
	p := newTestPKI(t)
	ctx := context.Background()
	// A port freed by freePort may be taken again by another test binary
	// running at the same time (go test ./... runs packages at once): a
	// slow answer is tried again on a new port, twice at most.
	var (
		endpoint string
		c        *etcd.Client
		err      error
		took     time.Duration
	)
	for range 3 {
		endpoint = "https://127.0.0.1:" + strconv.Itoa(freePort(t))
		c = p.client(t, endpoint)
		start := time.Now()
		err = c.Verify(ctx)
		if took = time.Since(start); took <= 2*time.Second {
			break
		}
	}
	if took > 2*time.Second {
		t.Errorf("Verify took %v to report a closed port; want it at once", took)
	}
	assertCheckFailed(t, err, etcd.CheckHealth, etcdconn.ErrRefused, endpoint, "systemctl status etcd")

	report := c.Health(ctx)
	if len(report) != 1 || report[0].Healthy || !strings.Contains(report[0].Error, "connection refused") {
		t.Errorf("Health = %+v; want one unhealthy endpoint, connection refused", report)
	}

	path := filepath.Join(t.TempDir(), "snap.db")
	if _, err := c.SnapshotSave(ctx, path); !errors.Is(err, etcdconn.ErrRefused) {
		t.Errorf("SnapshotSave: %v; want ErrRefused", err)
	}
	assertOnlyFiles(t, filepath.Dir(path))
}

// TestTimeout needs no etcd: a listener accepts connections and never answers.
func TestTimeout(t *testing.T) {
	p := newTestPKI(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() { // holds every connection open, silent, until the listener closes
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	endpoint := "https://" + l.Addr().String()
	c := newClient(t, etcdconn.Options{Endpoints: []string{endpoint}, CACert: p.CA, Cert: p.ClientCert, Key: p.ClientKey, DialTimeout: 200 * time.Millisecond})
	err = c.Verify(context.Background())
	assertCheckFailed(t, err, etcd.CheckHealth, etcdconn.ErrTimeout, endpoint, "200ms")
}

func TestLiveEtcd(t *testing.T) {
	p := newTestPKI(t)
	srv := startEtcd(t, p, etcdMember{Name: "node-a", DataDir: t.TempDir()})
	c := p.client(t, srv.Endpoint)
	ctx := context.Background()

	t.Run("health", func(t *testing.T) {
		report := c.Health(ctx)
		if len(report) != 1 || !report[0].Healthy || report[0].Endpoint != srv.Endpoint || report[0].Took <= 0 || report[0].Error != "" {
			t.Errorf("Health = %+v; want %s healthy", report, srv.Endpoint)
		}
	})
	t.Run("health of a live and a dead endpoint", func(t *testing.T) {
		dead := "https://127.0.0.1:" + strconv.Itoa(freePort(t))
		report := p.client(t, srv.Endpoint, dead).Health(ctx)
		if len(report) != 2 || !report[0].Healthy || report[1].Healthy || !strings.Contains(report[1].Error, dead) {
			t.Errorf("Health = %+v; want %s healthy and %s refused", report, srv.Endpoint, dead)
		}
	})
	t.Run("defragment gives freed space back", func(t *testing.T) {
		// Write and delete 4 MiB, compact: the file keeps the space until defrag.
		big := strings.Repeat("x", 1<<20)
		for i := range 4 {
			if err := c.Put(ctx, fmt.Sprintf("/defrag/%d", i), big); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Delete(ctx, "/defrag/", true); err != nil {
			t.Fatal(err)
		}
		compactAll(t, srv, p)
		report, err := c.Defragment(ctx)
		if err != nil || len(report) != 1 {
			t.Fatalf("Defragment = %+v, %v", report, err)
		}
		if d := report[0]; d.After >= d.Before || d.Before < 4<<20 {
			t.Errorf("Defragment = %+v; want the 4 MiB freed (after < before)", d)
		}
	})
	t.Run("peer URLs follow a new address", func(t *testing.T) {
		members, err := c.Members(ctx)
		if err != nil || len(members) != 1 {
			t.Fatalf("Members = %+v, %v", members, err)
		}
		old := members[0].PeerURLs
		moved := []string{"https://127.0.0.2:2380"}
		for i, want := range []bool{true, false} {
			changed, err := c.EnsurePeerURLs(ctx, "node-a", moved)
			if err != nil || changed != want {
				t.Fatalf("EnsurePeerURLs #%d = %v, %v; want changed %v", i+1, changed, err, want)
			}
		}
		if members, _ := c.Members(ctx); !slices.Equal(members[0].PeerURLs, moved) {
			t.Errorf("peer URLs after the update: %v, want %v", members[0].PeerURLs, moved)
		}
		if _, err := c.EnsurePeerURLs(ctx, "node-a", old); err != nil {
			t.Fatal(err)
		}
		if _, err := c.EnsurePeerURLs(ctx, "other-node", old); err == nil || !strings.Contains(err.Error(), "no member other-node") {
			t.Errorf("an unknown member: %v", err)
		}
	})
	t.Run("status", func(t *testing.T) {
		report, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(report) != 1 {
			t.Fatalf("Status = %+v; want one endpoint", report)
		}
		s := report[0]
		if s.Version != "3.7.3" || !s.IsLeader || s.MemberID == 0 || s.Leader != s.MemberID || s.DBSize <= 0 || s.RaftTerm == 0 || s.RaftIndex == 0 {
			t.Errorf("Status = %+v; want version 3.7.3, the leader, a database and a raft index", s)
		}
	})
	t.Run("members", func(t *testing.T) {
		members, err := c.Members(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 1 || members[0].Name != "node-a" || members[0].IsLearner ||
			!slices.Equal(members[0].ClientURLs, []string{srv.Endpoint}) || !slices.Equal(members[0].PeerURLs, []string{srv.PeerURL}) {
			t.Errorf("Members = %+v; want node-a at %s", members, srv.Endpoint)
		}
	})
	t.Run("put get delete", func(t *testing.T) { testKV(t, c) })
	t.Run("verify", func(t *testing.T) {
		if err := c.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		if kvs, err := c.Get(ctx, etcd.SentinelPrefix, true, true); err != nil || len(kvs) != 0 {
			t.Errorf("sentinel keys left behind: %v, %v", kvs, err)
		}
	})
	t.Run("verify with a certificate from another CA", func(t *testing.T) {
		err := p.foreignClient(t, srv.Endpoint).Verify(ctx)
		assertCheckFailed(t, err, etcd.CheckHealth, etcdconn.ErrClientCertificate, srv.Endpoint, p.ForeignCert)
	})
	t.Run("snapshot save and restore", func(t *testing.T) { testSnapshot(t, p, c) })
}

func testKV(t *testing.T, c *etcd.Client) {
	ctx := context.Background()
	for _, kv := range [][2]string{{"/kv/b", "2"}, {"/kv/a", "1"}, {"/kv/a", "1bis"}, {"/kvx", "x"}} {
		if err := c.Put(ctx, kv[0], kv[1]); err != nil {
			t.Fatalf("Put %s: %v", kv[0], err)
		}
	}
	one, err := c.Get(ctx, "/kv/a", false, false)
	if err != nil || len(one) != 1 || one[0].Key != "/kv/a" || one[0].Value != "1bis" || one[0].Version != 2 ||
		one[0].CreateRevision >= one[0].ModRevision {
		t.Errorf("Get /kv/a = %+v, %v; want 1bis at version 2", one, err)
	}
	all, err := c.Get(ctx, "/kv/", true, false)
	if err != nil || len(all) != 2 || all[0].Key != "/kv/a" || all[1].Key != "/kv/b" || all[1].Value != "2" {
		t.Errorf("Get --prefix /kv/ = %+v, %v; want /kv/a and /kv/b in order", all, err)
	}
	keys, err := c.Get(ctx, "/kv", true, true)
	if err != nil || len(keys) != 3 || keys[0].Value != "" || keys[2].Key != "/kvx" {
		t.Errorf("Get --prefix --keys-only /kv = %+v, %v; want 3 keys without values", keys, err)
	}
	if n, err := c.Delete(ctx, "/kv/", true); err != nil || n != 2 {
		t.Errorf("Delete --prefix /kv/ = %d, %v; want 2", n, err)
	}
	if n, err := c.Delete(ctx, "/kvx", false); err != nil || n != 1 {
		t.Errorf("Delete /kvx = %d, %v; want 1", n, err)
	}
	if n, err := c.Delete(ctx, "/kvx", false); err != nil || n != 0 {
		t.Errorf("Delete of a missing key = %d, %v; want 0", n, err)
	}
	if left, err := c.Get(ctx, "/kv", true, false); err != nil || len(left) != 0 {
		t.Errorf("Get --prefix /kv after delete = %+v, %v; want none", left, err)
	}
}

func testSnapshot(t *testing.T, p testPKI, c *etcd.Client) {
	ctx := context.Background()
	for i := range 20 {
		if err := c.Put(ctx, "/snap/"+strconv.Itoa(i), strings.Repeat("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	before, err := c.Get(ctx, "", true, false)
	if err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "snap.db")
	info, err := c.SnapshotSave(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Path != path || info.Revision <= 0 || info.TotalKeys != len(before) || info.TotalSize <= 0 || info.Hash == 0 {
		t.Errorf("SnapshotSave = %+v; want revision > 0 and %d keys", info, len(before))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file: %v, %v; want mode 0600", st, err)
	}
	assertOnlyFiles(t, dir, "snap.db")
	if again, err := etcd.SnapshotStatus(path); err != nil || again != info {
		t.Errorf("SnapshotStatus = %+v, %v; want %+v", again, err, info)
	}

	t.Run("restore into a new dir", func(t *testing.T) {
		dataDir := filepath.Join(t.TempDir(), "restored")
		peerPort := freePort(t)
		peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
		if err := etcd.SnapshotRestore(path, dataDir, "node-b", peerURL); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(dataDir); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("restored data dir: %v, %v; want mode 0700", st, err)
		}
		assertOnlyFiles(t, filepath.Dir(dataDir), "restored")
		srv := startEtcd(t, p, etcdMember{Name: "node-b", DataDir: dataDir, PeerPort: peerPort})
		after, err := p.client(t, srv.Endpoint).Get(ctx, "", true, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(after, before) {
			t.Errorf("restored keys = %+v\nwant %+v", after, before)
		}
	})
	t.Run("restore into a non-empty dir is refused", func(t *testing.T) {
		dataDir := t.TempDir()
		live := filepath.Join(dataDir, "member")
		if err := os.WriteFile(live, []byte("live"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := etcd.SnapshotRestore(path, dataDir, "node-c", "http://127.0.0.1:2380")
		if !errors.Is(err, etcd.ErrDataDirNotEmpty) || !strings.Contains(err.Error(), dataDir) {
			t.Errorf("SnapshotRestore into %s: %v; want ErrDataDirNotEmpty naming it", dataDir, err)
		}
		if data, err := os.ReadFile(live); err != nil || string(data) != "live" {
			t.Errorf("existing data touched: %q, %v", data, err)
		}
	})
}

func TestVerifyWithoutClientCertAuth(t *testing.T) {
	p := newTestPKI(t)
	srv := startEtcd(t, p, etcdMember{Name: "open", DataDir: t.TempDir(), NoClientCertAuth: true})
	err := p.client(t, srv.Endpoint).Verify(context.Background())
	assertCheckFailed(t, err, etcd.CheckClientCertRequired, nil, srv.Endpoint, "--client-cert-auth")
}

func BenchmarkHealth(b *testing.B) {
	p := newTestPKI(b)
	srv := startEtcd(b, p, etcdMember{Name: "bench", DataDir: b.TempDir()})
	c := p.client(b, srv.Endpoint)
	ctx := context.Background()
	for b.Loop() {
		if report := c.Health(ctx); !report.Healthy() {
			b.Fatalf("unhealthy: %+v", report)
		}
	}
}

// assertCheckFailed checks that err is a *etcd.CheckError for check, wrapping
// kind (unless nil), and that its text mentions every one of words.
func assertCheckFailed(t *testing.T, err error, check string, kind error, words ...string) {
	t.Helper()
	var ce *etcd.CheckError
	if !errors.As(err, &ce) || ce.Check != check {
		t.Fatalf("err = %v; want check %q to fail", err, check)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("err = %v; want kind %v", err, kind)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v; want it to mention %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "rpc error") {
		t.Errorf("err = %v; want no gRPC dump", err)
	}
}

// assertOnlyFiles checks that dir holds exactly names: no temp file is left.
func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("%s holds %v; want %v", dir, got, names)
	}
}

// TestHealthNamesTheNoSpaceAlarm fills a real etcd past a 1 MiB quota: its
// /health then reports the NOSPACE alarm, and Health says what to do.
func TestHealthNamesTheNoSpaceAlarm(t *testing.T) {
	p := newTestPKI(t)
	srv := startEtcd(t, p, etcdMember{Name: "full", DataDir: t.TempDir(), QuotaBytes: 1 << 20})
	c := p.client(t, srv.Endpoint)
	ctx := context.Background()
	value := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		err := c.Put(ctx, fmt.Sprintf("/fill/%d", i), value)
		if err != nil && strings.Contains(err.Error(), "database space exceeded") {
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("put %d: %v; want etcd to run out of its 1 MiB quota", i, err)
		}
	}
	report := c.Health(ctx)
	if len(report) != 1 || report[0].Healthy || !strings.Contains(report[0].Error, "NOSPACE") || !strings.Contains(report[0].Error, "alarm disarm") {
		t.Errorf("Health = %+v; want unhealthy with the NOSPACE alarm and the fix", report)
	}
}

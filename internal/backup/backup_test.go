package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// fakeFile is a host file of the fake install.
type fakeFile struct {
	path string
	mode os.FileMode
	data string
}

// fakeInstall is what an installed node holds that a backup archives.
var fakeInstall = []fakeFile{
	{layout.Cert("ca"), 0o644, "CA CERT"},
	{layout.Key("ca"), 0o600, "CA KEY"},
	{layout.Cert("apiserver"), 0o644, "APISERVER CERT"},
	{layout.Key("apiserver"), 0o600, "APISERVER KEY"},
	{layout.ServiceAccountKey, 0o600, "SA KEY"},
	{layout.ServiceAccountPubKey, 0o644, "SA PUB"},
	{layout.Cert("etcd/ca"), 0o644, "ETCD CA CERT"},
	{layout.Key("etcd/ca"), 0o600, "ETCD CA KEY"},
	{layout.Key("etcd/server"), 0o600, "ETCD SERVER KEY"},
	{layout.EncryptionConfig, 0o600, "kind: EncryptionConfiguration\n"},
	{install.ConfigPath, 0o600, "node:\n  name: node-a\n"},
	{layout.Journal, 0o600, `{"version":1,"phases":{"certs":{"status":"done","durationMs":1}}}`},
}

const fakeSnapshot = "etcd snapshot bytes\x00\x01\x02"

// fakeSnapshots stands in for etcd: it writes fakeSnapshot.
type fakeSnapshots struct{}

func (fakeSnapshots) Snapshot(_ context.Context, path string) (etcd.SnapshotInfo, error) {
	return etcd.SnapshotInfo{Path: path, Revision: 42, TotalKeys: 7, Hash: 0xabcd, Version: "3.7.0"},
		os.WriteFile(path, []byte(fakeSnapshot), 0o600)
}

// fakeRestorer stands in for etcd's status and restore.
type fakeRestorer struct{}

// Status reads fakeSnapshot with the info fakeSnapshots gave it.
func (fakeRestorer) Status(path string) (etcd.SnapshotInfo, error) {
	data, err := os.ReadFile(path)
	if err != nil || string(data) != fakeSnapshot {
		return etcd.SnapshotInfo{}, fmt.Errorf("not the fake snapshot: %q, %v", data, err)
	}
	return etcd.SnapshotInfo{Path: path, Revision: 42, TotalKeys: 7, Hash: 0xabcd, Version: "3.7.0"}, nil
}

// Restore copies the snapshot into dataDir/member/snap/db and records the
// member's name and peer URL.
func (fakeRestorer) Restore(snapshotPath, dataDir, name, peerURL string) error {
	data, err := os.ReadFile(snapshotPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "member", "snap"), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dataDir, "member", "name"), []byte(name+"="+peerURL), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, "member", "snap", "db"), data, 0o600)
}

func testConfig(t *testing.T, address string) *config.Cluster {
	t.Helper()
	return config.Default(config.HostFacts{Hostname: "node-a", DefaultRouteAddress: address})
}

// writeInstall writes the fake install under a new root, leaving out skip.
func writeInstall(t *testing.T, skip ...string) host.Root {
	t.Helper()
	root := host.Root(t.TempDir())
	for _, f := range fakeInstall {
		if contains(skip, f.path) {
			continue
		}
		if err := root.WriteFile(f.path, []byte(f.data), f.mode, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// create makes an archive of a fake install and returns its path.
func create(t *testing.T, root host.Root) *backup.Result {
	t.Helper()
	res, err := backup.Create(context.Background(), backup.Options{
		Root: root, Dir: "/var/backups", Cluster: testConfig(t, "10.0.0.5"), Version: "v-test",
		Snapshots: fakeSnapshots{}, Now: time.Date(2026, 12, 1, 16, 3, 13, 123e6, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestCreate(t *testing.T) {
	root := writeInstall(t)
	res := create(t, root)
	if want := root.Path("/var/backups/k8s-single-backup-20261201T160313.123Z.tar.gz"); res.Path != want {
		t.Errorf("archive at %s, want %s", res.Path, want)
	}
	st, err := os.Stat(res.Path)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != res.Size {
		t.Errorf("archive: %v, %v; want mode 0600 and size %d", st, err, res.Size)
	}
	if st, err := os.Stat(root.Path("/var/backups")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("backup dir: %v, %v; want mode 0700", st, err)
	}
	if entries, _ := os.ReadDir(root.Path("/var/backups")); len(entries) != 1 {
		t.Errorf("backup dir holds %v; want the archive alone (no snapshot or temp file left)", entries)
	}
	m := res.Manifest
	if m.Node != (backup.Node{Name: "node-a", Address: "10.0.0.5"}) || m.K8sSingleVersion != "v-test" ||
		m.KubernetesVersion != "v1.37.2" || m.EtcdVersion != "v3.7.3" || m.Snapshot.Revision != 42 || m.Created.IsZero() {
		t.Errorf("manifest = %+v", m)
	}
	entries := readEntries(t, res.Path)
	if entries[0].hdr.Name != backup.ManifestName {
		t.Errorf("first member %s, want the manifest", entries[0].hdr.Name)
	}
	if len(entries) != len(fakeInstall)+2 || len(m.Members) != len(fakeInstall)+1 {
		t.Errorf("%d members, %d in the manifest; want the %d files, the snapshot and the manifest", len(entries), len(m.Members), len(fakeInstall))
	}
	for _, e := range entries[1:] {
		x, ok := m.Member(e.hdr.Name)
		sum := sha256.Sum256(e.data)
		if !ok || x.SHA256 != hex.EncodeToString(sum[:]) || x.Size != int64(len(e.data)) || x.Mode != modeOf(e.hdr) {
			t.Errorf("member %s (mode %s) = manifest %+v", e.hdr.Name, modeOf(e.hdr), x)
		}
	}
}

func TestCreateRefusesWithoutTheKey(t *testing.T) {
	root := writeInstall(t, layout.EncryptionConfig)
	_, err := backup.Create(context.Background(), backup.Options{Root: root, Dir: "/b", Cluster: testConfig(t, "10.0.0.5"), Snapshots: fakeSnapshots{}})
	if err == nil || !strings.Contains(err.Error(), "encryption-config.yaml") {
		t.Errorf("Create without the encryption key: %v; want an error naming it", err)
	}
	if left, _ := os.ReadDir(root.Path("/b")); len(left) != 0 {
		t.Errorf("left in the backup dir: %v", left)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		skip       []string // files the source install lacks
		address    string   // the restored node's address
		configFile []byte   // a config the user gives instead of the archive's
		wantPeer   string
	}{
		{name: "same node", address: "10.0.0.5", wantPeer: "node-a=https://10.0.0.5:2380"},
		{name: "another address", address: "192.168.1.20", wantPeer: "node-a=https://192.168.1.20:2380"},
		{name: "no kept config", skip: []string{install.ConfigPath}, address: "10.0.0.5", wantPeer: "node-a=https://10.0.0.5:2380"},
		{name: "the user's config", address: "10.0.0.5", configFile: []byte("# mine\n"), wantPeer: "node-a=https://10.0.0.5:2380"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := writeInstall(t, tt.skip...)
			res := create(t, src)
			a, err := backup.Open(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if cfg, ok := a.Config(); ok != !contains(tt.skip, install.ConfigPath) || (ok && string(cfg) != "node:\n  name: node-a\n") {
				t.Errorf("Config() = %q, %v", cfg, ok)
			}
			dst := host.Root(t.TempDir())
			cfg := testConfig(t, tt.address)
			r, err := a.Restore(backup.RestoreOptions{Root: dst, Cluster: cfg, Snapshots: fakeRestorer{}, ConfigFile: tt.configFile})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fakeInstall {
				want, wantMode := f.data, f.mode
				switch {
				case f.path == layout.Journal || contains(tt.skip, f.path):
					if _, err := os.Stat(dst.Path(f.path)); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s restored: %v; want it absent", f.path, err)
					}
					continue
				case f.path == install.ConfigPath && tt.configFile != nil:
					want = string(tt.configFile)
				}
				data, err := os.ReadFile(dst.Path(f.path))
				st, _ := os.Stat(dst.Path(f.path))
				if err != nil || string(data) != want || st.Mode().Perm() != wantMode {
					t.Errorf("%s: %q mode %v, %v; want %q mode %v", f.path, data, st.Mode().Perm(), err, want, wantMode)
				}
			}
			for _, d := range []string{layout.PKIDir, layout.EtcdPKIDir} {
				if st, err := os.Stat(dst.Path(d)); err != nil || st.Mode().Perm() != 0o700 {
					t.Errorf("%s: %v, %v; want mode 0700", d, st, err)
				}
			}
			if db, err := os.ReadFile(dst.Path(cfg.Etcd.DataDir + "/member/snap/db")); err != nil || string(db) != fakeSnapshot {
				t.Errorf("restored snapshot = %q, %v", db, err)
			}
			if peer, _ := os.ReadFile(dst.Path(cfg.Etcd.DataDir + "/member/name")); string(peer) != tt.wantPeer || r.Member+"="+r.PeerURL != tt.wantPeer {
				t.Errorf("etcd member %q, reported %s=%s; want %s", peer, r.Member, r.PeerURL, tt.wantPeer)
			}
			if left, _ := filepath.Glob(dst.Path(layout.StateDir + "/.restore-*")); len(left) != 0 {
				t.Errorf("staging left behind: %v", left)
			}
		})
	}
}

// entry is one tar member.
type entry struct {
	hdr  *tar.Header
	data []byte
}

func readEntries(t *testing.T, path string) []entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []entry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, entry{hdr, data})
	}
}

func writeEntries(t *testing.T, path string, entries []entry) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		e.hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(e.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func modeOf(h *tar.Header) string { return fmt.Sprintf("%04o", h.Mode) }

// editManifest changes the manifest entry (the first) with edit.
func editManifest(t *testing.T, entries []entry, edit func(*backup.Manifest)) {
	t.Helper()
	var m backup.Manifest
	if err := json.Unmarshal(entries[0].data, &m); err != nil {
		t.Fatal(err)
	}
	edit(&m)
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	entries[0].data = data
}

// addMember appends a member and, when listed, its true digest to the manifest.
func addMember(t *testing.T, entries []entry, name string, listed bool) []entry {
	t.Helper()
	data := []byte("evil")
	if listed {
		sum := sha256.Sum256(data)
		editManifest(t, entries, func(m *backup.Manifest) {
			m.Members = append(m.Members, backup.Member{Name: name, Size: 4, SHA256: hex.EncodeToString(sum[:]), Mode: "0644"})
		})
	}
	return append(entries, entry{&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644}, data})
}

func TestTamperedArchivesAreRefused(t *testing.T) {
	ca := "pki/" + strings.TrimPrefix(layout.Key("ca"), layout.PKIDir+"/")
	tests := []struct {
		name   string
		tamper func(t *testing.T, entries []entry) []entry
		want   []string
	}{
		{"a member's bytes changed", func(t *testing.T, es []entry) []entry {
			for _, e := range es {
				if e.hdr.Name == ca {
					e.data[0] ^= 1
				}
			}
			return es
		}, []string{ca, "sha256", "in the archive", "in the manifest"}},
		{"a member added", func(t *testing.T, es []entry) []entry {
			return addMember(t, es, "pki/extra.crt", false)
		}, []string{`"pki/extra.crt" is not in the manifest`}},
		{"a member removed", func(t *testing.T, es []entry) []entry {
			var out []entry
			for _, e := range es {
				if e.hdr.Name != "pki/apiserver.crt" {
					out = append(out, e)
				}
			}
			return out
		}, []string{`"pki/apiserver.crt"`, "missing"}},
		{"a ../evil path, in the manifest too", func(t *testing.T, es []entry) []entry {
			return addMember(t, es, "../evil", true)
		}, []string{`"../evil"`, "not a clean relative path"}},
		{"a pki/../../evil path", func(t *testing.T, es []entry) []entry {
			return addMember(t, es, "pki/../../evil", false)
		}, []string{`"pki/../../evil"`, "not a clean relative path"}},
		{"an absolute path, in the manifest too", func(t *testing.T, es []entry) []entry {
			return addMember(t, es, "/tmp/evil", true)
		}, []string{`"/tmp/evil"`, "absolute"}},
		{"the manifest's digest edited", func(t *testing.T, es []entry) []entry {
			editManifest(t, es, func(m *backup.Manifest) {
				for i := range m.Members {
					if m.Members[i].Name == backup.SnapshotName {
						m.Members[i].SHA256 = strings.Repeat("0", 64)
					}
				}
			})
			return es
		}, []string{backup.SnapshotName, strings.Repeat("0", 64)}},
		{"a symlink member", func(t *testing.T, es []entry) []entry {
			return append(es, entry{&tar.Header{Typeflag: tar.TypeSymlink, Name: "pki/link.crt", Linkname: "/etc/shadow"}, nil})
		}, []string{`"pki/link.crt" is not a regular file`}},
		{"a member's mode changed", func(t *testing.T, es []entry) []entry {
			for _, e := range es {
				if e.hdr.Name == ca {
					e.hdr.Mode = 0o666
				}
			}
			return es
		}, []string{ca, "mode 0666 in the archive, 0600 in the manifest"}},
		{"no manifest first", func(t *testing.T, es []entry) []entry { return es[1:] }, []string{"want the manifest"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := writeInstall(t)
			res := create(t, src)
			writeEntries(t, res.Path, tt.tamper(t, readEntries(t, res.Path)))

			parent := t.TempDir()
			dst := host.Root(filepath.Join(parent, "node"))
			if err := os.Mkdir(string(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := backup.Open(res.Path)
			if !errors.Is(err, backup.ErrTampered) {
				t.Fatalf("Open = %v; want ErrTampered", err)
			}
			t.Logf("refused: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			assertEmpty(t, parent, "node")
		})
	}
}

// TestArchiveChangedAfterOpen: Restore verifies again and writes nothing
// when the archive no longer matches.
func TestArchiveChangedAfterOpen(t *testing.T) {
	res := create(t, writeInstall(t))
	a, err := backup.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	es := readEntries(t, res.Path)
	es[len(es)-1].data = append(es[len(es)-1].data, 'x')
	writeEntries(t, res.Path, es)
	dst := host.Root(t.TempDir())
	_, err = a.Restore(backup.RestoreOptions{Root: dst, Cluster: testConfig(t, "10.0.0.5"), Snapshots: fakeRestorer{}})
	if !errors.Is(err, backup.ErrTampered) {
		t.Fatalf("Restore of a changed archive = %v; want ErrTampered", err)
	}
	assertEmpty(t, string(dst), "var")
	assertEmpty(t, dst.Path("/var"), "lib")
	assertEmpty(t, dst.Path("/var/lib"), "k8s-single")
	assertEmpty(t, dst.Path(layout.StateDir))
}

func TestRestoreRefusesAnInstalledNode(t *testing.T) {
	cfg := testConfig(t, "10.0.0.5")
	tests := []struct {
		name  string
		setup func(t *testing.T, root host.Root)
		want  string
	}{
		{"a phase done", func(t *testing.T, root host.Root) {
			root.WriteFile(layout.Journal, []byte(`{"version":1,"phases":{"certs":{"status":"done"},"etcd":{"status":"running"}}}`), 0o600, 0o700)
		}, "certs done, etcd running"},
		{"etcd data left", func(t *testing.T, root host.Root) {
			root.WriteFile(cfg.Etcd.DataDir+"/member/snap/db", []byte("live"), 0o600, 0o700)
		}, "already holds data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := backup.Open(create(t, writeInstall(t)).Path)
			if err != nil {
				t.Fatal(err)
			}
			dst := host.Root(t.TempDir())
			tt.setup(t, dst)
			_, err = a.Restore(backup.RestoreOptions{Root: dst, Cluster: cfg, Snapshots: fakeRestorer{}})
			if !errors.Is(err, backup.ErrInstalled) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "reset --purge") {
				t.Fatalf("Restore = %v; want ErrInstalled saying %q and reset --purge", err, tt.want)
			}
			assertEmpty(t, dst.Path("/etc"))
		})
	}
}

// assertEmpty checks that dir holds nothing but the names allowed.
func assertEmpty(t *testing.T, dir string, allowed ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !contains(allowed, e.Name()) {
			t.Errorf("%s was written in %s", e.Name(), dir)
		}
	}
}

// TestCorruptFilesAreRefused: damage to the file itself, not its members.
func TestCorruptFilesAreRefused(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(data []byte) []byte
	}{
		{"a byte flipped in the middle", func(d []byte) []byte { d[len(d)/2] ^= 0xff; return d }},
		{"the end cut off", func(d []byte) []byte { return d[:len(d)-40] }},
		{"garbage appended", func(d []byte) []byte { return append(d, "garbage"...) }},
		{"a second gzip stream appended", func(d []byte) []byte {
			var buf bytes.Buffer
			gz := gzip.NewWriter(&buf)
			gz.Write([]byte("pki/evil.crt"))
			gz.Close()
			return append(d, buf.Bytes()...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := create(t, writeInstall(t))
			data, err := os.ReadFile(res.Path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(res.Path, tt.corrupt(data), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := backup.Open(res.Path); !errors.Is(err, backup.ErrTampered) {
				t.Errorf("Open = %v; want ErrTampered", err)
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
}

// statusRestorer answers Status with info or err and fails the test on Restore.
type statusRestorer struct {
	t    *testing.T
	info etcd.SnapshotInfo
	err  error
}

func (s statusRestorer) Status(string) (etcd.SnapshotInfo, error) { return s.info, s.err }
func (s statusRestorer) Restore(string, string, string, string) error {
	s.t.Error("Restore called after a failed snapshot check")
	return nil
}

// TestRestoreChecksTheSnapshotFirst: a snapshot etcd cannot read, or whose
// hash or revision is not the manifest's, is refused before any write.
func TestRestoreChecksTheSnapshotFirst(t *testing.T) {
	tests := []struct {
		name string
		info etcd.SnapshotInfo
		err  error
		want string
	}{
		{"unreadable", etcd.SnapshotInfo{}, errors.New("snapshot is unreadable: bolt: invalid database"), "invalid database"},
		{"another hash", etcd.SnapshotInfo{Hash: 0x1234, Revision: 42}, nil, "hash 00001234 at revision 42, the manifest says 0000abcd"},
		{"another revision", etcd.SnapshotInfo{Hash: 0xabcd, Revision: 41}, nil, "revision 41"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := backup.Open(create(t, writeInstall(t)).Path)
			if err != nil {
				t.Fatal(err)
			}
			dst := host.Root(t.TempDir())
			_, err = a.Restore(backup.RestoreOptions{Root: dst, Cluster: testConfig(t, "10.0.0.5"),
				Snapshots: statusRestorer{t: t, info: tt.info, err: tt.err}})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "nothing was written") {
				t.Fatalf("Restore = %v; want an error saying %q and nothing was written", err, tt.want)
			}
			assertEmpty(t, string(dst), "var")
			assertEmpty(t, dst.Path(layout.StateDir))
		})
	}
}

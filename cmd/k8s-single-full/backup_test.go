package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/layout"
)

type fakeSnapshots struct{}

func (fakeSnapshots) Snapshot(_ context.Context, path string) (etcd.SnapshotInfo, error) {
	return etcd.SnapshotInfo{Revision: 1}, os.WriteFile(path, []byte("snapshot"), 0o600)
}

// testArchive writes a fake install and an archive of it; it returns the
// archive's path.
func testArchive(t *testing.T) string {
	t.Helper()
	src := host.Root(t.TempDir())
	for p, data := range map[string]string{
		layout.Cert("ca"): "CA", layout.Key("ca"): "KEY", layout.EncryptionConfig: "key",
		install.ConfigPath: "node:\n  name: node-a\n  address: 10.0.0.5\n",
	} {
		if err := src.WriteFile(p, []byte(data), 0o600, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default(config.HostFacts{Hostname: "node-a", DefaultRouteAddress: "10.0.0.5"})
	res, err := backup.Create(context.Background(), backup.Options{Root: src, Dir: "/b", Cluster: cfg, Snapshots: fakeSnapshots{}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Path
}

func runCLI(args ...string) (string, error) {
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestRestoreRefuses(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, root host.Root, archive string)
		want    []string
		written []string // what may exist under root afterwards
	}{
		{"an archive with a changed byte", func(t *testing.T, _ host.Root, archive string) {
			data, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(archive, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}, []string{"does not match its manifest", "nothing was written"}, nil},
		{"an installed node", func(t *testing.T, root host.Root, _ string) {
			root.WriteFile(layout.Journal, []byte(`{"version":1,"phases":{"preflight":{"status":"done"}}}`), 0o600, 0o700)
		}, []string{"a cluster is installed", "preflight done", "k8s-single reset --purge"}, []string{"var"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			archive := testArchive(t)
			root := host.Root(t.TempDir())
			tt.prepare(t, root, archive)
			out, err := runCLI("restore", "--root", string(root), archive)
			if err == nil {
				t.Fatalf("restore succeeded:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			entries, _ := os.ReadDir(string(root))
			for _, e := range entries {
				if !contains(tt.written, e.Name()) {
					t.Errorf("restore wrote %s under the root", e.Name())
				}
			}
			if _, err := os.Stat(root.Path(layout.PKIDir)); err == nil {
				t.Errorf("restore wrote the PKI")
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestBackupKeepMustNotBeNegative(t *testing.T) {
	_, err := runCLI("backup", "--root", t.TempDir(), "--keep", "-1")
	if err == nil || !strings.Contains(err.Error(), "--keep -1") {
		t.Errorf("backup --keep -1: %v", err)
	}
}

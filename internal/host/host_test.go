package host

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRootPath(t *testing.T) {
	for _, tc := range []struct{ root, in, want string }{
		{"/", "/etc/kubernetes", "/etc/kubernetes"},
		{"", "/etc/kubernetes/", "/etc/kubernetes"},
		{"/tmp/stage", "/etc/kubernetes", "/tmp/stage/etc/kubernetes"},
	} {
		if got := Root(tc.root).Path(tc.in); got != tc.want {
			t.Errorf("Root(%q).Path(%q) = %q, want %q", tc.root, tc.in, got, tc.want)
		}
	}
}

func TestWriteFileAtomicModesAndContent(t *testing.T) {
	r := Root(t.TempDir())
	if err := r.WriteFile("/etc/kubernetes/pki/ca.key", []byte("secret"), 0o600, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(r.Path("/etc/kubernetes/pki/ca.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if err := r.WriteFile("/etc/kubernetes/pki/ca.key", []byte("new"), 0o600, 0o700); err != nil {
		t.Fatal(err)
	}
	if data, _ := r.ReadFile("/etc/kubernetes/pki/ca.key"); string(data) != "new" {
		t.Errorf("content %q, want new", data)
	}
	entries, _ := os.ReadDir(r.Path("/etc/kubernetes/pki"))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file (no temp files)", len(entries))
	}
}

func TestWriteRemovesStaleTempsOfTheSameFile(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".admin.conf.tmp-123")
	other := filepath.Join(dir, ".other.conf.tmp-456")
	os.WriteFile(stale, []byte("half"), 0o600)
	os.WriteFile(other, []byte("half"), 0o600)
	if err := WriteFileAtomic(filepath.Join(dir, "admin.conf"), []byte("x"), 0o600, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("stale temp of admin.conf survived")
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another file's temp was removed")
	}
}

func TestFileDigest(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("abc"), 0o640)
	sum, mode, err := FileDigest(p)
	if err != nil || mode != 0o640 || sum != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("FileDigest = %s %o %v", sum, mode, err)
	}
}

package host

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// failingReader yields n bytes of 'x', then fails.
type failingReader struct{ n int }

var errReader = errors.New("reader broke")

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errReader
	}
	n := min(len(p), r.n)
	for i := range n {
		p[i] = 'x'
	}
	r.n -= n
	return n, nil
}

func TestCopyAtomic(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB, more than one io.Copy buffer
	for _, tc := range []struct {
		name    string
		old     string // "" for no file before
		r       io.Reader
		mode    os.FileMode
		wantErr error
		want    string // the content after, "" for no file
	}{
		{name: "new file", r: strings.NewReader(big), mode: 0o755, want: big},
		{name: "replaces", old: "old", r: strings.NewReader("new"), mode: 0o600, want: "new"},
		{name: "empty", old: "old", r: strings.NewReader(""), mode: 0o644},
		{name: "reader fails part-way", old: "old", r: &failingReader{n: 100 << 10}, mode: 0o600, wantErr: errReader, want: "old"},
		{name: "reader fails, no file before", r: &failingReader{n: 10}, mode: 0o600, wantErr: errReader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sub")
			path := filepath.Join(dir, "kubelet")
			if tc.old != "" {
				os.MkdirAll(dir, 0o755)
				os.WriteFile(path, []byte(tc.old), 0o640)
			}
			err := CopyAtomic(path, tc.r, tc.mode, 0o750)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CopyAtomic = %v, want %v", err, tc.wantErr)
			}
			data, rerr := os.ReadFile(path)
			switch {
			case tc.wantErr != nil && tc.old == "":
				if !os.IsNotExist(rerr) {
					t.Errorf("a failed write created %s: %v", path, rerr)
				}
			case tc.wantErr != nil:
				if string(data) != tc.old {
					t.Errorf("a failed write changed the old file to %d bytes", len(data))
				}
			default:
				if string(data) != tc.want {
					t.Errorf("content is %d bytes, want %d", len(data), len(tc.want))
				}
				if st, _ := os.Stat(path); st.Mode().Perm() != tc.mode {
					t.Errorf("mode %v, want %v", st.Mode().Perm(), tc.mode)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "kubelet" {
					t.Errorf("%s left in the directory", e.Name())
				}
			}
			if st, err := os.Stat(dir); err != nil || (tc.old == "" && st.Mode().Perm() != 0o750) {
				t.Errorf("directory: %v, %v; want created with 0750", st, err)
			}
		})
	}
}

// TestWriteAtomicFill checks that fill's error comes back as is with the old
// file kept, that fill may read its temp file back by name, and that
// WriteAtomic creates no directory.
func TestWriteAtomicFill(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.db")
	os.WriteFile(path, []byte("old"), 0o600)
	errCheck := errors.New("check failed")
	err := WriteAtomic(path, 0o600, func(f *os.File) error {
		f.WriteString("new")
		if data, _ := os.ReadFile(f.Name()); string(data) != "new" {
			t.Errorf("temp file holds %q, want new", data)
		}
		return errCheck
	})
	if err != errCheck {
		t.Errorf("WriteAtomic = %v, want fill's error as is", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Errorf("content %q after a failed fill, want old", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the file", len(entries))
	}
	missing := filepath.Join(dir, "missing", "f")
	if err := WriteAtomic(missing, 0o600, func(*os.File) error { return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteAtomic into a missing directory = %v, want ErrNotExist", err)
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

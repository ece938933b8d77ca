package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadRefusesWhatIsNotASmallRegularFile: a FIFO, a device, a directory
// or an oversized file is an error naming the path and what it is, returned
// at once and without reading more than the cap.
func TestLoadRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("kind: Cluster\n"+strings.Repeat("# padding\n", 2<<20/10)), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, path, want string }{
		{"fifo", fifo, "a named pipe"},
		{"device", "/dev/zero", "a character device"},
		{"directory", dir, "a directory"},
		{"2 MiB file", big, "at most 1 MiB"},
		{"missing", filepath.Join(dir, "nope.yaml"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); tc.name == "device" && err != nil {
				t.Skip(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Load(tc.path, testHost)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("Load(%s) still running after 5s", tc.path)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want one config error, got %v", err)
			}
			if e := errs[0]; e.Field != "(file)" || e.Value != tc.path || !strings.Contains(e.Want, tc.want) {
				t.Errorf("got %v; want (file) %q with %q", e, tc.path, tc.want)
			}
		})
	}
}

// TestLoadAcceptsAFileAtTheCap: the cap is on size, not on content.
func TestLoadAcceptsAFileAtTheCap(t *testing.T) {
	head := "kind: Cluster\n"
	f := filepath.Join(t.TempDir(), "cluster.yaml")
	data := head + strings.Repeat("#", maxFileSize-len(head)-1) + "\n"
	if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(f, testHost); err != nil {
		t.Fatalf("a %d-byte file: %v", len(data), err)
	}
}

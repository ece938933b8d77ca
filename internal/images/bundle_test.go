package images

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestImport(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"pause.tar", "coredns.tar", IndexFile, "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var ran [][]string
	run := func(name string, args ...string) ([]byte, error) {
		ran = append(ran, append([]string{name}, args...))
		return nil, nil
	}
	if err := Import(context.Background(), dir, run); err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"ctr", "-n", "k8s.io", "images", "import", "--all-platforms", filepath.Join(dir, "coredns.tar")},
		{"ctr", "-n", "k8s.io", "images", "import", "--all-platforms", filepath.Join(dir, "pause.tar")},
	}
	if !slices.EqualFunc(ran, want, slices.Equal) {
		t.Errorf("ran %q\nwant %q", ran, want)
	}
}

func TestImportNamesTheFailure(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pause.tar"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(string, ...string) ([]byte, error) {
		return []byte("ctr: failed to dial \"/run/containerd/containerd.sock\"\n"), errors.New("exit status 1")
	}
	err := Import(context.Background(), dir, run)
	if err == nil || !strings.Contains(err.Error(), "pause.tar") || !strings.Contains(err.Error(), "failed to dial") ||
		!strings.Contains(err.Error(), "containerd is running") {
		t.Errorf("error %v; want the file, ctr's output and what to check", err)
	}
}

func TestBundleFilesEmpty(t *testing.T) {
	dir := t.TempDir()
	_, err := BundleFiles(dir)
	if err == nil || !strings.Contains(err.Error(), "k8s-single images build --out "+dir) {
		t.Errorf("error %v; want the command that builds a bundle", err)
	}
}

// TestCurrent: Build skips an image only when the index records its recipe
// and its tarball still holds the recorded image under its reference.
func TestCurrent(t *testing.T) {
	dir := t.TempDir()
	img := fakeImage
	path := filepath.Join(dir, img.File())
	written, err := Assemble(writeFakeBinary(t, "one"), img, path)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := entryFor(img, written, path)
	if err != nil {
		t.Fatal(err)
	}
	if !current(dir, entry, img) {
		t.Fatal("a freshly assembled image is not current")
	}
	otherUser := img
	otherUser.User = "0"
	if current(dir, entry, otherUser) {
		t.Error("current after the recipe changed")
	}
	otherRef := entry
	otherRef.Ref = "registry.k8s.io/coredns/coredns:v0.0.1"
	if current(dir, otherRef, otherRef.Image) {
		t.Error("current though the tarball has no such tag")
	}
	if _, err := Assemble(writeFakeBinary(t, "two"), img, filepath.Join(dir, img.File())); err != nil {
		t.Fatal(err)
	}
	if current(dir, entry, img) {
		t.Error("current after the tarball was replaced by another image")
	}
	os.Remove(filepath.Join(dir, img.File()))
	if current(dir, entry, img) {
		t.Error("current without its tarball")
	}
}

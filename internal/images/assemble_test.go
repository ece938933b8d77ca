package images

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// fakeImage is a recipe whose binary is any file: Assemble does not run it.
var fakeImage = Image{
	Name:    CoreDNS,
	Ref:     "registry.k8s.io/coredns/coredns:v1.14.7",
	Version: "v1.14.7",
	Binary:  "/coredns",
	User:    "65532",
}

// writeFakeBinary writes a small file standing in for a static binary.
func writeFakeBinary(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bin")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAssemble(t *testing.T) {
	content := "\x7fELF not really, but static enough\n"
	bin := writeFakeBinary(t, content)
	path := filepath.Join(t.TempDir(), "coredns.tar")
	written, err := Assemble(bin, fakeImage, path)
	if err != nil {
		t.Fatal(err)
	}

	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{fakeImage.Ref}) {
		t.Fatalf("tarball manifest %+v, want one image tagged %s", m, fakeImage.Ref)
	}
	tag, err := name.NewTag(fakeImage.Ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	for what, id := range map[string]func(v1.Image) (v1.Hash, error){"digest": v1.Image.Digest, "config digest": v1.Image.ConfigName} {
		want, _ := id(written)
		if got, err := id(img); err != nil || got != want {
			t.Errorf("%s read back %v (%v), Assemble wrote %v", what, got, err, want)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Config.Entrypoint, []string{"/coredns"}) || cfg.Config.User != "65532" ||
		cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("config: entrypoint %q user %q platform %s/%s; want [/coredns] 65532 linux/%s",
			cfg.Config.Entrypoint, cfg.Config.User, cfg.OS, cfg.Architecture, runtime.GOARCH)
	}

	hdr, data := onlyFile(t, img)
	if hdr.Name != "coredns" || hdr.Typeflag != tar.TypeReg || hdr.Mode != 0o755 || hdr.Uid != 0 || hdr.Gid != 0 || string(data) != content {
		t.Errorf("layer entry %q type %c mode %o owner %d:%d content %q; want coredns, a regular file, 0755, 0:0, %q",
			hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, data, content)
	}
}

// onlyFile returns the header and content of the one file of the image's
// one layer, failing the test if it has more.
func onlyFile(t *testing.T, img v1.Image) (*tar.Header, []byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		t.Fatal(err)
	}
	if next, err := tr.Next(); err != io.EOF {
		t.Fatalf("the layer holds more than %s: %v %v", hdr.Name, next, err)
	}
	return hdr, data
}

// TestAssembleReproducible: the same binary and recipe give the same digest,
// and another binary another one.
func TestAssembleReproducible(t *testing.T) {
	dir := t.TempDir()
	assemble := func(content, file string) string {
		t.Helper()
		img, err := Assemble(writeFakeBinary(t, content), fakeImage, filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	a, b, c := assemble("one", "a.tar"), assemble("one", "b.tar"), assemble("two", "c.tar")
	if a != b {
		t.Errorf("same binary, digests %s and %s", a, b)
	}
	if a == c {
		t.Errorf("different binaries, same digest %s", a)
	}
	if stale, _ := filepath.Glob(filepath.Join(dir, ".*")); len(stale) > 0 {
		t.Errorf("temp files left: %v", stale)
	}
}

func TestAssembleRefusesUntaggedRef(t *testing.T) {
	img := fakeImage
	img.Ref = "registry.k8s.io/pause@sha256:" + string(bytes.Repeat([]byte("0"), 64))
	if _, err := Assemble(writeFakeBinary(t, "x"), img, filepath.Join(t.TempDir(), "p.tar")); err == nil {
		t.Fatal("a digest reference was accepted; a built image can only carry a tag")
	}
}

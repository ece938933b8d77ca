package images

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteWrapper(t *testing.T) {
	dir := t.TempDir()
	img := coreDNSImage()
	if err := writeWrapper(dir, img); err != nil {
		t.Fatal(err)
	}
	goMod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	want := "module k8s-single.local/build/images/coredns\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns " + CoreDNSVersion + "\n"
	if string(goMod) != want {
		t.Errorf("go.mod:\n%s\nwant:\n%s", goMod, want)
	}
	if mainGo, _ := os.ReadFile(filepath.Join(dir, "main.go")); string(mainGo) != coreDNSMain {
		t.Errorf("main.go:\n%s\nwant CoreDNS's main", mainGo)
	}

	// go build -mod=mod moves the require into a block with the ones it adds:
	// that go.mod is kept.
	grown := "module k8s-single.local/build/images/coredns\n\ngo 1.26.0\n\nrequire (\n\tgithub.com/coredns/coredns " +
		CoreDNSVersion + "\n\tgithub.com/miekg/dns v1.1.72 // indirect\n)\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(grown), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeWrapper(dir, img); err != nil {
		t.Fatal(err)
	}
	if goMod, _ := os.ReadFile(filepath.Join(dir, "go.mod")); string(goMod) != grown {
		t.Errorf("a grown go.mod at the same version was rewritten:\n%s", goMod)
	}

	// Another version starts over.
	img.Version = "v1.14.6"
	if err := writeWrapper(dir, img); err != nil {
		t.Fatal(err)
	}
	if goMod, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !bytes.Contains(goMod, []byte("require github.com/coredns/coredns v1.14.6\n")) {
		t.Errorf("go.mod after a version change:\n%s", goMod)
	}
}

func TestWriteWrapperPause(t *testing.T) {
	dir := t.TempDir()
	c := defaultConfig()
	if err := writeWrapper(dir, pauseImage(c.Runtime.SandboxImage)); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("pause/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if mainGo, _ := os.ReadFile(filepath.Join(dir, "main.go")); !bytes.Equal(mainGo, src) {
		t.Error("the pause wrapper's main.go is not pause/main.go")
	}
	if goMod, _ := os.ReadFile(filepath.Join(dir, "go.mod")); bytes.Contains(goMod, []byte("require")) {
		t.Errorf("pause needs the standard library only, its go.mod requires:\n%s", goMod)
	}
}

// TestWriteWrapperKeepsBuilt checks that the wrappers an earlier build left
// under the real cache (go.mod grown by go build, main.go) are kept byte for
// byte, so the next build there stays warm. It skips the images not built yet.
func TestWriteWrapperKeepsBuilt(t *testing.T) {
	for _, img := range Required(defaultConfig()) {
		built := filepath.Join(realCacheDir, "work", img.Name+"-"+img.Version)
		goMod, err := os.ReadFile(filepath.Join(built, "go.mod"))
		if err != nil {
			t.Logf("%s: no earlier wrapper to compare with: %v", img.Name, err)
			continue
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), goMod, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := writeWrapper(dir, img); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "go.mod")); !bytes.Equal(got, goMod) {
			t.Errorf("%s: the go.mod in %s was rewritten:\n%s", img.Name, built, got)
		}
		if mainGo, err := os.ReadFile(filepath.Join(built, "main.go")); err == nil && !bytes.Equal(mainGo, img.main) {
			t.Errorf("%s: the main.go in %s is not the one the wrapper writes", img.Name, built)
		}
	}
}

package images

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// wrapperGoVersion is the wrappers' go directive, the one internal/binaries'
// wrappers use. It is part of what the Go build cache keys on.
const wrapperGoVersion = "1.26.0"

// wrapperModule is the module path of an image's wrapper module.
func wrapperModule(img Image) string { return "k8s-single.local/build/images/" + img.Name }

// wrapperGoMod is the go.mod a wrapper starts from; go build -mod=mod adds
// the requirements of Module's dependencies to it on the first build.
func wrapperGoMod(img Image) []byte {
	m := fmt.Sprintf("module %s\n\ngo %s\n", wrapperModule(img), wrapperGoVersion)
	if img.Module != "" {
		m += fmt.Sprintf("\nrequire %s %s\n", img.Module, img.Version)
	}
	return []byte(m)
}

// writeWrapper writes img's wrapper module into dir: go.mod, and main.go
// when the image has one. A go.mod that already has the same module and go
// lines and requires Module at Version is kept, with its go.sum and the
// requirements go build added, so a warm build stays warm.
func writeWrapper(dir string, img Image) error {
	goMod := filepath.Join(dir, "go.mod")
	if old, err := os.ReadFile(goMod); err != nil || !buildsSame(old, img) {
		if err := host.WriteFileAtomic(goMod, wrapperGoMod(img), layout.ModePublic, layout.ModeDir); err != nil {
			return err
		}
	}
	if img.main == nil {
		return nil
	}
	mainGo := filepath.Join(dir, "main.go")
	if old, err := os.ReadFile(mainGo); err == nil && bytes.Equal(old, img.main) {
		return nil
	}
	return host.WriteFileAtomic(mainGo, img.main, layout.ModePublic, layout.ModeDir)
}

// buildsSame reports whether an existing wrapper go.mod starts as img's
// would and requires Module at Version, in go's single-line or block form.
func buildsSame(goMod []byte, img Image) bool {
	want := wrapperGoMod(img)
	header, _, _ := bytes.Cut(want, []byte("\nrequire"))
	if !bytes.HasPrefix(goMod, header) {
		return false
	}
	if img.Module == "" {
		return true
	}
	require := []string{img.Module, img.Version}
	for line := range strings.SplitSeq(string(goMod), "\n") {
		f := strings.Fields(line)
		if slices.Equal(f, require) || slices.Equal(f, append([]string{"require"}, require...)) {
			return true
		}
	}
	return false
}

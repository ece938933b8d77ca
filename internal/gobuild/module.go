package gobuild

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// WriteModule writes a wrapper module into dir: goMod as its go.mod and, when
// mainGo is not nil, mainGo as its main.go. A go.mod that already builds what
// goMod describes is kept, with its go.sum and the requirements go build
// -mod=mod added to it: the same module and go lines, the same replaces, and
// each of goMod's requires at the same version. A main.go that is the same is
// kept too, so a warm build stays warm.
func WriteModule(dir string, goMod, mainGo []byte) error {
	if err := writeUnlessSame(filepath.Join(dir, "go.mod"), goMod, sameGoMod); err != nil {
		return err
	}
	if mainGo == nil {
		return nil
	}
	return writeUnlessSame(filepath.Join(dir, "main.go"), mainGo, bytes.Equal)
}

// writeUnlessSame writes data to path unless the file there is the same by
// same's measure.
func writeUnlessSame(path string, data []byte, same func(old, new []byte) bool) error {
	if old, err := os.ReadFile(path); err == nil && same(old, data) {
		return nil
	}
	return host.WriteFileAtomic(path, data, layout.ModePublic, layout.ModeDir)
}

// sameGoMod reports whether an existing wrapper go.mod builds what want
// describes: the same module and go lines, the same replaces, and each of
// want's requires at the same version. Other requires are the ones go build
// -mod=mod added, and stay.
func sameGoMod(existing, want []byte) bool {
	have, err := ParseGoMod(existing)
	if err != nil {
		return false
	}
	w, err := ParseGoMod(want)
	if err != nil {
		return false
	}
	if have.Module != w.Module || have.Go != w.Go || !sameReplaces(have.Replace, w.Replace) {
		return false
	}
	for _, req := range w.Require {
		if !slices.Contains(have.Require, req) {
			return false
		}
	}
	return true
}

// sameReplaces compares two replace lists as sets.
func sameReplaces(a, b []Replacement) bool {
	byText := func(x, y Replacement) int { return strings.Compare(x.String(), y.String()) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, byText)
	slices.SortFunc(b, byText)
	return slices.Equal(a, b)
}

package images

import "github.com/k8s-single/k8s-single/internal/gobuild"

// wrapperModule is the module path of an image's wrapper module.
func wrapperModule(img Image) string { return "k8s-single.local/build/images/" + img.Name }

// wrapperGoMod is the go.mod a wrapper starts from; go build -mod=mod adds
// the requirements of Module's dependencies to it on the first build.
func wrapperGoMod(img Image) []byte {
	m := gobuild.GoMod{Module: wrapperModule(img), Go: gobuild.GoVersion}
	if img.Module != "" {
		m.Require = []gobuild.ModVersion{{Path: img.Module, Version: img.Version}}
	}
	return m.Format()
}

// writeWrapper writes img's wrapper module into dir: go.mod, and main.go
// when the image has one. A go.mod that still builds the same (see
// gobuild.WriteModule) is kept, with its go.sum and the requirements go build
// added, so a warm build stays warm.
func writeWrapper(dir string, img Image) error {
	return gobuild.WriteModule(dir, wrapperGoMod(img), img.main)
}

package binaries

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// The wrapper modules' names and Go language version. They are part of what
// the Go build cache keys on, so they must not change between runs.
const (
	kubernetesWrapperModule = "k8s-single.local/build/kubernetes"
	etcdWrapperModule       = "k8s-single.local/build/etcd"
	wrapperGoVersion        = "1.26.0"
)

// unservedStaging are staging modules of k8s.io/kubernetes that the module
// proxy does not serve; none of the 6 binaries needs them.
var unservedStaging = map[string]bool{
	"k8s.io/sample-cli-plugin": true,
	"k8s.io/sample-controller": true,
}

// zeroCommit stands in for the git commit: a module build has no checkout.
const zeroCommit = "0000000000000000000000000000000000000000"

// versionPackages are the packages whose variables kube-* --version prints.
var versionPackages = []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"}

// WriteKubernetesWrapper writes into dir the go.mod of a module that builds
// k8s.io/kubernetes at version from the Go module proxy (see KubernetesGoMod),
// reading the release's own go.mod through the module cache under cacheDir.
// An existing go.mod that already says the same is kept, with its go.sum, so
// a warm build stays warm. It returns the release's time, which the build
// stamps as buildDate so rebuilds are reproducible.
func WriteKubernetesWrapper(ctx context.Context, dir, version, cacheDir string) (time.Time, error) {
	src, err := goEnv{cacheDir}.download(ctx, "k8s.io/kubernetes", version)
	if err != nil {
		return time.Time{}, err
	}
	gomod, err := KubernetesGoMod(version, src.goMod)
	if err != nil {
		return time.Time{}, err
	}
	return src.time, writeWrapperFile(filepath.Join(dir, "go.mod"), gomod, sameGoMod)
}

// KubernetesGoMod returns the wrapper go.mod for a Kubernetes version, given
// that release's own go.mod: it requires k8s.io/kubernetes and replaces every
// staging module the release replaces with ./staging/src/... by its published
// version (v1.37.2 -> v0.37.2), except the ones the proxy does not serve.
func KubernetesGoMod(version string, upstreamGoMod []byte) ([]byte, error) {
	r, err := parseRelease(version)
	if err != nil {
		return nil, err
	}
	up, err := parseGoMod(upstreamGoMod)
	if err != nil {
		return nil, fmt.Errorf("k8s.io/kubernetes@%s go.mod: %w", version, err)
	}
	m := modFile{
		Module:  kubernetesWrapperModule,
		Go:      wrapperGoVersion,
		Require: []modVersion{{"k8s.io/kubernetes", version}},
	}
	for _, rep := range up.Replace {
		if strings.HasPrefix(rep.New.Path, "./staging/") && !unservedStaging[rep.Old.Path] {
			m.Replace = append(m.Replace, replacement{Old: modVersion{Path: rep.Old.Path}, New: modVersion{rep.Old.Path, r.staging()}})
		}
	}
	if len(m.Replace) == 0 {
		return nil, fmt.Errorf("k8s.io/kubernetes@%s go.mod replaces no staging modules; is %s a Kubernetes release?", version, version)
	}
	return m.format(), nil
}

// KubernetesLDFlags returns the -ldflags of a Kubernetes build: stripped, and
// the version variables `--version` and `kubectl version` print, stamped in
// both places they live. buildDate is the release's time, not now.
func KubernetesLDFlags(version string, buildDate time.Time) (string, error) {
	r, err := parseRelease(version)
	if err != nil {
		return "", err
	}
	vars := [][2]string{
		{"gitVersion", version},
		{"gitMajor", r.major},
		{"gitMinor", r.minor},
		{"gitTreeState", "clean"},
		{"buildDate", buildDate.UTC().Format(time.RFC3339)},
		{"gitCommit", zeroCommit},
	}
	flags := []string{"-s", "-w"}
	for _, pkg := range versionPackages {
		for _, v := range vars {
			flags = append(flags, "-X", pkg+"."+v[0]+"="+v[1])
		}
	}
	return strings.Join(flags, " "), nil
}

// etcdMain is the wrapper's main package: etcd's own server main.
const etcdMain = `// Command etcd is etcd's own server main, built from the Go module proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v%s/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
`

// WriteEtcdWrapper writes into dir a module that builds etcd at version from
// the Go module proxy: a go.mod requiring go.etcd.io/etcd/server and etcdctl,
// and a main.go calling etcdmain.Main. Files that already say the same are
// kept (go.mod compared by its module, go, require and replace lines, since
// go build -mod=mod adds requires to it), so a warm build stays warm. etcd's
// version is compiled into its module; no ldflags are needed.
func WriteEtcdWrapper(dir, version string) error {
	r, err := parseRelease(version)
	if err != nil {
		return err
	}
	m := modFile{
		Module: etcdWrapperModule,
		Go:     wrapperGoVersion,
		Require: []modVersion{
			{etcdModule("etcdctl", r), version},
			{etcdModule("server", r), version},
		},
	}
	if err := writeWrapperFile(filepath.Join(dir, "go.mod"), m.format(), sameGoMod); err != nil {
		return err
	}
	return writeWrapperFile(filepath.Join(dir, "main.go"), fmt.Appendf(nil, etcdMain, r.major), bytes.Equal)
}

// etcdModule is the path of one of etcd's modules at a release's major version.
func etcdModule(name string, r release) string {
	return "go.etcd.io/etcd/" + name + "/v" + r.major
}

// writeWrapperFile writes data to path unless the file there is the same by
// same's measure.
func writeWrapperFile(path string, data []byte, same func(old, new []byte) bool) error {
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
	have, err := parseGoMod(existing)
	if err != nil {
		return false
	}
	w, err := parseGoMod(want)
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
func sameReplaces(a, b []replacement) bool {
	byText := func(x, y replacement) int { return strings.Compare(x.String(), y.String()) }
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, byText)
	slices.SortFunc(b, byText)
	return slices.Equal(a, b)
}

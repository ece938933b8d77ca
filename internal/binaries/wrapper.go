package binaries

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/gobuild"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// The wrapper modules' names. They are part of what the Go build cache keys
// on, so they must not change between runs.
const (
	kubernetesWrapperModule = "k8s-single.local/build/kubernetes"
	etcdWrapperModule       = "k8s-single.local/build/etcd"
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
	src, err := downloadModule(ctx, cacheDir, "k8s.io/kubernetes", version)
	if err != nil {
		return time.Time{}, err
	}
	gomod, err := KubernetesGoMod(version, src.goMod)
	if err != nil {
		return time.Time{}, err
	}
	return src.time, gobuild.WriteModule(dir, gomod, nil)
}

// moduleSource is what the module cache holds of one module version.
type moduleSource struct {
	goMod []byte
	// time is the version's publication time from the proxy's .info file.
	time time.Time
}

// downloadModule fetches a module version into the module cache under
// cacheDir (a no-op when it is there) and reads its go.mod and time.
func downloadModule(ctx context.Context, cacheDir, path, version string) (moduleSource, error) {
	if err := os.MkdirAll(cacheDir, layout.ModeDir); err != nil {
		return moduleSource{}, err
	}
	var stderr bytes.Buffer
	cmd := gobuild.Command(ctx, cacheDir, cacheDir, "mod", "download", "-json", path+"@"+version)
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	var files struct{ GoMod, Info, Error string }
	jsonErr := json.Unmarshal(out, &files)
	switch {
	case files.Error != "":
		return moduleSource{}, fmt.Errorf("go mod download %s@%s: %s", path, version, files.Error)
	case runErr != nil:
		return moduleSource{}, fmt.Errorf("go mod download %s@%s: %w: %s", path, version, runErr, strings.TrimSpace(stderr.String()))
	case jsonErr != nil:
		return moduleSource{}, fmt.Errorf("go mod download %s@%s: %w", path, version, jsonErr)
	}
	goMod, err := os.ReadFile(files.GoMod)
	if err != nil {
		return moduleSource{}, err
	}
	info, err := os.ReadFile(files.Info)
	if err != nil {
		return moduleSource{}, err
	}
	var meta struct{ Time time.Time }
	if err := json.Unmarshal(info, &meta); err != nil {
		return moduleSource{}, fmt.Errorf("%s: %w", files.Info, err)
	}
	return moduleSource{goMod: goMod, time: meta.Time}, nil
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
	up, err := gobuild.ParseGoMod(upstreamGoMod)
	if err != nil {
		return nil, fmt.Errorf("k8s.io/kubernetes@%s go.mod: %w", version, err)
	}
	m := gobuild.GoMod{
		Module:  kubernetesWrapperModule,
		Go:      gobuild.GoVersion,
		Require: []gobuild.ModVersion{{Path: "k8s.io/kubernetes", Version: version}},
	}
	for _, rep := range up.Replace {
		if strings.HasPrefix(rep.New.Path, "./staging/") && !unservedStaging[rep.Old.Path] {
			m.Replace = append(m.Replace, gobuild.Replacement{
				Old: gobuild.ModVersion{Path: rep.Old.Path},
				New: gobuild.ModVersion{Path: rep.Old.Path, Version: r.staging()},
			})
		}
	}
	if len(m.Replace) == 0 {
		return nil, fmt.Errorf("k8s.io/kubernetes@%s go.mod replaces no staging modules; is %s a Kubernetes release?", version, version)
	}
	return m.Format(), nil
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
// kept (see gobuild.WriteModule), so a warm build stays warm. etcd's version
// is compiled into its module; no ldflags are needed.
func WriteEtcdWrapper(dir, version string) error {
	r, err := parseRelease(version)
	if err != nil {
		return err
	}
	m := gobuild.GoMod{
		Module: etcdWrapperModule,
		Go:     gobuild.GoVersion,
		Require: []gobuild.ModVersion{
			{Path: etcdModule("etcdctl", r), Version: version},
			{Path: etcdModule("server", r), Version: version},
		},
	}
	return gobuild.WriteModule(dir, m.Format(), fmt.Appendf(nil, etcdMain, r.major))
}

// etcdModule is the path of one of etcd's modules at a release's major version.
func etcdModule(name string, r release) string {
	return "go.etcd.io/etcd/" + name + "/v" + r.major
}

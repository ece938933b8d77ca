package binaries

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/gobuild"
	"github.com/k8s-single/k8s-single/internal/golden"
)

// handMadeWork is where the hand-made builds on the build machine live; the
// tests compare against them when they are there and skip that part if not.
const handMadeWork = "/var/cache/k8s-single/work"

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestKubernetesGoMod generates the wrapper go.mod from k8s.io/kubernetes
// v1.37.2's own go.mod (a copy in testdata): every staging module it replaces
// with ./staging/src/... is replaced by its v0.37.2 release, except the two the
// proxy does not serve, and it says what the hand-made wrapper says.
func TestKubernetesGoMod(t *testing.T) {
	upstream := readTestdata(t, "kubernetes-v1.37.2.mod")
	got, err := KubernetesGoMod("v1.37.2", upstream)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "kubernetes-v1.37.2-wrapper.go.mod.golden"), got)

	up, err := gobuild.ParseGoMod(upstream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gobuild.ParseGoMod(got)
	if err != nil {
		t.Fatal(err)
	}
	if m.Module != "k8s-single.local/build/kubernetes" || m.Go != "1.26.0" ||
		len(m.Require) != 1 || m.Require[0] != (gobuild.ModVersion{Path: "k8s.io/kubernetes", Version: "v1.37.2"}) {
		t.Errorf("module/go/require = %q %q %v", m.Module, m.Go, m.Require)
	}
	replaced := map[string]bool{}
	for _, r := range m.Replace {
		replaced[r.Old.Path] = true
		if r.Old.Version != "" || r.New != (gobuild.ModVersion{Path: r.Old.Path, Version: "v0.37.2"}) {
			t.Errorf("replace %s, want %s => %s v0.37.2", r, r.Old.Path, r.Old.Path)
		}
	}
	for _, r := range up.Replace {
		staging := strings.HasPrefix(r.New.Path, "./staging/src/")
		sample := r.Old.Path == "k8s.io/sample-cli-plugin" || r.Old.Path == "k8s.io/sample-controller"
		if replaced[r.Old.Path] != (staging && !sample) {
			t.Errorf("%s replaced = %v, want %v", r.Old.Path, replaced[r.Old.Path], staging && !sample)
		}
	}
	if len(m.Replace) != 31 {
		t.Errorf("%d replaces, want the 31 served staging modules of v1.37.2", len(m.Replace))
	}

	handMade, err := os.ReadFile(filepath.Join(handMadeWork, "kubernetes-v1.37.2", "go.mod"))
	if err != nil {
		t.Logf("no hand-made wrapper to compare with: %v", err)
		return
	}
	if !keptBy(t, handMade, got) {
		t.Errorf("generated go.mod does not say what the hand-made one says:\n%s", handMade)
	}
}

// TestKubernetesLDFlags pins the ldflags: they are part of the link's cache
// key, and buildDate comes from the release, not the clock.
func TestKubernetesLDFlags(t *testing.T) {
	released := time.Date(2026, 10, 27, 13, 1, 4, 0, time.FixedZone("CET", 3600))
	got, err := KubernetesLDFlags("v1.37.2", released)
	if err != nil {
		t.Fatal(err)
	}
	want := "-s -w"
	for _, p := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		want += " -X " + p + ".gitVersion=v1.37.2 -X " + p + ".gitMajor=1 -X " + p + ".gitMinor=37" +
			" -X " + p + ".gitTreeState=clean -X " + p + ".buildDate=2026-10-27T12:01:04Z" +
			" -X " + p + ".gitCommit=0000000000000000000000000000000000000000"
	}
	if got != want {
		t.Errorf("ldflags:\n got %s\nwant %s", got, want)
	}
	if _, err := KubernetesLDFlags("1.37", released); err == nil {
		t.Error("a malformed version is accepted")
	}
}

func TestParseRelease(t *testing.T) {
	for _, tc := range []struct{ in, staging, major, minor string }{
		{"v1.37.2", "v0.37.2", "1", "37"},
		{"v1.38.0-rc.1", "v0.38.0-rc.1", "1", "38"},
		{"v3.7.3", "v0.7.3", "3", "7"},
	} {
		r, err := parseRelease(tc.in)
		if err != nil || r.staging() != tc.staging || r.major != tc.major || r.minor != tc.minor {
			t.Errorf("parseRelease(%q) = %+v, %v; want staging %s major %s minor %s", tc.in, r, err, tc.staging, tc.major, tc.minor)
		}
	}
	for _, bad := range []string{"1.37.2", "v1.37", "latest", "v1.37.2 "} {
		if _, err := parseRelease(bad); err == nil {
			t.Errorf("parseRelease(%q) accepted", bad)
		}
	}
}

// TestWriteEtcdWrapper writes the etcd wrapper fresh, keeps a go.mod that go
// build -mod=mod has grown (and its go.sum) byte for byte, and rewrites one
// for another version.
func TestWriteEtcdWrapper(t *testing.T) {
	fresh := t.TempDir()
	if err := WriteEtcdWrapper(fresh, "v3.7.3"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go.mod", "main.go"} {
		got, err := os.ReadFile(filepath.Join(fresh, name))
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", "etcd-v3.7.3-wrapper."+name+".golden"), got)
		if handMade, err := os.ReadFile(filepath.Join(handMadeWork, "etcd-v3.7.3", name)); err == nil {
			same := bytes.Equal(handMade, got) || (name == "go.mod" && keptBy(t, handMade, got))
			if !same {
				t.Errorf("%s does not say what the hand-made one says:\n%s", name, handMade)
			}
		}
	}

	built := readTestdata(t, "etcd-v3.7.3-built.mod")
	for _, tc := range []struct {
		name    string
		version string
		kept    bool
	}{
		{"grown by go build", "v3.7.3", true},
		{"another version", "v3.7.4", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			sum := []byte("go.etcd.io/etcd/server/v3 v3.7.3 h1:x\n")
			writeExecutable(t, filepath.Join(dir, "go.mod"), built)
			writeExecutable(t, filepath.Join(dir, "go.sum"), sum)
			if err := WriteEtcdWrapper(dir, tc.version); err != nil {
				t.Fatal(err)
			}
			gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
			gosum, _ := os.ReadFile(filepath.Join(dir, "go.sum"))
			if kept := bytes.Equal(gomod, built); kept != tc.kept {
				t.Errorf("go.mod kept = %v, want %v:\n%s", kept, tc.kept, gomod)
			}
			if !bytes.Equal(gosum, sum) {
				t.Error("go.sum was touched")
			}
			if !tc.kept && !strings.Contains(string(gomod), "go.etcd.io/etcd/server/v3 "+tc.version) {
				t.Errorf("rewritten go.mod does not require %s:\n%s", tc.version, gomod)
			}
		})
	}
}

// keptBy reports whether gobuild.WriteModule keeps an existing go.mod when
// it is to write want: whether the existing one builds the same.
func keptBy(t *testing.T, existing, want []byte) bool {
	t.Helper()
	dir := t.TempDir()
	writeExecutable(t, filepath.Join(dir, "go.mod"), existing)
	if err := gobuild.WriteModule(dir, want, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(got, existing)
}

package gobuild

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubernetesGoMod is a wrapper go.mod of the Kubernetes kind: one require and
// replaces.
var kubernetesGoMod = GoMod{
	Module:  "k8s-single.local/build/kubernetes",
	Go:      GoVersion,
	Require: []ModVersion{{"k8s.io/kubernetes", "v1.37.2"}},
	Replace: []Replacement{
		{ModVersion{Path: "k8s.io/api"}, ModVersion{"k8s.io/api", "v0.37.2"}},
		{ModVersion{Path: "k8s.io/apimachinery"}, ModVersion{"k8s.io/apimachinery", "v0.37.2"}},
		{ModVersion{Path: "k8s.io/client-go"}, ModVersion{"k8s.io/client-go", "v0.37.2"}},
	},
}.Format()

// TestSameGoMod checks what a kept wrapper go.mod may and may not differ in.
func TestSameGoMod(t *testing.T) {
	w := string(kubernetesGoMod)
	for _, tc := range []struct {
		name, existing string
		same           bool
	}{
		{"identical", w, true},
		{"requires added by go build", w + "\nrequire (\n\tk8s.io/api v0.0.0 // indirect\n\tgithub.com/x/y v1.0.0 // indirect\n)\n", true},
		{"require folded into a block", strings.Replace(w, "require k8s.io/kubernetes v1.37.2", "require (\n\tk8s.io/kubernetes v1.37.2\n\tk8s.io/api v0.0.0 // indirect\n)", 1), true},
		{"replaces in another order", strings.Replace(w, "\tk8s.io/api => k8s.io/api v0.37.2\n", "", 1) + "\nreplace k8s.io/api => k8s.io/api v0.37.2\n", true},
		{"another kubernetes", strings.Replace(w, "k8s.io/kubernetes v1.37.2", "k8s.io/kubernetes v1.37.1", 1), false},
		{"a replace at another version", strings.Replace(w, "k8s.io/api v0.37.2", "k8s.io/api v0.37.1", 1), false},
		{"a replace missing", strings.Replace(w, "\tk8s.io/api => k8s.io/api v0.37.2\n", "", 1), false},
		{"a replace added", w + "\nreplace k8s.io/x => k8s.io/x v0.1.0\n", false},
		{"another go version", strings.Replace(w, "go 1.26.0", "go 1.25.0", 1), false},
		{"another module", strings.Replace(w, "build/kubernetes", "build/k8s", 1), false},
		{"unparsable", "replace (\n\tk8s.io/api\n)\n", false},
	} {
		if got := sameGoMod([]byte(tc.existing), kubernetesGoMod); got != tc.same {
			t.Errorf("%s: sameGoMod = %v, want %v", tc.name, got, tc.same)
		}
	}
}

// TestWriteModule writes a wrapper fresh, keeps a go.mod that go build has
// grown (and its go.sum) and a main.go that is the same, and rewrites the
// files that differ.
func TestWriteModule(t *testing.T) {
	want := GoMod{
		Module:  "k8s-single.local/build/images/coredns",
		Go:      GoVersion,
		Require: []ModVersion{{"github.com/coredns/coredns", "v1.14.7"}},
	}.Format()
	mainGo := []byte("package main\n\nfunc main() {}\n")

	dir := t.TempDir()
	if err := WriteModule(dir, want, mainGo); err != nil {
		t.Fatal(err)
	}
	assertFile(t, filepath.Join(dir, "go.mod"), want)
	assertFile(t, filepath.Join(dir, "main.go"), mainGo)

	grown := bytes.Replace(want, []byte("require github.com/coredns/coredns v1.14.7\n"),
		[]byte("require (\n\tgithub.com/coredns/coredns v1.14.7\n\tgithub.com/miekg/dns v1.1.72 // indirect\n)\n"), 1)
	sum := []byte("github.com/coredns/coredns v1.14.7 h1:x\n")
	for name, data := range map[string][]byte{"go.mod": grown, "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := stat(t, filepath.Join(dir, "main.go"))
	if err := WriteModule(dir, want, mainGo); err != nil {
		t.Fatal(err)
	}
	assertFile(t, filepath.Join(dir, "go.mod"), grown)
	assertFile(t, filepath.Join(dir, "go.sum"), sum)
	if !os.SameFile(before, stat(t, filepath.Join(dir, "main.go"))) {
		t.Error("the same main.go was written again")
	}

	// Another version and another main start over; go.sum is go's to fix.
	other := bytes.ReplaceAll(want, []byte("v1.14.7"), []byte("v1.14.6"))
	otherMain := []byte("package main\n\nfunc main() { println() }\n")
	if err := WriteModule(dir, other, otherMain); err != nil {
		t.Fatal(err)
	}
	assertFile(t, filepath.Join(dir, "go.mod"), other)
	assertFile(t, filepath.Join(dir, "main.go"), otherMain)
	assertFile(t, filepath.Join(dir, "go.sum"), sum)

	// Without a main.go none is written.
	bare := t.TempDir()
	if err := WriteModule(bare, want, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(bare, "main.go")); !os.IsNotExist(err) {
		t.Errorf("main.go written without one: %v", err)
	}
}

func assertFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n%s\nwant:\n%s", filepath.Base(path), got, want)
	}
}

func stat(t *testing.T, path string) os.FileInfo {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

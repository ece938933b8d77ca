package install

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/runtime"
)

func TestRuntimeFiles(t *testing.T) {
	fs, err := runtimeFiles(sampleCluster(t))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range fs {
		paths = append(paths, f.Path)
	}
	if want := []string{runtime.ContainerdConfig, runtime.CNIConflist, runtime.SysctlConf}; !slices.Equal(paths, want) {
		t.Errorf("files %q, want %q", paths, want)
	}
}

func TestBundleListing(t *testing.T) {
	if got := bundleListing(""); got != nil {
		t.Errorf("no bundle: %v", got)
	}
	dir := t.TempDir()
	if got := bundleListing(dir); !strings.Contains(got["error"], "no *.tar files") {
		t.Errorf("empty bundle: %v", got)
	}
	for name, data := range map[string]string{"pause.tar": "p", "coredns.tar": "cd", "bundle.json": "{}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := bundleListing(dir)
	if len(got) != 2 || !strings.HasPrefix(got["pause.tar"], "1 ") || !strings.HasPrefix(got["coredns.tar"], "2 ") {
		t.Errorf("listing %v, want the two tarballs with their sizes", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "pause.tar"), []byte("p2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if again := bundleListing(dir); again["pause.tar"] == got["pause.tar"] {
		t.Error("a changed tarball keeps its listing")
	}
}

func TestPlanRuntime(t *testing.T) {
	cfg := sampleCluster(t)
	c := &phases.Context{Config: cfg}
	if plan := planRuntime(c); len(plan) != 4 || strings.Contains(strings.Join(plan, "\n"), "import") {
		t.Errorf("plan without a bundle: %q", plan)
	}
	cfg.Runtime.ImageBundle = "/srv/images"
	plan := planRuntime(c)
	if len(plan) != 5 || plan[3] != "import the image tarballs of /srv/images into containerd" ||
		plan[4] != "make sure the sandbox image registry.k8s.io/pause:3.10 is present" {
		t.Errorf("plan with a bundle: %q", plan)
	}
}

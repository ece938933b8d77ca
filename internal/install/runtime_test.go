package install

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/gocachetest"
	"github.com/k8s-single/k8s-single/internal/images"
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
	if got, err := bundleListing(""); got != nil || err != nil {
		t.Errorf("no bundle: %v, %v", got, err)
	}
	dir := t.TempDir()
	if _, err := bundleListing(dir); err == nil || !strings.Contains(err.Error(), "no *.tar files") {
		t.Errorf("empty bundle: %v", err)
	}
	for name, data := range map[string]string{"pause.tar": "p", "coredns.tar": "cd", "bundle.json": "{}"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := bundleListing(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.HasPrefix(got["pause.tar"], "1 ") || !strings.HasPrefix(got["coredns.tar"], "2 ") {
		t.Errorf("listing %v, want the two tarballs with their sizes", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "pause.tar"), []byte("p2"), 0o644); err != nil {
		t.Fatal(err)
	}
	if again, _ := bundleListing(dir); again["pause.tar"] == got["pause.tar"] {
		t.Error("a changed tarball keeps its listing")
	}
}

func TestPlanRuntime(t *testing.T) {
	cfg := sampleCluster(t)
	c := &phases.Context{Config: cfg}
	if plan := planRuntime(c); len(plan) != 5 || strings.Contains(strings.Join(plan, "\n"), "import") ||
		!strings.Contains(plan[4], images.AgentImage().Ref) {
		t.Errorf("plan without a bundle: %q", plan)
	}
	cfg.Runtime.ImageBundle = "/srv/images"
	plan := planRuntime(c)
	if len(plan) != 6 || plan[3] != "import the image tarballs of /srv/images into containerd" ||
		plan[4] != "make sure the sandbox image registry.k8s.io/pause:3.10 is present" {
		t.Errorf("plan with a bundle: %q", plan)
	}
}

// TestEnsureAgentImage: the verify agent's image is left alone when
// containerd has it; otherwise it is built from k8s-single's source under
// binaries.cacheDir and its tarball imported (no registry serves it).
func TestEnsureAgentImage(t *testing.T) {
	img := images.AgentImage()
	list := "ctr -n k8s.io --connect-timeout 2s --timeout 10s images ls -q"
	for _, tc := range []struct {
		name   string
		listed string
		built  bool
	}{
		{"present", "registry.k8s.io/pause:3.10\n" + runtime.NormalizeRef(img.Ref) + "\n", false},
		{"absent", "registry.k8s.io/pause:3.10\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := sampleCluster(t)
			cfg.Binaries.CacheDir = gocachetest.SharedCacheDir(t)
			var calls []string
			run := func(name string, args ...string) ([]byte, error) {
				line := strings.Join(append([]string{name}, args...), " ")
				calls = append(calls, line)
				if line == list {
					return []byte(tc.listed), nil
				}
				if strings.HasPrefix(line, "ctr -n k8s.io images import --all-platforms ") {
					return nil, nil
				}
				return nil, fmt.Errorf("unexpected command %s", line)
			}
			c := &phases.Context{Context: context.Background(), Config: cfg}
			if err := ensureAgentImage(c, run, img); err != nil {
				t.Fatalf("ensureAgentImage: %v", err)
			}
			tarball := filepath.Join(cfg.Binaries.CacheDir, "agent-image", img.File())
			wantCalls := []string{list}
			if tc.built {
				wantCalls = append(wantCalls, "ctr -n k8s.io images import --all-platforms "+tarball)
			}
			if !slices.Equal(calls, wantCalls) {
				t.Errorf("ran %q, want %q", calls, wantCalls)
			}
			if _, err := os.Stat(tarball); (err == nil) != tc.built {
				t.Errorf("%s exists: %v, want %v", tarball, err == nil, tc.built)
			}
		})
	}
}

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
	for source, want := range map[string][]string{
		"build":  {runtime.ContainerdConfig, runtime.CNIConflist, runtime.SysctlConf, "/etc/systemd/system/containerd.service"},
		"debian": {runtime.ContainerdConfig, runtime.CNIConflist, runtime.SysctlConf}, // Debian's unit runs Debian's containerd
	} {
		c := sampleCluster(t)
		c.Runtime.Source = source
		fs, err := runtimeFiles(c)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range fs {
			paths = append(paths, f.Path)
		}
		if !slices.Equal(paths, want) {
			t.Errorf("runtime.source %s: files %q, want %q", source, paths, want)
		}
	}
}

func TestRuntimeSourceIdentifiesTheBinaries(t *testing.T) {
	c := sampleCluster(t)
	c.Runtime.Source, c.Binaries.Dir = "dir", t.TempDir()
	write := func(data string) {
		if err := os.WriteFile(filepath.Join(c.Binaries.Dir, "containerd"), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	before := runtimeSource(c)
	write("other")
	if slices.Equal(before, runtimeSource(c)) {
		t.Error("a replaced containerd in binaries.dir leaves the phase's inputs as they were")
	}
	c.Runtime.Source = "debian"
	if got := runtimeSource(c); !slices.Equal(got, []string{"debian"}) {
		t.Errorf("debian: %q, want only the source (Debian's packages have no versions in the config)", got)
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
	plan := strings.Join(planRuntime(c), "\n")
	for _, want := range []string{"Debian packages iptables conntrack socat\n",
		"put containerd v2.4.2, runc v1.5.3 (into /opt/kubernetes/bin) and the CNI plugins v1.10.0 (into /opt/cni/bin) from runtime.source build",
		images.AgentImage().Ref} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan without a bundle lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "import") {
		t.Errorf("plan without a bundle imports:\n%s", plan)
	}
	cfg.Runtime.ImageBundle = "/srv/images"
	cfg.Runtime.Source = "debian"
	plan = strings.Join(planRuntime(c), "\n")
	for _, want := range []string{"Debian packages containerd runc containernetworking-plugins iptables conntrack socat\n",
		"import the image tarballs of /srv/images into containerd\nmake sure the images registry.k8s.io/pause:3.10, "} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan with a bundle and Debian's runtime lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "put containerd") {
		t.Errorf("plan with Debian's runtime installs k8s-single's:\n%s", plan)
	}
}

// TestImageSupplyBuildsTheAgent: the verify agent's image is left alone when
// containerd has it; otherwise it is built from k8s-single's source under
// binaries.cacheDir and only its tarball imported (no registry serves it).
func TestImageSupplyBuildsTheAgent(t *testing.T) {
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
			if err := imageSupply(c, run).Ensure(c, []images.Image{img}); err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			tarball := filepath.Join(cfg.Binaries.CacheDir, "images", img.File())
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

package images

import (
	"bytes"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/printer"
)

func defaultConfig() *config.Cluster {
	return config.Default(config.HostFacts{Hostname: "node1", DefaultRouteAddress: "10.0.2.15"})
}

func TestListDefaultConfig(t *testing.T) {
	var out bytes.Buffer
	if err := printer.Print(&out, printer.FormatSimple, List(Required(defaultConfig()))); err != nil {
		t.Fatal(err)
	}
	want := "registry.k8s.io/pause:3.10\n" +
		"registry.k8s.io/coredns/coredns:" + CoreDNSVersion + "\n" +
		"registry.k8s.io/metrics-server/metrics-server:" + MetricsServerVersion + "\n" +
		AgentImage().Ref + "\n"
	if out.String() != want {
		t.Errorf("images list:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestRequiredFollowsSandboxImage(t *testing.T) {
	c := defaultConfig()
	c.Runtime.SandboxImage = "registry.example/pause:9.9"
	imgs := Required(c)
	if imgs[0].Name != Pause || imgs[0].Ref != c.Runtime.SandboxImage {
		t.Errorf("first image %s %s, want pause tagged runtime.sandboxImage %s", imgs[0].Name, imgs[0].Ref, c.Runtime.SandboxImage)
	}
}

// TestRecipes pins what each image runs as, which the addons' manifests
// rely on.
func TestRecipes(t *testing.T) {
	want := map[string]struct{ binary, user string }{
		Pause:         {"/pause", "65535:65535"},
		CoreDNS:       {"/coredns", ""},
		MetricsServer: {"/metrics-server", "65534"},
		Agent:         {"/agent", "65534"},
	}
	imgs := Required(defaultConfig())
	if len(imgs) != len(want) {
		t.Fatalf("%d images, want %d", len(imgs), len(want))
	}
	for _, img := range imgs {
		w := want[img.Name]
		if img.Binary != w.binary || img.User != w.user || img.File() != img.Name+".tar" {
			t.Errorf("%s: binary %q user %q file %q; want %q %q %s.tar", img.Name, img.Binary, img.User, img.File(), w.binary, w.user, img.Name)
		}
		fromRepo := img.Name == Pause || img.Name == Agent
		if (img.Module == "") != fromRepo || (img.main == nil) != (img.Name == MetricsServer) {
			t.Errorf("%s: module %q, main.go %t: only pause and agent are built from this repo, only metrics-server has its own main",
				img.Name, img.Module, img.main != nil)
		}
	}
}

func TestAgentTagFollowsItsSource(t *testing.T) {
	a := AgentImage()
	if a.Ref != "k8s-single.local/agent:"+a.Version || !strings.HasPrefix(a.Version, "src-") {
		t.Errorf("agent ref %s, version %s", a.Ref, a.Version)
	}
}

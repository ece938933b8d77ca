package images

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config"
)

// world is a fake containerd, registry and Go toolchain for Supply.
type world struct {
	present    map[string]bool
	bundle     map[string]bool // refs the bundle carries
	registry   bool            // the registries answer
	pullFails  bool            // a pull fails although the registry answers
	buildFails error           // the build fails
	asked      []string
	pulled     []string
	built      []string
	builds     int
}

func (w *world) supply(mode, bundle string) Supply {
	return Supply{
		Mode:   mode,
		Bundle: bundle,
		Present: func(ref string) (bool, error) {
			return w.present[ref], nil
		},
		FromBundle: func(ref string) (bool, error) {
			if w.bundle[ref] {
				w.present[ref] = true
			}
			return w.bundle[ref], nil
		},
		Answers: func(_ context.Context, ref string) error {
			w.asked = append(w.asked, ref)
			if !w.registry {
				return errors.New("lookup registry.k8s.io: no such host")
			}
			return nil
		},
		Pull: func(ref string) error {
			if !w.registry || w.pullFails {
				return errors.New("pull failed")
			}
			w.pulled = append(w.pulled, ref)
			w.present[ref] = true
			return nil
		},
		Build: func(_ context.Context, imgs []Image) error {
			w.builds++
			if w.buildFails != nil {
				return w.buildFails
			}
			for _, img := range imgs {
				w.built = append(w.built, img.Name)
				w.present[img.Ref] = true
			}
			return nil
		},
		Printf: func(string, ...any) {},
	}
}

func required() []Image {
	c := &config.Cluster{}
	c.Runtime.SandboxImage = "registry.k8s.io/pause:3.10"
	return Required(c)
}

var headlamp = External("ghcr.io/headlamp-k8s/headlamp:v0.45.0")

// TestSupplyAutoWithoutRegistryBuilds: auto on a host without a registry
// builds every image k8s-single has a recipe for, in one build, and pulls nothing.
func TestSupplyAutoWithoutRegistryBuilds(t *testing.T) {
	w := &world{present: map[string]bool{}}
	if err := w.supply(config.ImagesAuto, "").Ensure(context.Background(), required()); err != nil {
		t.Fatal(err)
	}
	if want := []string{Pause, CoreDNS, MetricsServer, Agent}; !slices.Equal(w.built, want) || w.builds != 1 {
		t.Errorf("built %v in %d builds, want %v in one", w.built, w.builds, want)
	}
	if len(w.pulled) != 0 {
		t.Errorf("pulled %v without a registry", w.pulled)
	}
	if len(w.asked) != 1 {
		t.Errorf("asked %v, want registry.k8s.io once for its three images", w.asked)
	}
	if slices.Contains(w.asked, AgentImage().Ref) {
		t.Errorf("asked a registry for k8s-single's own image %s", AgentImage().Ref)
	}
}

// TestSupplyPresentDoesNothing: with the bundle imported, nothing is asked,
// pulled or built.
func TestSupplyPresentDoesNothing(t *testing.T) {
	w := &world{present: map[string]bool{}, registry: true}
	for _, img := range append(required(), headlamp) {
		w.present[img.Ref] = true
	}
	for _, mode := range []string{config.ImagesAuto, config.ImagesPull, config.ImagesBundle} {
		if err := w.supply(mode, "/srv/bundle").Ensure(context.Background(), append(required(), headlamp)); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
	}
	if len(w.asked)+len(w.pulled)+w.builds != 0 {
		t.Errorf("asked %v, pulled %v, built %d times; want nothing", w.asked, w.pulled, w.builds)
	}
}

// TestSupplyImportsFromTheBundleFirst: an image missing from containerd
// that a tarball of the bundle carries is imported, in every mode, without
// asking a registry or building.
func TestSupplyImportsFromTheBundleFirst(t *testing.T) {
	for _, mode := range []string{config.ImagesAuto, config.ImagesPull, config.ImagesBundle} {
		w := &world{present: map[string]bool{}, bundle: map[string]bool{headlamp.Ref: true}}
		if err := w.supply(mode, "/srv/bundle").Ensure(context.Background(), []Image{headlamp}); err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if !w.present[headlamp.Ref] || len(w.asked)+len(w.pulled)+w.builds != 0 {
			t.Errorf("%s: present %v, asked %v, pulled %v, built %d times", mode, w.present, w.asked, w.pulled, w.builds)
		}
	}
}

// TestSupplyAutoPullsWhenTheRegistryAnswers: upstream images are pulled, the
// agent built; an image whose pull fails is built when it can be.
func TestSupplyAutoPullsWhenTheRegistryAnswers(t *testing.T) {
	w := &world{present: map[string]bool{}, registry: true}
	if err := w.supply(config.ImagesAuto, "").Ensure(context.Background(), required()); err != nil {
		t.Fatal(err)
	}
	if len(w.pulled) != 3 || !slices.Equal(w.built, []string{Agent}) {
		t.Errorf("pulled %v and built %v, want pause, CoreDNS and metrics-server pulled and the agent built", w.pulled, w.built)
	}
	w = &world{present: map[string]bool{}, registry: true, pullFails: true}
	if err := w.supply(config.ImagesAuto, "").Ensure(context.Background(), required()); err != nil {
		t.Fatal(err)
	}
	if len(w.built) != 4 {
		t.Errorf("built %v after the pulls failed, want all four", w.built)
	}
}

// TestSupplyUnbuildableNamesTheFix: an image that can be neither pulled nor
// built is a MissingError naming the bundle fix; the others are still supplied.
func TestSupplyUnbuildableNamesTheFix(t *testing.T) {
	w := &world{present: map[string]bool{}}
	err := w.supply(config.ImagesAuto, "/srv/bundle").Ensure(context.Background(), append(required(), headlamp))
	var m *MissingError
	if !errors.As(err, &m) || m.Ref != headlamp.Ref {
		t.Fatalf("error %v, want a MissingError for %s", err, headlamp.Ref)
	}
	for _, want := range []string{"neither pulled", "no such host", "no recipe", "ctr images export /srv/bundle/headlamp.tar ghcr.io/headlamp-k8s/headlamp:v0.45.0", "k8s-single up"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(w.built) != 4 {
		t.Errorf("built %v, want the four buildable images despite the missing one", w.built)
	}
}

// TestSupplyPull: pull mode pulls upstream images and builds only
// k8s-single's own; a failed pull is not built around.
func TestSupplyPull(t *testing.T) {
	w := &world{present: map[string]bool{}, registry: true}
	if err := w.supply(config.ImagesPull, "").Ensure(context.Background(), required()); err != nil {
		t.Fatal(err)
	}
	if len(w.pulled) != 3 || !slices.Equal(w.built, []string{Agent}) || len(w.asked) != 0 {
		t.Errorf("pulled %v, built %v, asked %v", w.pulled, w.built, w.asked)
	}
	w = &world{present: map[string]bool{}}
	err := w.supply(config.ImagesPull, "").Ensure(context.Background(), required())
	var m *MissingError
	if !errors.As(err, &m) || !strings.Contains(err.Error(), "runtime.images is pull") || slices.Contains(w.built, CoreDNS) {
		t.Errorf("error %v and built %v, want a MissingError for the failed pulls and no CoreDNS build", err, w.built)
	}
}

// TestSupplyBundleOnly: bundle mode neither pulls nor builds, and names the bundle.
func TestSupplyBundleOnly(t *testing.T) {
	w := &world{present: map[string]bool{}, registry: true}
	err := w.supply(config.ImagesBundle, "/srv/bundle").Ensure(context.Background(), required())
	if err == nil || !strings.Contains(err.Error(), "bundle /srv/bundle does not hold it") || !strings.Contains(err.Error(), "images build --out /srv/bundle") {
		t.Errorf("error %v, want the bundle and its fix named", err)
	}
	if len(w.pulled)+w.builds+len(w.asked) != 0 {
		t.Errorf("pulled %v, asked %v, built %d times in bundle mode", w.pulled, w.asked, w.builds)
	}
}

// TestSupplyBuildFailureNamesTheFix: a failed build (no Go) names the images
// and how to bring them without building.
func TestSupplyBuildFailureNamesTheFix(t *testing.T) {
	w := &world{present: map[string]bool{}, buildFails: fmt.Errorf("building the images needs the go command")}
	err := w.supply(config.ImagesAuto, "").Ensure(context.Background(), required())
	for _, want := range []string{"registry.k8s.io/coredns/coredns", "needs the go command", "set runtime.imageBundle"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
}

package images

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/k8s-single/k8s-single/internal/gocachetest"
	"github.com/k8s-single/k8s-single/internal/printer"
)

// buildTestEnv turns on TestBuildBundle, which builds the real bundle.
const buildTestEnv = "K8S_SINGLE_IMAGES_TEST"

// The real bundle's places, shared with `k8s-single images build` so a run
// of the test warms the command and the other way round.
const (
	realCacheDir  = "/var/cache/k8s-single"
	realBundleDir = "/var/cache/k8s-single/images"
)

// logWriter passes progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// buildTwice runs Build cold and warm and checks that the warm run built
// nothing and that every tarball holds its image under its reference.
func buildTwice(t *testing.T, imgs []Image, outDir, cacheDir string) (Bundle, map[string]v1.Image) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	bundle, err := Build(ctx, imgs, outDir, cacheDir, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	loaded := map[string]v1.Image{}
	t.Logf("first build: %s", time.Since(start).Round(time.Second))
	for _, e := range bundle.Images {
		t.Logf("%s: %s id %s digest %s %s", e.File, e.Ref, e.ID, e.Digest, printer.Bytes(e.Size))
		tag, err := name.NewTag(e.Ref)
		if err != nil {
			t.Fatal(err)
		}
		img, err := tarball.ImageFromPath(filepath.Join(outDir, e.File), &tag)
		if err != nil {
			t.Fatalf("%s does not load under %s: %v", e.File, e.Ref, err)
		}
		if d, err := img.Digest(); err != nil || d.String() != e.Digest {
			t.Errorf("%s: digest %v (%v), index says %s", e.File, d, err, e.Digest)
		}
		if id, err := img.ConfigName(); err != nil || id.String() != e.ID {
			t.Errorf("%s: image id %v (%v), index says %s", e.File, id, err, e.ID)
		}
		loaded[e.Name] = img
	}

	var warmLog strings.Builder
	start = time.Now()
	warm, err := Build(ctx, imgs, outDir, cacheDir, &warmLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("warm build: %s\n%s", time.Since(start).Round(10*time.Millisecond), warmLog.String())
	if strings.Contains(warmLog.String(), "building") || strings.Count(warmLog.String(), "no build needed") != len(imgs) {
		t.Errorf("the warm run built something:\n%s", warmLog.String())
	}
	if !slices.EqualFunc(warm.Images, bundle.Images, func(a, b Entry) bool { return a.Digest == b.Digest }) {
		t.Errorf("the warm run changed the index: %+v, was %+v", warm.Images, bundle.Images)
	}
	return bundle, loaded
}

// TestBuildPause builds the pause image through Build, cold then warm, and
// runs the binary the image holds.
func TestBuildPause(t *testing.T) {
	cacheDir, outDir := gocachetest.SharedCacheDir(t), t.TempDir()
	bundle, loaded := buildTwice(t, []Image{pauseImage("registry.k8s.io/pause:3.10")}, outDir, cacheDir)
	files, err := BundleFiles(outDir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(outDir, "pause.tar")}; !slices.Equal(files, want) {
		t.Errorf("bundle files %q, want %q", files, want)
	}
	if len(bundle.Images) != 1 || bundle.Images[0].User != "65535:65535" {
		t.Errorf("index %+v, want pause as 65535:65535", bundle.Images)
	}
	read, err := readBundle(outDir)
	if err != nil || !slices.EqualFunc(read.Images, bundle.Images, func(a, b Entry) bool { return a.Digest == b.Digest }) {
		t.Errorf("%s reads back as %+v (%v), want %+v", IndexFile, read, err, bundle)
	}

	_, bin := onlyFile(t, loaded[Pause])
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	startUntilReady(t, cmd)
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd, time.Second); code != 0 {
		t.Errorf("the image's pause exited %d on SIGTERM, want 0", code)
	}
}

// TestBuildBundle builds the real bundle (CoreDNS and metrics-server from the
// Go module proxy, minutes cold) into /var/cache/k8s-single/images:
//
//	K8S_SINGLE_IMAGES_TEST=1 go test -run TestBuildBundle -v -timeout 60m ./internal/images/
func TestBuildBundle(t *testing.T) {
	if os.Getenv(buildTestEnv) != "1" {
		t.Skipf("set %s=1 to build the real image bundle into %s", buildTestEnv, realBundleDir)
	}
	buildTwice(t, Required(defaultConfig()), realBundleDir, realCacheDir)
}

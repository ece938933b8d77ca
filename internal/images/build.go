package images

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/k8s-single/k8s-single/internal/gobuild"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/printer"
)

// Build makes each image of imgs into outDir as <name>.tar and records them in
// outDir's IndexFile. Each binary is built from source by go build (static,
// -trimpath) in a wrapper module under <cacheDir>/work/<name>-<version>, with
// the Go module and build caches under cacheDir, as internal/binaries builds.
// An image whose tarball still holds what the index records for its recipe
// (digest and ID under its reference) is not rebuilt, so a warm run takes
// well under a second. It prints
// a progress line per step with the time spent on the image so far.
func Build(ctx context.Context, imgs []Image, outDir, cacheDir string, out io.Writer) (Bundle, error) {
	if _, err := exec.LookPath("go"); err != nil {
		return Bundle{}, fmt.Errorf("building the images needs the go command (Go %s or newer) on PATH (%w)", gobuild.GoVersion, err)
	}
	if err := os.MkdirAll(outDir, layout.ModeDir); err != nil {
		return Bundle{}, fmt.Errorf("create the bundle directory: %w", err)
	}
	bundle, err := readBundle(outDir)
	if err != nil {
		return Bundle{}, err
	}
	for _, img := range imgs {
		p := newProgress(out, img.Name)
		if e, ok := bundle.entry(img.Name); ok && current(outDir, e, img) {
			p.printf("%s holds %s, image id %s; no build needed", e.File, e.Ref, e.ID)
			continue
		}
		e, err := buildImage(ctx, img, outDir, cacheDir, p)
		if err != nil {
			return Bundle{}, err
		}
		bundle.put(e)
		if err := bundle.write(outDir); err != nil {
			return Bundle{}, fmt.Errorf("record %s in the bundle index: %w", img.Name, err)
		}
	}
	return bundle, nil
}

// current reports whether e, a bundle's entry, records img's recipe and its
// tarball still holds the recorded image (digest and ID) under img's reference.
func current(dir string, e Entry, img Image) bool {
	if !sameRecipe(e.Image, img) || e.File != img.File() {
		return false
	}
	tag, err := name.NewTag(img.Ref)
	if err != nil {
		return false
	}
	image, err := tarball.ImageFromPath(filepath.Join(dir, e.File), &tag)
	if err != nil {
		return false
	}
	digest, err := image.Digest()
	if err != nil || digest.String() != e.Digest {
		return false
	}
	id, err := image.ConfigName()
	return err == nil && id.String() == e.ID
}

// sameRecipe compares recipes by what the index records of them (pause's
// source through its version).
func sameRecipe(a, b Image) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// buildImage builds img's binary, assembles its image into outDir and returns
// the index entry.
func buildImage(ctx context.Context, img Image, outDir, cacheDir string, p *progress) (Entry, error) {
	workDir := filepath.Join(cacheDir, "work", img.Name+"-"+img.Version)
	if err := writeWrapper(workDir, img); err != nil {
		return Entry{}, fmt.Errorf("%s: wrapper module in %s: %w", img.Name, workDir, err)
	}
	bin := filepath.Join("bin", img.Name)
	p.printf("building %s in %s", img.Source(), workDir)
	build := gobuild.Build(ctx, cacheDir, workDir, img.LDFlags, "-o", bin, img.Package)
	if err := p.run(build, "building "+img.Source()); err != nil {
		return Entry{}, fmt.Errorf("build %s in %s: %w; the output above says why, and the caches under %s keep what was built for the next try",
			img.Source(), workDir, err, cacheDir)
	}
	bin = filepath.Join(workDir, bin)
	if err := checkStatic(bin); err != nil {
		return Entry{}, fmt.Errorf("%s: %w", img.Name, err)
	}
	path := filepath.Join(outDir, img.File())
	image, err := Assemble(bin, img, path)
	if err != nil {
		return Entry{}, err
	}
	e, err := entryFor(img, image, path)
	if err != nil {
		return Entry{}, fmt.Errorf("%s: %w", img.Name, err)
	}
	p.printf("wrote %s: %s, image id %s, %s", path, img.Ref, e.ID, printer.Bytes(e.Size))
	return e, nil
}

// progress writes an image's progress lines, each with the time since the
// image's work started.
type progress struct {
	out   io.Writer
	name  string
	start time.Time
}

func newProgress(out io.Writer, name string) *progress {
	return &progress{out: out, name: name, start: time.Now()}
}

// printf writes one line: "coredns: <message> (1m5s)".
func (p *progress) printf(format string, args ...any) { io.WriteString(p.out, p.line(format, args...)) }

func (p *progress) line(format string, args ...any) string {
	return fmt.Sprintf("%s: %s (%s)\n", p.name, fmt.Sprintf(format, args...), p.elapsed())
}

func (p *progress) elapsed() time.Duration { return time.Since(p.start).Round(100 * time.Millisecond) }

// run runs a go build with its output passed through, printing what is
// running every 15s (gobuild.Run) so a long build shows it is alive.
func (p *progress) run(cmd *exec.Cmd, what string) error {
	return gobuild.Run(cmd, p.out, func() string { return p.line("%s ...", what) })
}

// entryFor is the index entry of img's image, written to path.
func entryFor(img Image, image v1.Image, path string) (Entry, error) {
	digest, err := image.Digest()
	if err != nil {
		return Entry{}, err
	}
	id, err := image.ConfigName()
	if err != nil {
		return Entry{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Image: img, File: filepath.Base(path), ID: id.String(), Digest: digest.String(), Size: st.Size()}, nil
}

// checkStatic refuses a dynamically linked binary: the image has no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked but the image has no libc; build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

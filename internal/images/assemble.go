package images

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// modeBinary is the mode of the binary inside an image.
const modeBinary = 0o755

// Assemble makes img's image from the static binary at binPath and writes it
// to path as a docker-archive tarball tagged img.Ref, which `ctr images
// import` tags on import. The image is one layer on an empty base holding the
// binary at img.Binary (mode 0755, owned by root, with a fixed time, so equal
// binaries give equal digests), with img.Binary as its entrypoint and img.User
// as its user. It returns the image written.
func Assemble(binPath string, img Image, path string) (v1.Image, error) {
	tag, err := name.NewTag(img.Ref)
	if err != nil {
		return nil, fmt.Errorf("%s: image reference %q: %w; give a reference with a tag, such as registry.k8s.io/pause:3.10", img.Name, img.Ref, err)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, fmt.Errorf("%s: read the binary: %w", img.Name, err)
	}
	layerTar, err := singleFileTar(strings.TrimPrefix(img.Binary, "/"), bin)
	if err != nil {
		return nil, fmt.Errorf("%s: layer: %w", img.Name, err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("%s: layer: %w", img.Name, err)
	}
	image, err := imageOf(layer, img)
	if err != nil {
		return nil, fmt.Errorf("%s: image: %w", img.Name, err)
	}
	// Atomic, so a killed run never leaves a partial tarball under the bundle's name.
	err = host.WriteAtomic(path, layout.ModePublic, func(f *os.File) error {
		if err := tarball.Write(tag, image, f); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", img.Name, err)
	}
	return image, nil
}

// imageOf puts layer on an empty base with img's entrypoint and user, for
// linux on this machine's architecture (the binary was built for it).
func imageOf(layer v1.Layer, img Image) (v1.Image, error) {
	base, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS = "linux"
	cfg.Architecture = runtime.GOARCH
	cfg.Config.Entrypoint = []string{img.Binary}
	cfg.Config.User = img.User
	cfg.Config.WorkingDir = "/"
	return mutate.ConfigFile(base, cfg)
}

// singleFileTar is a layer holding one executable at name (no leading
// slash), owned by root, with a fixed modification time.
func singleFileTar(name string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     modeBinary,
		Size:     int64(len(data)),
		ModTime:  time.Unix(0, 0),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

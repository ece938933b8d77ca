package images

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/printer"
)

// IndexFile is a bundle directory's index of what its tarballs hold.
const IndexFile = "bundle.json"

// Namespace is containerd's namespace for the images the kubelet's CRI sees.
const Namespace = "k8s.io"

// Bundle is a bundle directory's index, IndexFile: one entry per tarball.
type Bundle struct {
	Images []Entry `json:"images"`
}

// Entry is one tarball of a bundle: the recipe it was built from, its file
// name in the bundle, the image's identity and the file's size.
type Entry struct {
	Image
	File string `json:"file"`
	// ID is the config's digest: the image ID that crictl and the CRI show.
	ID string `json:"id"`
	// Digest is the manifest's digest in the tarball. ctr import writes a
	// manifest of its own for a docker archive, so containerd lists another.
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// Table lists the bundle for the table and simple formats.
func (b Bundle) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(b.Images))
	for _, e := range b.Images {
		rows = append(rows, []string{e.Name, e.Ref, e.File, e.ID, printer.Bytes(e.Size)})
	}
	return []string{"name", "ref", "file", "image id", "size"}, rows
}

// entry returns the bundle's entry for an image name.
func (b Bundle) entry(name string) (Entry, bool) {
	for _, e := range b.Images {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// put adds e, replacing the entry of the same name.
func (b *Bundle) put(e Entry) {
	for i := range b.Images {
		if b.Images[i].Name == e.Name {
			b.Images[i] = e
			return
		}
	}
	b.Images = append(b.Images, e)
}

// readBundle reads dir's index; a directory without one is an empty bundle.
func readBundle(dir string) (Bundle, error) {
	var b Bundle
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("%s: %w; delete it and the images are rebuilt", filepath.Join(dir, IndexFile), err)
	}
	return b, nil
}

// write replaces dir's index atomically.
func (b Bundle) write(dir string) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return host.WriteFileAtomic(filepath.Join(dir, IndexFile), append(data, '\n'), layout.ModePublic, layout.ModeDir)
}

// BundleFiles returns the image tarballs (*.tar) in dir, sorted: the ones
// Build wrote, or any docker-archive or OCI-layout tarballs put there by hand.
func BundleFiles(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tar"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("image bundle %s holds no *.tar files; build one with `k8s-single images build --out %s`", dir, dir)
	}
	return files, nil // Glob sorts
}

// Import imports every tarball of the bundle in bundleDir into containerd's
// k8s.io namespace, where the kubelet finds them, with
// `ctr -n k8s.io images import --all-platforms FILE` run through run (which
// returns the command's combined output). ctr tags each image with the
// reference its tarball carries. It stops at the first failure.
func Import(ctx context.Context, bundleDir string, run func(name string, args ...string) ([]byte, error)) error {
	files, err := BundleFiles(bundleDir)
	if err != nil {
		return err
	}
	return ImportFiles(ctx, files, run)
}

// ImportFiles imports the given image tarballs as Import does.
func ImportFiles(ctx context.Context, files []string, run func(name string, args ...string) ([]byte, error)) error {
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		out, err := run("ctr", "-n", Namespace, "images", "import", "--all-platforms", f)
		if err != nil {
			return fmt.Errorf("import %s into containerd: %w: %s; check that containerd is running (ctr version) "+
				"and that the file is a docker-archive or OCI-layout tarball", f, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

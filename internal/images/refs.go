package images

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// BundleRefs returns the image references the tarballs of a bundle dir
// carry (a docker-archive's manifest.json RepoTags, an OCI layout's
// index.json image-name annotations), as ctr import tags them. An empty dir
// name is an empty bundle.
func BundleRefs(dir string) (map[string]bool, error) {
	refs := map[string]bool{}
	if dir == "" {
		return refs, nil
	}
	files, err := BundleFiles(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		got, err := tarRefs(f)
		if err != nil {
			return nil, fmt.Errorf("image tarball %s: %w", f, err)
		}
		for _, r := range got {
			refs[r] = true
		}
	}
	return refs, nil
}

// tarRefs reads the references one image tarball carries.
func tarRefs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var refs []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return refs, nil
		}
		if err != nil {
			return nil, err
		}
		switch h.Name {
		case "manifest.json":
			var m []struct{ RepoTags []string }
			if err := json.NewDecoder(tr).Decode(&m); err != nil {
				return nil, fmt.Errorf("manifest.json: %w", err)
			}
			for _, e := range m {
				refs = append(refs, e.RepoTags...)
			}
		case "index.json":
			var idx struct {
				Manifests []struct{ Annotations map[string]string }
			}
			if err := json.NewDecoder(tr).Decode(&idx); err != nil {
				return nil, fmt.Errorf("index.json: %w", err)
			}
			for _, m := range idx.Manifests {
				if r := m.Annotations["io.containerd.image.name"]; r != "" {
					refs = append(refs, r)
				}
			}
		}
	}
}

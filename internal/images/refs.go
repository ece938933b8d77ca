package images

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
)

// BundleRefs returns the image references the tarballs of a bundle dir
// carry (a docker-archive's manifest.json RepoTags, an OCI layout's
// index.json image-name annotations), as ctr import tags them. An empty dir
// name is an empty bundle.
func BundleRefs(dir string) (map[string]bool, error) {
	refs := map[string]bool{}
	return refs, eachBundleRef(dir, func(_, ref string) bool {
		refs[ref] = true
		return true
	})
}

// BundleFileOf returns the tarball of the bundle in dir that carries ref
// (compared as registries name them: "pause:3.10" is
// "index.docker.io/library/pause:3.10"), or "" when none does.
func BundleFileOf(dir, ref string) (string, error) {
	want := canonical(ref)
	var file string
	err := eachBundleRef(dir, func(f, r string) bool {
		if canonical(r) == want {
			file = f
		}
		return file == ""
	})
	return file, err
}

// canonical spells ref fully, or leaves it as it is when it does not parse.
func canonical(ref string) string {
	if r, err := name.ParseReference(ref); err == nil {
		return r.Name()
	}
	return ref
}

// eachBundleRef calls fn with each tarball of the bundle in dir and each
// reference it carries, until fn returns false. An empty dir name is an
// empty bundle.
func eachBundleRef(dir string, fn func(file, ref string) bool) error {
	if dir == "" {
		return nil
	}
	files, err := BundleFiles(dir)
	if err != nil {
		return err
	}
	for _, f := range files {
		got, err := tarRefs(f)
		if err != nil {
			return fmt.Errorf("image tarball %s: %w", f, err)
		}
		for _, r := range got {
			if !fn(f, r) {
				return nil
			}
		}
	}
	return nil
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

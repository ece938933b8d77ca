package images

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"
)

func writeTar(t *testing.T, path string, files map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestBundleRefs(t *testing.T) {
	dir := t.TempDir()
	writeTar(t, filepath.Join(dir, "docker.tar"), map[string]string{
		"layer.tar":     "x",
		"manifest.json": `[{"Config":"c","RepoTags":["ghcr.io/headlamp-k8s/headlamp:v0.45.0"],"Layers":["layer.tar"]}]`,
	})
	writeTar(t, filepath.Join(dir, "oci.tar"), map[string]string{
		"oci-layout": `{"imageLayoutVersion":"1.0.0"}`,
		"index.json": `{"manifests":[{"annotations":{"io.containerd.image.name":"registry.k8s.io/pause:3.10"}}]}`,
	})
	refs, err := BundleRefs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || !refs["ghcr.io/headlamp-k8s/headlamp:v0.45.0"] || !refs["registry.k8s.io/pause:3.10"] {
		t.Errorf("BundleRefs = %v", refs)
	}
	for ref, want := range map[string]string{
		"ghcr.io/headlamp-k8s/headlamp:v0.45.0": "docker.tar",
		"registry.k8s.io/pause:3.10":            "oci.tar",
		"registry.k8s.io/pause:3.9":             "",
	} {
		got, err := BundleFileOf(dir, ref)
		if err != nil || filepath.Base(got) != want && !(got == "" && want == "") {
			t.Errorf("BundleFileOf(%s) = %q, %v; want %s", ref, got, err, want)
		}
	}
	if refs, err := BundleRefs(""); err != nil || len(refs) != 0 {
		t.Errorf("no bundle: %v, %v", refs, err)
	}
	os.WriteFile(filepath.Join(dir, "broken.tar"), []byte("not a tar at all, but long enough to be read as a header block"), 0o644)
	if _, err := BundleRefs(dir); err == nil {
		t.Error("a broken tarball: no error")
	}
}

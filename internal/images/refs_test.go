package images

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"slices"
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

// TestImportLeavesOnlyTheExcepted: a tarball whose every reference is
// excepted is left out; one that carries another image too, or no reference
// at all, is imported.
func TestImportLeavesOnlyTheExcepted(t *testing.T) {
	dir := t.TempDir()
	docker := func(tags string) map[string]string {
		return map[string]string{"manifest.json": `[{"Config":"c","RepoTags":[` + tags + `],"Layers":[]}]`}
	}
	writeTar(t, filepath.Join(dir, "headlamp.tar"), docker(`"ghcr.io/headlamp-k8s/headlamp:v0.45.0"`))
	writeTar(t, filepath.Join(dir, "ui-and-app.tar"), docker(`"ghcr.io/headlamp-k8s/headlamp:v0.45.0","example.com/app:1"`))
	writeTar(t, filepath.Join(dir, "untagged.tar"), docker(``))
	writeTar(t, filepath.Join(dir, "pause.tar"), docker(`"pause:3.10"`))
	var imported []string
	run := func(name string, args ...string) ([]byte, error) {
		imported = append(imported, filepath.Base(args[len(args)-1]))
		return nil, nil
	}
	files, err := Import(context.Background(), dir, []string{"ghcr.io/headlamp-k8s/headlamp:v0.45.0", "docker.io/library/pause:3.10"}, run)
	if want := []string{"ui-and-app.tar", "untagged.tar"}; err != nil || !slices.Equal(imported, want) || len(files) != 2 {
		t.Errorf("Import: %v, imported %v; want %v", err, imported, want)
	}
}

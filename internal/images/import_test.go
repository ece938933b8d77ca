package images

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestImportContainerd imports the real bundle that TestBuildBundle builds
// into a running containerd (ctr honours CONTAINERD_ADDRESS) and checks that
// the CRI's namespace lists every required reference and image ID:
//
//	K8S_SINGLE_IMAGES_TEST=1 go test -run 'TestBuildBundle|TestImportContainerd' -v -timeout 60m ./internal/images/
func TestImportContainerd(t *testing.T) {
	if os.Getenv(buildTestEnv) != "1" {
		t.Skipf("set %s=1 to import the real image bundle from %s", buildTestEnv, realBundleDir)
	}
	if out, err := exec.Command("ctr", "version").CombinedOutput(); err != nil {
		t.Skipf("no containerd answers `ctr version` (%v: %s); start one to test the import", err, strings.TrimSpace(string(out)))
	}
	run := func(name string, args ...string) ([]byte, error) {
		out, err := exec.Command(name, args...).CombinedOutput()
		t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
		return out, err
	}
	if err := Import(context.Background(), realBundleDir, run); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ctr", "-n", Namespace, "images", "ls", "-q").Output()
	if err != nil {
		t.Fatal(err)
	}
	refs := strings.Fields(string(out))
	bundle, err := readBundle(realBundleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, img := range Required(defaultConfig()) {
		e, ok := bundle.entry(img.Name)
		if !ok {
			t.Fatalf("%s has no %s", IndexFile, img.Name)
		}
		// The CRI plugin names each image it indexes by its ID as well.
		for _, want := range []string{img.Ref, e.ID} {
			if !slices.Contains(refs, want) {
				t.Errorf("containerd's %s namespace lacks %s after the import; it has %q", Namespace, want, refs)
			}
		}
	}
}

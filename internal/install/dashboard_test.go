package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/dashboard"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
)

// dashboardDryRun runs the certs phase, a stand-in for addons and the
// dashboard phase as a dry run (Render and Plan) under root, and returns what
// they printed.
func dashboardDryRun(t *testing.T, root host.Root, c *config.Cluster, opts phases.Options) string {
	t.Helper()
	var out bytes.Buffer
	opts.DryRun = true
	r := &phases.Runner{Phases: []phases.Phase{Certs(), {Name: PhaseNode, Short: "stand-in"}, Dashboard()}, Root: root, Out: &out, Version: "test"}
	if _, err := r.Up(context.Background(), c, opts); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return out.String()
}

func readHost(t *testing.T, root host.Root, path string) []byte {
	t.Helper()
	data, err := root.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDashboardRender(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	out := dashboardDryRun(t, root, c, phases.Options{})
	for _, want := range []string{"serving certificate /etc/kubernetes/pki/dashboard.crt created",
		"would apply /etc/kubernetes/addons/dashboard.yaml (headlamp) in namespace headlamp with the dashboard-tls Secret",
		"would wait for headlamp to roll out, GET https://192.168.56.10:30443/ over TLS"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run does not say %q:\n%s", want, out)
		}
	}
	for path, mode := range map[string]os.FileMode{dashboardManifest: layout.ModePublic,
		layout.Cert(dashboard.CertName): layout.ModePublic, layout.Key(dashboard.CertName): layout.ModePrivate} {
		if st, err := os.Stat(root.Path(path)); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v; want mode %o", path, err, mode)
		}
	}
	manifest := readHost(t, root, dashboardManifest)
	objs, err := kube.Decode(manifest)
	if err != nil || len(objs) != 7 {
		t.Fatalf("the manifest decodes to %d objects, %v; want Headlamp's 7", len(objs), err)
	}
	for _, o := range objs {
		if o.GetKind() == "Secret" || bytes.Contains(manifest, []byte("PRIVATE KEY")) {
			t.Errorf("the world-readable manifest holds Secret %s", o.GetName())
		}
	}
	sum := sha256.Sum256(readHost(t, root, layout.Cert(dashboard.CertName)))
	if !bytes.Contains(manifest, []byte(hex.EncodeToString(sum[:]))) {
		t.Error("the Deployment is not annotated with the serving certificate's digest: a new certificate would not roll the pods")
	}
	j, err := phases.LoadJournal(root)
	if err != nil {
		t.Fatal(err)
	}
	var tracked []string
	for _, a := range j.Phases["dashboard"].Artifacts {
		tracked = append(tracked, a.Path)
	}
	if want := []string{dashboardManifest, layout.Cert(dashboard.CertName), layout.Key(dashboard.CertName)}; !sameStrings(tracked, want) {
		t.Errorf("the journal tracks %q, want %q (reset removes exactly these)", tracked, want)
	}
}

func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestDashboardReRenderIsANoOp: a second run skips the phase, and a forced
// one writes the same certificate and the same manifest, so the apply that
// follows changes nothing and no pod rolls.
func TestDashboardReRenderIsANoOp(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	dashboardDryRun(t, root, c, phases.Options{})
	manifest, cert := readHost(t, root, dashboardManifest), readHost(t, root, layout.Cert(dashboard.CertName))
	if out := dashboardDryRun(t, root, c, phases.Options{}); !strings.Contains(out, "dashboard: skipped (inputs unchanged") {
		t.Errorf("a second run did not skip the phase:\n%s", out)
	}
	out := dashboardDryRun(t, root, c, phases.Options{Only: "dashboard"})
	if !strings.Contains(out, "dashboard.crt kept") {
		t.Errorf("a forced run did not keep the certificate:\n%s", out)
	}
	if !bytes.Equal(readHost(t, root, dashboardManifest), manifest) || !bytes.Equal(readHost(t, root, layout.Cert(dashboard.CertName)), cert) {
		t.Error("a forced run changed the manifest or the certificate")
	}
}

func TestDashboardKindChanges(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	dashboardDryRun(t, root, c, phases.Options{})
	headlampInputs := mustInputs(t, dashboardInputs, &phases.Context{Config: c})

	c.Dashboard.Kind = dashboard.KubernetesDashboard
	if inputs := mustInputs(t, dashboardInputs, &phases.Context{Config: c}); reflect.DeepEqual(inputs, headlampInputs) {
		t.Error("the phase's inputs do not change with dashboard.kind")
	}
	out := dashboardDryRun(t, root, c, phases.Options{})
	if !strings.Contains(out, "dashboard.crt re-signed (DNS SANs") || !strings.Contains(string(readHost(t, root, dashboardManifest)), "kubernetesui/dashboard:v2.7.0") {
		t.Errorf("switching to kubernetes-dashboard did not re-issue the certificate and re-render:\n%s", out)
	}

	c.Dashboard.Kind = dashboard.None
	out = dashboardDryRun(t, root, c, phases.Options{})
	for _, want := range []string{"deleted " + dashboardManifest, "deleted " + layout.Key(dashboard.CertName),
		"no dashboard to render", "would remove a dashboard an earlier run installed"} {
		if !strings.Contains(out, want) {
			t.Errorf("kind none does not say %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(root.Path(dashboardManifest)); !os.IsNotExist(err) {
		t.Errorf("kind none left %s: %v", dashboardManifest, err)
	}
}

package install

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
)

const metricsServerManifest = addonsDir + "/metrics-server.yaml"

// addonsDryRun runs the certs phase, a stand-in for node and the addons
// phase as a dry run (Render and Plan) under root, and returns what they printed.
func addonsDryRun(t *testing.T, root host.Root, c *config.Cluster, opts phases.Options) string {
	t.Helper()
	var out bytes.Buffer
	opts.DryRun = true
	r := &phases.Runner{Phases: []phases.Phase{Certs(), {Name: PhaseNode, Short: "stand-in"}, Addons()}, Root: root, Out: &out, Version: "test"}
	if _, err := r.Up(context.Background(), c, opts); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	return out.String()
}

func TestAddonsRenderMetricsServerTLS(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	out := addonsDryRun(t, root, c, phases.Options{})
	for _, want := range []string{"serving certificate /etc/kubernetes/pki/metrics-server.crt created",
		"would apply /etc/kubernetes/addons/*.yaml with the metrics-server-tls Secret"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry run does not say %q:\n%s", want, out)
		}
	}
	for path, mode := range map[string]os.FileMode{metricsServerManifest: layout.ModePublic,
		layout.Cert(certs.MetricsServer): layout.ModePublic, layout.Key(certs.MetricsServer): 0o600} {
		if st, err := os.Stat(root.Path(path)); err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v; want mode %o", path, err, mode)
		}
	}
	manifest := readHost(t, root, metricsServerManifest)
	if bytes.Contains(manifest, []byte("PRIVATE KEY")) || bytes.Contains(manifest, []byte("kind: Secret")) {
		t.Error("the world-readable manifest holds the serving key")
	}
	if bytes.Contains(manifest, []byte("insecureSkipTLSVerify:")) {
		t.Error("the APIService skips TLS verification")
	}
	ca := readHost(t, root, layout.Cert("ca"))
	if !bytes.Contains(manifest, []byte("caBundle: "+base64.StdEncoding.EncodeToString(ca))) {
		t.Error("the APIService's caBundle is not the cluster CA")
	}
	sum := sha256.Sum256(readHost(t, root, layout.Cert(certs.MetricsServer)))
	if !bytes.Contains(manifest, []byte(hex.EncodeToString(sum[:]))) {
		t.Error("metrics-server's pod template is not annotated with its certificate's digest: a new certificate would not roll the pod")
	}
	j, err := phases.LoadJournal(root)
	if err != nil {
		t.Fatal(err)
	}
	var tracked []string
	for _, a := range j.Phases["addons"].Artifacts {
		tracked = append(tracked, a.Path)
	}
	want := []string{addonsDir + "/coredns.yaml", metricsServerManifest, layout.Cert(certs.MetricsServer), layout.Key(certs.MetricsServer)}
	if !sameStrings(tracked, want) {
		t.Errorf("the journal tracks %q, want %q (reset removes exactly these)", tracked, want)
	}
}

// TestAddonsReRunAndRenewal: a second run skips the phase and a forced one
// keeps the certificate and the manifest byte for byte; a renewed
// certificate (certs renew) is drift that re-runs the phase, which keeps the
// renewed certificate and re-renders the manifest with its digest.
func TestAddonsReRunAndRenewal(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	addonsDryRun(t, root, c, phases.Options{})
	manifest, cert := readHost(t, root, metricsServerManifest), readHost(t, root, layout.Cert(certs.MetricsServer))
	if out := addonsDryRun(t, root, c, phases.Options{}); !strings.Contains(out, "addons: skipped (inputs unchanged") {
		t.Errorf("a second run did not skip the phase:\n%s", out)
	}
	out := addonsDryRun(t, root, c, phases.Options{Only: "addons"})
	if !strings.Contains(out, "metrics-server.crt kept") {
		t.Errorf("a forced run did not keep the certificate:\n%s", out)
	}
	if !bytes.Equal(readHost(t, root, metricsServerManifest), manifest) || !bytes.Equal(readHost(t, root, layout.Cert(certs.MetricsServer)), cert) {
		t.Fatal("a forced run changed the manifest or the certificate")
	}

	if _, err := certs.Renew(root, CertParams(c), []string{certs.MetricsServer}, time.Now()); err != nil {
		t.Fatal(err)
	}
	renewed := readHost(t, root, layout.Cert(certs.MetricsServer))
	out = addonsDryRun(t, root, c, phases.Options{})
	if strings.Contains(out, "addons: skipped") || !strings.Contains(out, "metrics-server.crt kept") {
		t.Errorf("after certs renew the phase did not run again keeping the renewed certificate:\n%s", out)
	}
	sum := sha256.Sum256(renewed)
	if got := readHost(t, root, metricsServerManifest); bytes.Equal(got, manifest) || !bytes.Contains(got, []byte(hex.EncodeToString(sum[:]))) {
		t.Error("after certs renew the manifest does not carry the renewed certificate's digest")
	}

	c.Network.DNSDomain = "corp.local"
	out = addonsDryRun(t, root, c, phases.Options{})
	if !strings.Contains(out, "metrics-server.crt re-signed (DNS SANs") {
		t.Errorf("a new cluster domain did not re-issue the certificate:\n%s", out)
	}
	if kp, err := certs.Load(root, certs.MetricsServer); err != nil || kp.Cert.VerifyHostname("metrics-server.kube-system.svc.corp.local") != nil {
		t.Errorf("the re-issued certificate is not valid for the new domain: %v", err)
	}
}

// mustInputs is a phase's Inputs, failing the test on an error.
func mustInputs(t *testing.T, inputs func(*phases.Context) (any, error), c *phases.Context) any {
	t.Helper()
	in, err := inputs(c)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestAddonsInputsFollowTheCA: the CA is the caBundle, so another CA changes
// the phase's inputs (and the certs dependency changes its hash too).
func TestAddonsInputsFollowTheCA(t *testing.T) {
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	addonsDryRun(t, root, c, phases.Options{})
	ctx := &phases.Context{Root: root, Config: c}
	before := mustInputs(t, addonInputs, ctx)
	for _, p := range []string{layout.Cert("ca"), layout.Key("ca")} {
		if err := os.Remove(root.Path(p)); err != nil {
			t.Fatal(err)
		}
	}
	// A new CA is only ever made on purpose: the journal must forget the
	// old one first (as reset --purge does), or the certs phase refuses.
	j, err := phases.LoadJournal(root)
	if err != nil {
		t.Fatal(err)
	}
	delete(j.Phases, PhaseCerts)
	if err := j.Save(root); err != nil {
		t.Fatal(err)
	}
	if _, err := certs.Ensure(root, CertParams(c), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(mustInputs(t, addonInputs, ctx), before) {
		t.Error("the addons phase's inputs do not change with the cluster CA")
	}
	out := addonsDryRun(t, root, c, phases.Options{})
	if !strings.Contains(out, "metrics-server.crt re-signed (not signed by the current ca)") {
		t.Errorf("a new CA did not re-issue metrics-server's certificate:\n%s", out)
	}
	bundle := base64.StdEncoding.EncodeToString(readHost(t, root, layout.Cert("ca")))
	if !bytes.Contains(readHost(t, root, metricsServerManifest), []byte("caBundle: "+bundle)) {
		t.Error("the manifest's caBundle is not the new CA")
	}
}

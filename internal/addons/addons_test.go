package addons

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/helpers"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/kube"
)

func testCluster() *config.Cluster {
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	c.Network.ServiceCIDR, c.Network.ClusterDNS, c.Network.DNSDomain = "10.100.0.0/16", "10.100.0.53", "corp.local"
	return c
}

// testTLS makes the cluster's PKI under a temp root and issues
// metrics-server's serving certificate from it, as the addons phase does.
func testTLS(t *testing.T, c *config.Cluster) (TLS, *certs.KeyPair) {
	t.Helper()
	root, now := host.Root(t.TempDir()), time.Now()
	p := certs.ParamsFromConfig(c, "node-1", false)
	if _, err := certs.Ensure(root, p, now, nil); err != nil {
		t.Fatal(err)
	}
	kp, _, _, err := certs.EnsureServing(root, MetricsServerCert(c), p, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := certs.Load(root, "ca")
	if err != nil {
		t.Fatal(err)
	}
	return TLS{CA: ca.CertPEM, Cert: kp.CertPEM}, ca
}

// renderAddons renders the add-ons with tls and decodes their manifests.
func renderAddons(t *testing.T, c *config.Cluster, tls TLS) ([]Addon, map[string][]*unstructured.Unstructured) {
	t.Helper()
	addons, err := Render(c, tls)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*unstructured.Unstructured{}
	for _, a := range addons {
		objs, err := kube.Decode(a.Manifest)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		out[a.Name] = objs
	}
	return addons, out
}

func render(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	c := testCluster()
	tls, _ := testTLS(t, c)
	_, out := renderAddons(t, c, tls)
	return out
}

// typed converts strictly: an unknown or misspelled field is an error.
func typed[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &v, true); err != nil {
		t.Fatalf("%s %s does not decode strictly: %v", u.GetKind(), u.GetName(), err)
	}
	return &v
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func TestEveryObjectDecodesStrictly(t *testing.T) {
	for name, objs := range render(t) {
		for _, o := range objs {
			switch o.GetKind() {
			case "Deployment":
				typed[appsv1.Deployment](t, o)
			case "Service":
				typed[corev1.Service](t, o)
			case "ServiceAccount":
				typed[corev1.ServiceAccount](t, o)
			case "ConfigMap":
				typed[corev1.ConfigMap](t, o)
			case "ClusterRole":
				typed[rbacv1.ClusterRole](t, o)
			case "ClusterRoleBinding":
				typed[rbacv1.ClusterRoleBinding](t, o)
			case "RoleBinding":
				typed[rbacv1.RoleBinding](t, o)
			case "APIService":
			default:
				t.Errorf("%s: unexpected kind %s", name, o.GetKind())
			}
			if o.GetLabels()["app.kubernetes.io/managed-by"] != "k8s-single" {
				t.Errorf("%s %s lacks the managed-by label", o.GetKind(), o.GetName())
			}
		}
	}
}

func TestCoreDNSUsesTheConfig(t *testing.T) {
	objs := render(t)["coredns"]
	svc := typed[corev1.Service](t, find(objs, "Service", "kube-dns"))
	if svc.Spec.ClusterIP != "10.100.0.53" {
		t.Errorf("kube-dns ClusterIP = %s, want the config's clusterDNS", svc.Spec.ClusterIP)
	}
	cm := typed[corev1.ConfigMap](t, find(objs, "ConfigMap", "coredns"))
	if !strings.Contains(cm.Data["Corefile"], "kubernetes corp.local in-addr.arpa") {
		t.Errorf("Corefile does not serve the config's domain:\n%s", cm.Data["Corefile"])
	}
	d := typed[appsv1.Deployment](t, find(objs, "Deployment", "coredns"))
	ctr := d.Spec.Template.Spec.Containers[0]
	if ctr.Image != images.Required(config.Default(config.HostFacts{}))[1].Ref {
		t.Errorf("coredns image %s is not the bundle's", ctr.Image)
	}
	sc := ctr.SecurityContext
	if sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || len(sc.Capabilities.Add) != 0 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("coredns security context %+v: want no escalation, read-only root, no capabilities", sc)
	}
	// Restricted Pod Security: non-root, the runtime's seccomp profile; it
	// then listens on an unprivileged port behind the Service's port 53.
	psc := d.Spec.Template.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("coredns pod security context %+v: want runAsNonRoot, a non-zero uid, RuntimeDefault seccomp", psc)
	}
	if !strings.Contains(cm.Data["Corefile"], ".:1053 {") || ctr.Ports[0].ContainerPort != 1053 {
		t.Errorf("CoreDNS does not listen on 1053: port %d\n%s", ctr.Ports[0].ContainerPort, cm.Data["Corefile"])
	}
	for _, p := range svc.Spec.Ports[:2] {
		if p.Port != 53 || p.TargetPort.StrVal != p.Name {
			t.Errorf("kube-dns port %+v: want 53 to the named container port", p)
		}
	}
}

func TestMetricsServerVerifiesKubelets(t *testing.T) {
	objs := render(t)["metrics-server"]
	d := typed[appsv1.Deployment](t, find(objs, "Deployment", "metrics-server"))
	ctr := d.Spec.Template.Spec.Containers[0]
	args := strings.Join(ctr.Args, " ")
	if strings.Contains(args, "insecure-tls") || !strings.Contains(args, "--kubelet-certificate-authority=") {
		t.Errorf("metrics-server must verify kubelet serving certs with the cluster CA: %s", args)
	}
	sc := ctr.SecurityContext
	if sc == nil || !*sc.RunAsNonRoot || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation {
		t.Errorf("metrics-server security context %+v", sc)
	}
	if find(objs, "APIService", "v1beta1.metrics.k8s.io") == nil {
		t.Errorf("no APIService for metrics.k8s.io")
	}
	reader := typed[rbacv1.ClusterRole](t, find(objs, "ClusterRole", "system:aggregated-metrics-reader"))
	for _, r := range reader.Rules {
		for _, v := range r.Verbs {
			if v != "get" && v != "list" && v != "watch" {
				t.Errorf("metrics reader grants %s", v)
			}
		}
	}
}

// TestMetricsServerIsVerifiedByTheAPIServer: the APIService carries the
// cluster CA as caBundle and never skips verification, and metrics-server
// serves the certificate the cluster CA issued for the name the aggregator
// dials (metrics-server.kube-system.svc).
func TestMetricsServerIsVerifiedByTheAPIServer(t *testing.T) {
	c := testCluster()
	tls, ca := testTLS(t, c)
	_, rendered := renderAddons(t, c, tls)
	objs := rendered[MetricsServer]

	api := find(objs, "APIService", MetricsServerAPIService)
	if api == nil {
		t.Fatal("no APIService for metrics.k8s.io")
	}
	spec, _, _ := unstructured.NestedMap(api.Object, "spec")
	if _, ok := spec["insecureSkipTLSVerify"]; ok {
		t.Errorf("the APIService sets insecureSkipTLSVerify: %v", spec["insecureSkipTLSVerify"])
	}
	for key := range spec {
		if !slices.Contains([]string{"service", "group", "version", "caBundle", "groupPriorityMinimum", "versionPriority"}, key) {
			t.Errorf("the APIService has an unexpected field spec.%s", key)
		}
	}
	bundle, _, _ := unstructured.NestedString(api.Object, "spec", "caBundle")
	if got, err := base64.StdEncoding.DecodeString(bundle); err != nil || !bytes.Equal(got, ca.CertPEM) {
		t.Errorf("caBundle is not the cluster CA: %v\n%s", err, got)
	}
	svcName, _, _ := unstructured.NestedString(api.Object, "spec", "service", "name")
	svcNS, _, _ := unstructured.NestedString(api.Object, "spec", "service", "namespace")
	if svcName != MetricsServer || svcNS != Namespace {
		t.Errorf("the APIService points at %s/%s", svcNS, svcName)
	}

	// The aggregator verifies ServerName <service>.<namespace>.svc against the caBundle.
	cert, err := helpers.ParseCertificatePEM(tls.Cert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, name := range []string{svcName + "." + svcNS + ".svc", "metrics-server.kube-system.svc.corp.local", "metrics-server.kube-system"} {
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: name,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("the serving certificate does not verify for %s against the caBundle: %v", name, err)
		}
	}

	d := typed[appsv1.Deployment](t, find(objs, "Deployment", MetricsServer))
	pod := d.Spec.Template.Spec
	ctr := pod.Containers[0]
	args := strings.Join(ctr.Args, " ")
	for _, want := range []string{"--tls-cert-file=/etc/metrics-server/tls/tls.crt", "--tls-private-key-file=/etc/metrics-server/tls/tls.key"} {
		if !slices.Contains(ctr.Args, want) {
			t.Errorf("metrics-server lacks %s: %s", want, args)
		}
	}
	if strings.Contains(args, "--cert-dir") {
		t.Errorf("metrics-server still has --cert-dir (a self-signed certificate): %s", args)
	}
	var mounted bool
	for _, m := range ctr.VolumeMounts {
		mounted = mounted || (m.Name == "tls" && m.MountPath == "/etc/metrics-server/tls" && m.ReadOnly)
	}
	var vol *corev1.SecretVolumeSource
	for _, v := range pod.Volumes {
		if v.Name == "tls" {
			vol = v.Secret
		}
	}
	if !mounted || vol == nil || vol.SecretName != MetricsServerTLSSecret || vol.DefaultMode == nil || *vol.DefaultMode != 0o440 {
		t.Errorf("the TLS Secret is not mounted read-only with mode 0440: mounted %v, volume %+v", mounted, vol)
	}
	if sc := pod.SecurityContext; sc == nil || sc.FSGroup == nil || *sc.FSGroup != *ctr.SecurityContext.RunAsUser {
		t.Errorf("pod security context %+v: want fsGroup %d so the 0440 key is readable by metrics-server's user only", sc, *ctr.SecurityContext.RunAsUser)
	}
	sum := sha256.Sum256(tls.Cert)
	if got := d.Spec.Template.Annotations[certAnnotation]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("pod annotation %s = %q, want the serving certificate's digest (a new certificate must roll the pod)", certAnnotation, got)
	}
}

// TestTheKeyStaysOutOfTheManifest: the manifests kept on disk never hold a
// key; the Secret comes only with TLS.Key, as a separate object applied first.
func TestTheKeyStaysOutOfTheManifest(t *testing.T) {
	c := testCluster()
	tls, _ := testTLS(t, c)
	tls.Key = []byte("-----BEGIN EC PRIVATE KEY-----\nstand-in\n-----END EC PRIVATE KEY-----\n")
	addons, _ := renderAddons(t, c, tls)
	for _, a := range addons {
		if bytes.Contains(a.Manifest, []byte("PRIVATE KEY")) || bytes.Contains(a.Manifest, []byte("kind: Secret")) {
			t.Errorf("%s's manifest holds a Secret or key", a.Name)
		}
		objs, err := a.Objects()
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != MetricsServer {
			if a.Secret != nil {
				t.Errorf("%s has a Secret", a.Name)
			}
			continue
		}
		if a.Secret == nil || objs[0] != a.Secret {
			t.Fatalf("metrics-server's objects do not start with its TLS Secret")
		}
		s := typed[corev1.Secret](t, a.Secret)
		if s.Name != MetricsServerTLSSecret || s.Namespace != Namespace || s.Type != corev1.SecretTypeTLS ||
			!bytes.Equal(s.Data[corev1.TLSCertKey], tls.Cert) || !bytes.Equal(s.Data[corev1.TLSPrivateKeyKey], tls.Key) {
			t.Errorf("Secret %s/%s type %s: want kubernetes.io/tls %s/%s with the certificate and key", s.Namespace, s.Name, s.Type, Namespace, MetricsServerTLSSecret)
		}
		if s.Labels["app.kubernetes.io/managed-by"] != "k8s-single" {
			t.Errorf("the Secret lacks the managed-by label")
		}
	}

	tls.Key = nil
	addons, _ = renderAddons(t, c, tls)
	if addons[1].Secret != nil {
		t.Error("a Secret without a key")
	}
	tls.Cert = nil
	_, rendered := renderAddons(t, c, tls)
	if d := typed[appsv1.Deployment](t, find(rendered[MetricsServer], "Deployment", MetricsServer)); d.Spec.Template.Annotations != nil {
		t.Errorf("without a certificate the pod template is annotated: %v", d.Spec.Template.Annotations)
	}
}

func TestRenderNeedsTheClusterCA(t *testing.T) {
	for _, ca := range [][]byte{nil, []byte("not PEM")} {
		if _, err := Render(testCluster(), TLS{CA: ca}); err == nil || !strings.Contains(err.Error(), "caBundle") {
			t.Errorf("Render with CA %q = %v, want an error about the caBundle", ca, err)
		}
	}
}

func TestMetricsServerCert(t *testing.T) {
	s := MetricsServerCert(testCluster())
	want := []string{"metrics-server", "metrics-server.kube-system", "metrics-server.kube-system.svc", "metrics-server.kube-system.svc.corp.local"}
	if s.Name != certs.MetricsServer || !slices.Equal(s.DNSNames, want) || len(s.IPs) != 0 || s.CA != "ca" ||
		!slices.Equal(s.Usages, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("spec %+v: want a server-auth leaf of the cluster CA for %q", s, want)
	}
}

// TestMetricsServerReadySoon: metrics-server scrapes at its minimum
// resolution, within the rule its options enforce (the resolution's nine
// tenths above the kubelet request timeout), and its readiness is probed
// often enough that it turns Ready soon after its second scrape.
func TestMetricsServerReadySoon(t *testing.T) {
	d := typed[appsv1.Deployment](t, find(render(t)[MetricsServer], "Deployment", MetricsServer))
	ctr := d.Spec.Template.Spec.Containers[0]
	flag := func(name string) time.Duration {
		for _, a := range ctr.Args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				d, err := time.ParseDuration(v)
				if err != nil {
					t.Fatalf("--%s=%s: %v", name, v, err)
				}
				return d
			}
		}
		t.Fatalf("no --%s in %v", name, ctr.Args)
		return 0
	}
	resolution, timeout := flag("metric-resolution"), flag("kubelet-request-timeout")
	if resolution < 10*time.Second || resolution*9/10 < timeout {
		t.Errorf("--metric-resolution=%s --kubelet-request-timeout=%s: metrics-server refuses a resolution under 10s or under 10/9 of the timeout", resolution, timeout)
	}
	p := ctr.ReadinessProbe
	if p == nil || p.InitialDelaySeconds > int32(resolution.Seconds()) || p.PeriodSeconds > 2 {
		t.Errorf("readiness probe %+v: want it probing by the second scrape (%s), every 2s at most", p, resolution)
	}
}

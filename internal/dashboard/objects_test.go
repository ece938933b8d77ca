package dashboard

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/k8s-single/k8s-single/internal/golden"
	"github.com/k8s-single/k8s-single/internal/kube"
)

// testParams are the golden files' parameters: the defaults, with a fixed
// stand-in for the certificate.
var testParams = Params{AdminClusterRole: "cluster-admin", Cert: []byte("test certificate\n")}

func mustUI(t *testing.T, kind string) UI {
	t.Helper()
	ui, ok, err := Of(kind)
	if err != nil || !ok {
		t.Fatalf("Of(%q) = %v, %v", kind, ok, err)
	}
	return ui
}

func render(t *testing.T, ui UI, p Params) []byte {
	t.Helper()
	objs, err := ui.Objects(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Manifest(objs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decode reads a manifest back the way the phase applies it (kube.Decode)
// and converts every document to its typed object, refusing unknown fields.
func decode(t *testing.T, manifest []byte) []runtime.Object {
	t.Helper()
	docs, err := kube.Decode(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var out []runtime.Object
	for _, u := range docs {
		obj, err := scheme.Scheme.New(u.GroupVersionKind())
		if err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, true); err != nil {
			t.Fatalf("%s %s does not decode strictly: %v", u.GetKind(), u.GetName(), err)
		}
		out = append(out, obj)
	}
	return out
}

func objectsOf[T runtime.Object](objs []runtime.Object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func TestManifestGolden(t *testing.T) {
	for _, ui := range UIs() {
		t.Run(ui.Kind, func(t *testing.T) {
			got := render(t, ui, testParams)
			if again := render(t, ui, testParams); !bytes.Equal(got, again) {
				t.Fatal("two renders of the same objects differ: re-applying would not be a no-op")
			}
			golden.Check(t, filepath.Join("testdata", ui.Kind+".yaml"), got)
		})
	}
}

func TestObjectKindsInApplyOrder(t *testing.T) {
	withKey := testParams
	withKey.Key = []byte("test key\n")
	for kind, want := range map[string][]string{
		Headlamp: {"Namespace/headlamp", "Secret/dashboard-tls", "ServiceAccount/headlamp", "ClusterRoleBinding/headlamp",
			"Service/headlamp", "Deployment/headlamp", "ServiceAccount/dashboard-admin", "ClusterRoleBinding/headlamp:dashboard-admin"},
		// recommended.yaml's 14 objects in its order, the TLS Secret after
		// the Namespace, and the admin login.
		KubernetesDashboard: {"Namespace/kubernetes-dashboard", "Secret/dashboard-tls", "ServiceAccount/kubernetes-dashboard",
			"Service/kubernetes-dashboard", "Secret/kubernetes-dashboard-certs", "Secret/kubernetes-dashboard-csrf",
			"Secret/kubernetes-dashboard-key-holder", "ConfigMap/kubernetes-dashboard-settings", "Role/kubernetes-dashboard",
			"ClusterRole/kubernetes-dashboard", "RoleBinding/kubernetes-dashboard", "ClusterRoleBinding/kubernetes-dashboard",
			"Deployment/kubernetes-dashboard", "Service/dashboard-metrics-scraper", "Deployment/dashboard-metrics-scraper",
			"ServiceAccount/dashboard-admin", "ClusterRoleBinding/kubernetes-dashboard:dashboard-admin"},
	} {
		ui := mustUI(t, kind)
		objs, err := ui.Objects(withKey)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range objs {
			got = append(got, o.GetKind()+"/"+o.GetName())
			if o.GetLabels()[labelManagedBy] != kube.FieldManager {
				t.Errorf("%s: %s %s is not labelled %s=%s", kind, o.GetKind(), o.GetName(), labelManagedBy, kube.FieldManager)
			}
			if o.GetKind() != "Namespace" && !strings.HasPrefix(o.GetKind(), "Cluster") && o.GetNamespace() != ui.Namespace {
				t.Errorf("%s: %s %s is in namespace %q, want %s", kind, o.GetKind(), o.GetName(), o.GetNamespace(), ui.Namespace)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s objects:\n got %q\nwant %q", kind, got, want)
		}
	}
}

func TestTLSSecretOnlyWithTheKey(t *testing.T) {
	for _, ui := range UIs() {
		for _, s := range objectsOf[*corev1.Secret](decode(t, render(t, ui, testParams))) {
			if s.Name == TLSSecret || len(s.Data) > 0 {
				t.Errorf("%s: the manifest kept on disk holds Secret %s with %d keys", ui.Kind, s.Name, len(s.Data))
			}
		}
		withKey := testParams
		withKey.Key = []byte("-----BEGIN EC PRIVATE KEY-----\n")
		secrets := objectsOf[*corev1.Secret](decode(t, render(t, ui, withKey)))
		if len(secrets) == 0 || secrets[0].Name != TLSSecret || secrets[0].Type != corev1.SecretTypeTLS ||
			!bytes.Equal(secrets[0].Data[corev1.TLSPrivateKeyKey], withKey.Key) || !bytes.Equal(secrets[0].Data[corev1.TLSCertKey], withKey.Cert) {
			t.Errorf("%s: with a key, the first Secret is %+v, want %s of type %s with the certificate and key", ui.Kind, secrets, TLSSecret, corev1.SecretTypeTLS)
		}
	}
}

// TestPodsAreHardened checks every container of both kinds against the
// "restricted" Pod Security Standard and the install's own rules: resource
// requests, probes, no pulls, and the control-plane toleration on every
// Deployment (the Dashboard's scraper included).
func TestPodsAreHardened(t *testing.T) {
	for _, ui := range UIs() {
		objs := decode(t, render(t, ui, testParams))
		deployments := objectsOf[*appsv1.Deployment](objs)
		if len(deployments) != len(ui.Deployments) {
			t.Errorf("%s: %d Deployments, want %v", ui.Kind, len(deployments), ui.Deployments)
		}
		for _, d := range deployments {
			spec := d.Spec.Template.Spec
			if !slices.Contains(spec.Tolerations, controlPlaneToleration) {
				t.Errorf("%s: Deployment %s does not tolerate the control-plane taint: %+v", ui.Kind, d.Name, spec.Tolerations)
			}
			if spec.HostNetwork || spec.HostPID || spec.HostIPC {
				t.Errorf("%s: Deployment %s shares a host namespace", ui.Kind, d.Name)
			}
			for _, v := range spec.Volumes {
				if v.HostPath != nil {
					t.Errorf("%s: Deployment %s mounts host path %s", ui.Kind, d.Name, v.HostPath.Path)
				}
			}
			for _, c := range spec.Containers {
				checkContainer(t, ui.Kind+"/"+d.Name+"/"+c.Name, c)
			}
		}
	}
}

func checkContainer(t *testing.T, name string, c corev1.Container) {
	t.Helper()
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatalf("%s has no security context", name)
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0:
		t.Errorf("%s may run as root", name)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Errorf("%s has a writable root file system", name)
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || (sc.Privileged != nil && *sc.Privileged):
		t.Errorf("%s may escalate privileges", name)
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("%s keeps capabilities: %+v", name, sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("%s has no RuntimeDefault seccomp profile", name)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s requests %v, limits %v: want cpu and memory requests and a memory limit", name, c.Resources.Requests, c.Resources.Limits)
	}
	if c.LivenessProbe == nil || c.ReadinessProbe == nil {
		t.Errorf("%s lacks a liveness or readiness probe", name)
	}
	if sp := c.StartupProbe; sp == nil || sp.HTTPGet == nil || sp.PeriodSeconds != 1 || sp.FailureThreshold*sp.PeriodSeconds < 60 {
		t.Errorf("%s: startup probe %+v, want one every second for at least a minute, so that no readiness probe meets a container that does not listen yet", name, sp)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s pulls %s: the node is offline, want IfNotPresent", name, c.ImagePullPolicy)
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" }) {
		t.Errorf("%s has no writable /tmp beside its read-only root", name)
	}
}

// TestNeverSkipLogin checks the UIs' arguments: TLS from the dashboard-tls
// mount, and none of the flags that let a visitor in without a token.
func TestNeverSkipLogin(t *testing.T) {
	forbidden := []string{"skip-login", "insecure-login", "unsafe-use-service-account-token", "service-account-token-path",
		"insecure-ssl", "auto-generate-certificates", "apiserver-skip-tls-verify"}
	want := map[string][]string{
		Headlamp: {"-in-cluster", "-tls-cert-path=/headlamp-cert/tls.crt", "-tls-key-path=/headlamp-cert/tls.key"},
		KubernetesDashboard: {"--namespace=kubernetes-dashboard", "--default-cert-dir=/certs", "--tls-cert-file=tls.crt",
			"--tls-key-file=tls.key", "--insecure-bind-address=127.0.0.1"},
	}
	for _, ui := range UIs() {
		for _, d := range objectsOf[*appsv1.Deployment](decode(t, render(t, ui, testParams))) {
			for _, c := range d.Spec.Template.Spec.Containers {
				for _, arg := range append(c.Command, c.Args...) {
					for _, f := range forbidden {
						if strings.Contains(arg, f) {
							t.Errorf("%s/%s runs with %s", ui.Kind, c.Name, arg)
						}
					}
				}
				if d.Name == ui.Deployments[0] && !slices.Equal(c.Args, want[ui.Kind]) {
					t.Errorf("%s args %q, want %q", ui.Kind, c.Args, want[ui.Kind])
				}
			}
		}
	}
}

// TestExposedOnlyOverHTTPS checks that the one NodePort Service leads to the
// UI's TLS port, and that nothing else leaves the cluster.
func TestExposedOnlyOverHTTPS(t *testing.T) {
	for _, ui := range UIs() {
		objs := decode(t, render(t, ui, testParams))
		for _, s := range objectsOf[*corev1.Service](objs) {
			if s.Name != ui.Service {
				if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
					t.Errorf("%s: Service %s is %s, want ClusterIP", ui.Kind, s.Name, s.Spec.Type)
				}
				continue
			}
			if s.Spec.Type != corev1.ServiceTypeNodePort || len(s.Spec.Ports) != 1 {
				t.Fatalf("%s: Service %s: %+v, want one NodePort", ui.Kind, s.Name, s.Spec)
			}
			p := s.Spec.Ports[0]
			if p.NodePort != NodePort || p.Name != httpsPortName || p.TargetPort.StrVal != httpsPortName || p.Port != 443 {
				t.Errorf("%s: port %+v, want 443 -> %s on node port %d", ui.Kind, p, httpsPortName, NodePort)
			}
			ui := objectsOf[*appsv1.Deployment](objs)[0].Spec.Template.Spec.Containers[0]
			if ui.Ports[0].Name != httpsPortName || ui.ReadinessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS || ui.LivenessProbe.HTTPGet.Scheme != corev1.URISchemeHTTPS {
				t.Errorf("%s: the Service's target %+v is not probed over HTTPS", s.Name, ui.Ports)
			}
		}
	}
}

func TestRBAC(t *testing.T) {
	for _, role := range []string{"cluster-admin", "view"} {
		p := testParams
		p.AdminClusterRole = role
		for kind, want := range map[string]map[string]string{
			Headlamp: {"headlamp": "view", "headlamp:dashboard-admin": role},
			KubernetesDashboard: {"kubernetes-dashboard": "kubernetes-dashboard",
				"kubernetes-dashboard:dashboard-admin": role},
		} {
			objs := decode(t, render(t, mustUI(t, kind), p))
			got := map[string]string{}
			for _, b := range objectsOf[*rbacv1.ClusterRoleBinding](objs) {
				got[b.Name] = b.RoleRef.Name
				if len(b.Subjects) != 1 || b.Subjects[0].Kind != rbacv1.ServiceAccountKind || b.Subjects[0].Namespace != mustUI(t, kind).Namespace {
					t.Errorf("%s: binding %s subjects %+v, want one ServiceAccount of its namespace", kind, b.Name, b.Subjects)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: bindings %v, want %v", kind, got, want)
			}
			for name, r := range want {
				if got[name] != r {
					t.Errorf("%s: binding %s -> %q, want %q", kind, name, got[name], r)
				}
			}
			for _, sa := range objectsOf[*corev1.ServiceAccount](objs) {
				if sa.Name == AdminServiceAccount && (sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken) {
					t.Errorf("%s: %s mounts a token into pods; no pod runs as it", kind, AdminServiceAccount)
				}
			}
		}
	}
}

// TestKubernetesDashboardRoles checks upstream's rules verb by verb, and
// that no rule of ours grants a wildcard.
func TestKubernetesDashboardRoles(t *testing.T) {
	objs := decode(t, render(t, mustUI(t, KubernetesDashboard), testParams))
	verbs := map[string][]string{}
	rules := func(rs []rbacv1.PolicyRule) {
		for _, r := range rs {
			for _, res := range r.Resources {
				verbs[res] = append(verbs[res], r.Verbs...)
				if slices.Contains(r.Verbs, "*") || res == "*" || slices.Contains(r.APIGroups, "*") {
					t.Errorf("rule %+v grants a wildcard", r)
				}
			}
		}
	}
	for _, r := range objectsOf[*rbacv1.Role](objs) {
		rules(r.Rules)
	}
	for _, r := range objectsOf[*rbacv1.ClusterRole](objs) {
		rules(r.Rules)
	}
	want := map[string][]string{
		"secrets": {"get", "update", "delete"}, "configmaps": {"get", "update"}, "services": {"proxy"},
		"services/proxy": {"get"}, "pods": {"get", "list", "watch"}, "nodes": {"get", "list", "watch"},
	}
	for res, v := range want {
		if !slices.Equal(verbs[res], v) {
			t.Errorf("verbs on %s: %v, want %v", res, verbs[res], v)
		}
	}
	if len(verbs) != len(want) {
		t.Errorf("rules cover %v, want only %v", verbs, want)
	}
}

func TestImageOverride(t *testing.T) {
	const standIn = "k8s-single.local/dashboard-standin:src-0123456789ab"
	for _, ui := range UIs() {
		for _, image := range []string{"", standIn} {
			p := testParams
			p.Image = image
			for _, d := range objectsOf[*appsv1.Deployment](decode(t, render(t, ui, p))) {
				got, want := d.Spec.Template.Spec.Containers[0].Image, ui.Image
				switch {
				case d.Name == scraperName:
					want = MetricsScraperImage // dashboard.image sets the UI's only
				case image != "":
					want = image
				}
				if got != want {
					t.Errorf("%s with dashboard.image %q: Deployment %s runs %s, want %s", ui.Kind, image, d.Name, got, want)
				}
			}
		}
	}
}

// TestImages: the images the kubelet needs are the UI's (as dashboard.image
// sets it) and, for the Kubernetes Dashboard, its metrics scraper's.
func TestImages(t *testing.T) {
	for _, ui := range UIs() {
		p := testParams
		p.Image = "registry.example/ui:1"
		objs, err := ui.Objects(p)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{p.Image}
		if ui.Kind == "kubernetes-dashboard" {
			want = append(want, MetricsScraperImage)
		}
		if got := Images(objs); !slices.Equal(got, want) {
			t.Errorf("%s: Images %v, want %v", ui.Kind, got, want)
		}
	}
}

func TestCertificateRollsThePods(t *testing.T) {
	ui := mustUI(t, Headlamp)
	annotation := func(cert string) string {
		p := testParams
		p.Cert = []byte(cert)
		return objectsOf[*appsv1.Deployment](decode(t, render(t, ui, p)))[0].Spec.Template.Annotations[certAnnotation]
	}
	if a, b := annotation("one"), annotation("two"); a == "" || a == b {
		t.Errorf("pod template annotation %q for one certificate, %q for another: a new certificate must roll the pods", a, b)
	}
}

func TestOf(t *testing.T) {
	if _, ok, err := Of(None); ok || err != nil {
		t.Errorf("Of(none) = %v, %v; want nothing to deploy", ok, err)
	}
	if _, _, err := Of("octant"); err == nil || !strings.Contains(err.Error(), "headlamp, kubernetes-dashboard or none") {
		t.Errorf("Of(octant) error %v, want one naming the kinds", err)
	}
	if got := URL("192.168.56.10", NodePort); got != "https://192.168.56.10:30443/" {
		t.Errorf("URL = %s", got)
	}
	if got := URL("fd00::10", NodePort); got != "https://[fd00::10]:30443/" {
		t.Errorf("URL for IPv6 = %s", got)
	}
}

package addons

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/kube"
)

func render(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	c.Network.ServiceCIDR, c.Network.ClusterDNS, c.Network.DNSDomain = "10.100.0.0/16", "10.100.0.53", "corp.local"
	addons, err := Render(c)
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
	if sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || len(sc.Capabilities.Add) != 1 || sc.Capabilities.Add[0] != "NET_BIND_SERVICE" || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("coredns security context %+v: want no escalation, read-only root, only NET_BIND_SERVICE", sc)
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

package dashboard

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The Kubernetes Dashboard's containers: upstream's user (1001:2001), the
// dashboard's HTTPS port and cert dir (its --default-cert-dir default), and
// the metrics scraper's plain-HTTP port, which only the dashboard reaches,
// through its ClusterIP Service.
const (
	kdUID, kdGID      = 1001, 2001
	kdPort            = 8443
	kdCertDir         = "/certs"
	scraperPort       = 8000
	scraperName       = "dashboard-metrics-scraper"
	kdName            = "kubernetes-dashboard"
	kdSettings        = "kubernetes-dashboard-settings"
	kdCertsSecret     = "kubernetes-dashboard-certs"
	kdCSRFSecret      = "kubernetes-dashboard-csrf"
	kdKeyHolderSecret = "kubernetes-dashboard-key-holder"
)

// kubernetesDashboardObjects are the objects of the Dashboard v2.7.0's
// recommended.yaml after its Namespace, in its order, with these changes:
//
//   - both Deployments tolerate the control-plane taint (upstream tolerates
//     only the old master taint, which kubeadm stopped setting in v1.25);
//   - the dashboard serves the dashboard-tls certificate (--tls-cert-file and
//     --tls-key-file in /certs) instead of --auto-generate-certificates, and
//     its plain-HTTP port stays on loopback (the image's entrypoint binds it
//     to 0.0.0.0); never --enable-skip-login or --enable-insecure-login;
//   - its Service is a NodePort on 443 (upstream: ClusterIP);
//   - every container is hardened to the "restricted" Pod Security Standard,
//     requests resources and has liveness and readiness probes;
//   - the csrf and key-holder Secrets and the settings ConfigMap carry no
//     data: the dashboard writes it, and server-side apply leaves it alone.
func kubernetesDashboardObjects(ui UI, p Params) []runtime.Object {
	ns := ui.Namespace
	selector := map[string]string{"k8s-app": kdName}
	scraperSelector := map[string]string{"k8s-app": scraperName}
	sa := serviceAccount(kdName, ns, selector)
	tolerations := []corev1.Toleration{
		{Key: "node-role.kubernetes.io/master", Effect: corev1.TaintEffectNoSchedule},
		controlPlaneToleration,
	}
	dashboard := uiContainer(kdName, p.image(ui), kdPort, kdCertDir, kdUID, kdGID,
		"--namespace="+ns,
		"--default-cert-dir="+kdCertDir,
		"--tls-cert-file="+corev1.TLSCertKey,
		"--tls-key-file="+corev1.TLSPrivateKeyKey,
		"--insecure-bind-address=127.0.0.1",
	)
	return []runtime.Object{
		sa,
		nodePortService(ui, selector),
		// Upstream's certs Secret stays for users of the classic manifest
		// (its Role names it); the certificate comes from dashboard-tls.
		opaqueSecret(kdCertsSecret, ns, selector),
		opaqueSecret(kdCSRFSecret, ns, selector),
		opaqueSecret(kdKeyHolderSecret, ns, selector),
		&corev1.ConfigMap{ObjectMeta: objectMeta(kdSettings, ns, selector)},
		&rbacv1.Role{ObjectMeta: objectMeta(kdName, ns, selector), Rules: kdRoleRules()},
		&rbacv1.ClusterRole{ObjectMeta: objectMeta(kdName, "", selector), Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"metrics.k8s.io"}, Resources: []string{"pods", "nodes"}, Verbs: []string{"get", "list", "watch"}},
		}},
		&rbacv1.RoleBinding{
			ObjectMeta: objectMeta(kdName, ns, selector),
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: kdName},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sa.Name, Namespace: ns}},
		},
		clusterRoleBinding(kdName, kdName, sa),
		deployment(kdName, ns, selector, p.podAnnotations(), podSpec(sa.Name, kdGID, true, tolerations, dashboard)),
		&corev1.Service{
			ObjectMeta: objectMeta(scraperName, ns, scraperSelector),
			Spec: corev1.ServiceSpec{Selector: scraperSelector, Ports: []corev1.ServicePort{
				{Port: scraperPort, TargetPort: intstr.FromInt32(scraperPort), Protocol: corev1.ProtocolTCP},
			}},
		},
		deployment(scraperName, ns, scraperSelector, nil, podSpec(sa.Name, kdGID, false, tolerations, scraperContainer())),
	}
}

// kdRoleRules are upstream's: the dashboard's own Secrets and settings, and
// the metrics scraper through the service proxy.
func kdRoleRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"},
			ResourceNames: []string{kdKeyHolderSecret, kdCertsSecret, kdCSRFSecret}, Verbs: []string{"get", "update", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"},
			ResourceNames: []string{kdSettings}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{""}, Resources: []string{"services"},
			ResourceNames: []string{"heapster", scraperName}, Verbs: []string{"proxy"}},
		{APIGroups: []string{""}, Resources: []string{"services/proxy"},
			ResourceNames: []string{"heapster", "http:heapster:", "https:heapster:", scraperName, "http:" + scraperName}, Verbs: []string{"get"}},
	}
}

func opaqueSecret(name, namespace string, labels map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: objectMeta(name, namespace, labels), Type: corev1.SecretTypeOpaque}
}

// scraperContainer is the metrics scraper: upstream's image (dashboard.image
// replaces only the dashboard), hardened, probed over plain HTTP on its pod
// port, which no Service exposes outside the cluster.
func scraperContainer() corev1.Container {
	return corev1.Container{
		Name:            scraperName,
		Image:           MetricsScraperImage,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Ports:           []corev1.ContainerPort{{Name: "http", ContainerPort: scraperPort, Protocol: corev1.ProtocolTCP}},
		StartupProbe:    startupProbe(corev1.URISchemeHTTP, "http"),
		LivenessProbe:   probe(corev1.URISchemeHTTP, "http", 10),
		ReadinessProbe:  probe(corev1.URISchemeHTTP, "http", 0),
		Resources:       resources("10m", "32Mi", "128Mi"),
		SecurityContext: hardened(kdUID, kdGID),
		VolumeMounts:    []corev1.VolumeMount{{Name: tmpVolume, MountPath: "/tmp"}},
	}
}

package dashboard

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Headlamp's container: its image's user (headlamp, 100:101, as its Helm
// chart runs it), its port (4466, the -port default) and where the TLS
// Secret is mounted (the chart's path).
const (
	headlampUID, headlampGID = 100, 101
	headlampPort             = 4466
	headlampCertDir          = "/headlamp-cert"
)

// headlampObjects are Headlamp's ServiceAccount and read-only
// ClusterRoleBinding, its NodePort Service and its Deployment.
//
// Headlamp runs -in-cluster: every request a user makes carries the token the
// user logged in with, so the UI can do no more than that user. Its own
// identity only reads (the "view" ClusterRole, which excludes Secrets), and
// it never logs users in as itself: no -unsafe-use-service-account-token.
// It terminates TLS with -tls-cert-path/-tls-key-path (Headlamp's backend
// flags), so its pod serves only HTTPS.
func headlampObjects(ui UI, p Params) []runtime.Object {
	selector := map[string]string{"app.kubernetes.io/name": "headlamp"}
	sa := serviceAccount("headlamp", ui.Namespace, selector)
	c := uiContainer("headlamp", p.image(ui), headlampPort, headlampCertDir, headlampUID, headlampGID,
		"-in-cluster",
		"-tls-cert-path="+headlampCertDir+"/"+corev1.TLSCertKey,
		"-tls-key-path="+headlampCertDir+"/"+corev1.TLSPrivateKeyKey,
	)
	spec := podSpec(sa.Name, headlampGID, true, []corev1.Toleration{controlPlaneToleration}, c)
	return []runtime.Object{
		sa,
		clusterRoleBinding("headlamp", "view", sa),
		nodePortService(ui, selector),
		deployment("headlamp", ui.Namespace, selector, p.podAnnotations(), spec),
	}
}

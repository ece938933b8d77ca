package componentconfig

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeproxyv1alpha1 "k8s.io/kube-proxy/config/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/units"
)

// kubeProxyConfiguration is kube-proxy's config file. The upstream type has
// few omitempty tags, so the file lists every field; zero values and nulls
// are what kube-proxy's defaulting fills in, as in kubeadm's ConfigMap.
// Metrics stay on loopback (CIS 4.3.1).
func kubeProxyConfiguration(c *config.Cluster, h units.Host) *kubeproxyv1alpha1.KubeProxyConfiguration {
	p := &kubeproxyv1alpha1.KubeProxyConfiguration{
		TypeMeta:           metav1.TypeMeta{APIVersion: kubeproxyv1alpha1.SchemeGroupVersion.String(), Kind: "KubeProxyConfiguration"},
		Mode:               kubeproxyv1alpha1.ProxyMode(c.Network.ProxyMode),
		ClusterCIDR:        c.Network.PodCIDR,
		BindAddress:        c.Node.Address,
		MetricsBindAddress: "127.0.0.1:10249",
	}
	p.ClientConnection.Kubeconfig = layout.Kubeconfig("kube-proxy")
	if h.ConntrackReadOnly {
		// 0 leaves nf_conntrack_max as it is: it is read-only outside the
		// host's network namespace, and kube-proxy would fail writing it.
		p.Conntrack.MaxPerCore = ptr.To[int32](0)
		p.Conntrack.Min = ptr.To[int32](0)
	}
	return p
}

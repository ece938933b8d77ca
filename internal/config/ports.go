package config

// Ports the node's components listen on that the config does not set. The
// ports it does set (apiServer.port, etcd.clientPort, etcd.peerPort) must
// keep off them.
const (
	EtcdMetricsPort       = 2381  // etcd --listen-metrics-urls
	KubeletHealthzPort    = 10248 // kubelet healthzPort
	KubeProxyMetricsPort  = 10249 // kube-proxy metricsBindAddress
	KubeletPort           = 10250 // kubelet API
	KubeProxyHealthzPort  = 10256 // kube-proxy healthzBindAddress
	ControllerManagerPort = 10257 // kube-controller-manager --secure-port
	SchedulerPort         = 10259 // kube-scheduler --secure-port
	// NodePortFirst and NodePortLast bound the apiserver's default
	// --service-node-port-range, which kube-proxy opens on the node.
	NodePortFirst = 30000
	NodePortLast  = 32767
)

// componentPorts names the user of each port range above.
var componentPorts = []struct {
	first, last int
	user        string
}{
	{EtcdMetricsPort, EtcdMetricsPort, "etcd's metrics listener"},
	{KubeletHealthzPort, KubeletHealthzPort, "the kubelet's healthz"},
	{KubeProxyMetricsPort, KubeProxyMetricsPort, "kube-proxy's metrics"},
	{KubeletPort, KubeletPort, "the kubelet's API"},
	{KubeProxyHealthzPort, KubeProxyHealthzPort, "kube-proxy's healthz"},
	{ControllerManagerPort, ControllerManagerPort, "kube-controller-manager"},
	{SchedulerPort, SchedulerPort, "kube-scheduler"},
	{NodePortFirst, NodePortLast, "the NodePort range 30000-32767 (Services of type NodePort, opened by kube-proxy)"},
}

// portUser returns who else listens on port, or "" when nobody does.
func portUser(port int) string {
	for _, p := range componentPorts {
		if p.first <= port && port <= p.last {
			return p.user
		}
	}
	return ""
}

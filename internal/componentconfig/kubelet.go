package componentconfig

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/units"
)

// resolv.conf files the kubelet hands to pods with dnsPolicy Default.
const (
	resolvConf         = "/etc/resolv.conf"
	resolvedResolvConf = "/run/systemd/resolve/resolv.conf"
)

// The kubelet's graceful node shutdown: pods get shutdownGracePeriod in all,
// the last shutdownGracePeriodCriticalPods of it reserved for critical pods.
const (
	shutdownGracePeriod             = 30 * time.Second
	shutdownGracePeriodCriticalPods = 10 * time.Second
)

// CIS 4.2 values the kubelet's config states instead of leaving them to a
// zero an auditor reads as "off": streaming connections close after 4 h idle
// (4.2.5), webhook decisions are cached as long as the kubelet's defaults, a
// pod may run at most podPidsLimit processes (4.2.13).
const (
	streamingConnectionIdleTimeout = 4 * time.Hour
	authenticationCacheTTL         = 2 * time.Minute
	authorizedCacheTTL             = 5 * time.Minute
	unauthorizedCacheTTL           = 30 * time.Second
	podPidsLimit                   = 4096
)

// Disk and memory pressure: the kubelet evicts pods (never the node's own
// daemons, which are not pods) before the node runs out, and collects unused
// images early. The node's own share is held back from what pods may ask
// for, so a full node still leaves etcd and the control plane room.
var (
	evictionHard = map[string]string{
		"memory.available":   "200Mi",
		"nodefs.available":   "10%",
		"nodefs.inodesFree":  "5%",
		"imagefs.available":  "15%",
		"imagefs.inodesFree": "5%",
	}
	evictionMinimumReclaim = map[string]string{"nodefs.available": "1Gi", "imagefs.available": "1Gi"}
	// nodeReserved is held back for the system and for the Kubernetes daemons each.
	nodeReserved = map[string]string{"memory": "256Mi", "ephemeral-storage": "1Gi"}
)

const (
	imageGCHighThresholdPercent = 80
	imageGCLowThresholdPercent  = 70
)

// kubeletConfiguration is the kubelet's config file, with the CIS 4.2
// settings: no anonymous requests, webhook authentication and authorization
// (with explicit cache times), a streaming idle timeout, a pod PID limit,
// RuntimeDefault seccomp for every container,
// client certs checked against the cluster CA, no read-only port (the
// v1beta1 default, 0, which omitempty leaves out of the file), client cert
// rotation, our serving cert (with IP SANs) instead of TLS bootstrap, strong
// TLS. Fields not set keep the kubelet's defaults.
func kubeletConfiguration(c *config.Cluster, h units.Host) (*kubeletv1beta1.KubeletConfiguration, error) {
	if h.CgroupDriver != "systemd" && h.CgroupDriver != "cgroupfs" {
		return nil, fmt.Errorf("render kubelet config: cgroup driver %q is not resolved; want systemd or cgroupfs", h.CgroupDriver)
	}
	k := &kubeletv1beta1.KubeletConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: kubeletv1beta1.SchemeGroupVersion.String(), Kind: "KubeletConfiguration"},
		Authentication: kubeletv1beta1.KubeletAuthentication{
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: ptr.To(false)},
			Webhook: kubeletv1beta1.KubeletWebhookAuthentication{Enabled: ptr.To(true),
				CacheTTL: metav1.Duration{Duration: authenticationCacheTTL}},
			X509: kubeletv1beta1.KubeletX509Authentication{ClientCAFile: layout.Cert("ca")},
		},
		Authorization: kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook,
			Webhook: kubeletv1beta1.KubeletWebhookAuthorization{
				CacheAuthorizedTTL:   metav1.Duration{Duration: authorizedCacheTTL},
				CacheUnauthorizedTTL: metav1.Duration{Duration: unauthorizedCacheTTL},
			}},
		StreamingConnectionIdleTimeout: metav1.Duration{Duration: streamingConnectionIdleTimeout},
		PodPidsLimit:                   ptr.To[int64](podPidsLimit),
		EvictionHard:                   evictionHard,
		EvictionMinimumReclaim:         evictionMinimumReclaim,
		ImageGCHighThresholdPercent:    ptr.To[int32](imageGCHighThresholdPercent),
		ImageGCLowThresholdPercent:     ptr.To[int32](imageGCLowThresholdPercent),
		SystemReserved:                 nodeReserved,
		KubeReserved:                   nodeReserved,
		// Every container without a seccomp profile gets the runtime's
		// default one (4.2.14), not Unconfined.
		SeccompDefault:           ptr.To(true),
		ReadOnlyPort:             0,
		RotateCertificates:       true,
		ServerTLSBootstrap:       false,
		TLSCertFile:              layout.Cert("kubelet"),
		TLSPrivateKeyFile:        layout.Key("kubelet"),
		TLSMinVersion:            units.TLSMinVersion,
		TLSCipherSuites:          units.TLSCipherSuites,
		ClusterDNS:               []string{c.Network.ClusterDNS},
		ClusterDomain:            c.Network.DNSDomain,
		CgroupDriver:             h.CgroupDriver,
		ProtectKernelDefaults:    false,
		ContainerRuntimeEndpoint: ContainerRuntimeEndpoint,
		// Air-gapped nodes: with any other policy a failed pull leaves a
		// record that makes the kubelet re-pull images it already has.
		ImagePullCredentialsVerificationPolicy: kubeletv1beta1.NeverVerify,
		ResolverConfig:                         ptr.To(resolvConf),
		// Graceful node shutdown: on poweroff the kubelet (through a logind
		// inhibitor lock) stops the pods first, so none outlives the
		// apiserver and holds its stop up.
		ShutdownGracePeriod:             metav1.Duration{Duration: shutdownGracePeriod},
		ShutdownGracePeriodCriticalPods: metav1.Duration{Duration: shutdownGracePeriodCriticalPods},
	}
	if h.SystemdResolved {
		k.ResolverConfig = ptr.To(resolvedResolvConf)
	}
	if h.CgroupV1 {
		// The kubelet refuses cgroup v1 hosts since 1.35 unless told not to.
		k.FailCgroupV1 = ptr.To(false)
	}
	return k, nil
}

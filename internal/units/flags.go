package units

import (
	"maps"
	"net"
	"strconv"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// daemon is one component's unit metadata and command-line flags.
type daemon struct {
	name          string
	description   string
	documentation string
	after         []string
	wants         []string
	requires      []string
	// notify is true for daemons that send sd_notify READY=1 (Type=notify).
	notify bool
	// successExitStatus lists exit codes systemd counts as a clean stop.
	successExitStatus string
	// user runs the daemon as this system user instead of root.
	user string
	// credentials are the files systemd hands the daemon (LoadCredential=),
	// for a daemon whose user cannot read the root-only PKI.
	credentials []credential
	// sandbox turns on systemd's sandboxing (see sandboxOptions); writable
	// lists the paths it may still write.
	sandbox  bool
	writable func(c *config.Cluster) []string
	// ipAllow, when set, limits the daemon's own traffic to these addresses
	// and ranges (IPAddressDeny=any, CIS 4.2.15).
	ipAllow func(c *config.Cluster) []string
	// flags returns flag name (without "--") to value.
	flags func(c *config.Cluster, h Host) map[string]string
}

// credential is one LoadCredential= entry: systemd reads Path as root and
// gives the service a private copy at CredentialPath(unit, ID).
type credential struct {
	ID   string
	Path string
}

// CredentialsDir is where systemd puts a unit's credentials (systemd 247+;
// %d in a unit file expands to it).
func CredentialsDir(unit string) string { return "/run/credentials/" + unit }

// EtcdUser is the system user etcd runs as (CIS 1.1.11/1.1.12: its data dir
// is etcd:etcd 0700).
const EtcdUser = "etcd"

// etcdCredentials are the PKI files etcd reads, handed over by systemd so the
// etcd user needs no access to /etc/kubernetes/pki (root-only, 0700).
var etcdCredentials = []credential{
	{"ca.crt", layout.Cert("etcd/ca")},
	{"server.crt", layout.Cert("etcd/server")},
	{"server.key", layout.Key("etcd/server")},
	{"peer.crt", layout.Cert("etcd/peer")},
	{"peer.key", layout.Key("etcd/peer")},
}

// etcdCredential is the path etcd reads a credential at.
func etcdCredential(id string) string { return CredentialsDir("etcd.service") + "/" + id }

const (
	networkOnline = "network-online.target"
	apiserverUnit = "kube-apiserver.service"
	// TLSMinVersion is the lowest TLS version the Kubernetes servers accept.
	TLSMinVersion = "VersionTLS12"
)

// TLSCipherSuites are the TLS 1.2 suites the Kubernetes servers offer: ECDHE
// with AES-GCM or ChaCha20-Poly1305 for both ECDSA and RSA keys, the set both
// CIS checks (apiserver 1.2.29, kubelet 4.2.12) accept.
var TLSCipherSuites = []string{
	"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
	"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
}

// daemons in start order.
var daemons = []daemon{
	{
		name:          "etcd",
		description:   "etcd key-value store (k8s-single)",
		documentation: "https://etcd.io/docs/v3.7/op-guide/configuration/",
		after:         []string{networkOnline},
		wants:         []string{networkOnline},
		notify:        true,
		user:          EtcdUser,
		credentials:   etcdCredentials,
		sandbox:       true,
		writable:      func(c *config.Cluster) []string { return []string{c.Etcd.DataDir} },
		flags:         etcdFlags,
	},
	{
		name:          "kube-apiserver",
		description:   "Kubernetes API server (k8s-single)",
		documentation: kubernetesDoc("kube-apiserver"),
		after:         []string{networkOnline, "etcd.service"},
		wants:         []string{networkOnline, "etcd.service"},
		notify:        true,
		sandbox:       true,
		writable:      func(*config.Cluster) []string { return []string{layout.AuditLogDir} },
		flags:         apiserverFlags,
	},
	{
		name:          "kube-controller-manager",
		description:   "Kubernetes controller manager (k8s-single)",
		documentation: kubernetesDoc("kube-controller-manager"),
		after:         []string{apiserverUnit},
		wants:         []string{apiserverUnit},
		sandbox:       true,
		flags:         controllerManagerFlags,
	},
	{
		name:          "kube-scheduler",
		description:   "Kubernetes scheduler (k8s-single)",
		documentation: kubernetesDoc("kube-scheduler"),
		after:         []string{apiserverUnit},
		wants:         []string{apiserverUnit},
		// Without leader election kube-scheduler exits 1 on SIGTERM
		// ("finished without leader elect"): a clean stop, not a failure.
		successExitStatus: "1",
		sandbox:           true,
		flags:             schedulerFlags,
	},
	{
		name:          "kubelet",
		description:   "Kubernetes node agent (k8s-single)",
		documentation: kubernetesDoc("kubelet"),
		after:         []string{networkOnline, "containerd.service"},
		wants:         []string{networkOnline},
		requires:      []string{"containerd.service"},
		ipAllow:       kubeletPeers,
		flags:         kubeletFlags,
	},
	{
		name:          "kube-proxy",
		description:   "Kubernetes Service proxy (k8s-single)",
		documentation: kubernetesDoc("kube-proxy"),
		after:         []string{networkOnline},
		wants:         []string{networkOnline},
		flags:         kubeProxyFlags,
	},
}

func kubernetesDoc(binary string) string {
	return "https://kubernetes.io/docs/reference/command-line-tools-reference/" + binary + "/"
}

// etcdQuotaBytes is etcd's backend quota: 2 GiB.
const etcdQuotaBytes = 2 << 30

// etcdFlags: mutual TLS for clients and peers with etcd's own CA, no
// auto-TLS, listening on loopback and the node IP only (CIS 2.1-2.7). Its
// PKI files are read from the credentials systemd hands it.
func etcdFlags(c *config.Cluster, _ Host) map[string]string {
	local := httpsURL("127.0.0.1", c.Etcd.ClientPort)
	client := httpsURL(c.Node.Address, c.Etcd.ClientPort)
	peer := EtcdPeerURL(c)
	return map[string]string{
		"name":                        c.Node.Name,
		"data-dir":                    c.Etcd.DataDir,
		"listen-client-urls":          local + "," + client,
		"advertise-client-urls":       client,
		"listen-peer-urls":            peer,
		"initial-advertise-peer-urls": peer,
		"initial-cluster":             c.Node.Name + "=" + peer,
		"client-cert-auth":            "true",
		"trusted-ca-file":             etcdCredential("ca.crt"),
		"cert-file":                   etcdCredential("server.crt"),
		"key-file":                    etcdCredential("server.key"),
		"auto-tls":                    "false",
		"peer-client-cert-auth":       "true",
		"peer-trusted-ca-file":        etcdCredential("ca.crt"),
		"peer-cert-file":              etcdCredential("peer.crt"),
		"peer-key-file":               etcdCredential("peer.key"),
		"peer-auto-tls":               "false",
		"listen-metrics-urls":         "http://127.0.0.1:2381",
		"snapshot-count":              "10000",
		// The database's hard limit (etcd raises NOSPACE and refuses writes
		// past it), stated rather than left to the default; the apiserver
		// compacts every 5 minutes, `k8s-single etcd defrag` frees the space.
		"quota-backend-bytes": strconv.Itoa(etcdQuotaBytes),
	}
}

// AdmissionPlugins are the admission plugins the apiserver enables beyond its
// defaults: NodeRestriction (CIS 1.2.15), DenyServiceExternalIPs (1.2.3) and
// EventRateLimit (1.2.9, configured in layout.AdmissionConfig).
// AlwaysPullImages (1.2.11) is left out on purpose: it makes every pod pull
// its image from a registry, which an offline install with an image bundle
// does not have.
var AdmissionPlugins = []string{"NodeRestriction", "DenyServiceExternalIPs", "EventRateLimit"}

// apiserverFlags follows kubeadm's command line plus the CIS 1.2 settings:
// no anonymous requests, Node,RBAC, the AdmissionPlugins, no profiling, a rotated
// audit log, Secrets encrypted at rest, kubelet serving certs verified, and
// the front-proxy flags the aggregation layer (metrics-server) needs.
func apiserverFlags(c *config.Cluster, _ Host) map[string]string {
	flags := map[string]string{
		"advertise-address":                       c.Node.Address,
		"secure-port":                             strconv.Itoa(c.APIServer.Port),
		"allow-privileged":                        "true",
		"anonymous-auth":                          "false",
		"authorization-mode":                      "Node,RBAC",
		"enable-admission-plugins":                strings.Join(AdmissionPlugins, ","),
		"admission-control-config-file":           layout.AdmissionConfig,
		"profiling":                               "false",
		"audit-log-path":                          layout.AuditLog,
		"audit-log-maxage":                        "30",
		"audit-log-maxbackup":                     "10",
		"audit-log-maxsize":                       "100",
		"audit-policy-file":                       layout.AuditPolicy,
		"encryption-provider-config":              layout.EncryptionConfig,
		"client-ca-file":                          layout.Cert("ca"),
		"tls-cert-file":                           layout.Cert("apiserver"),
		"tls-private-key-file":                    layout.Key("apiserver"),
		"kubelet-client-certificate":              layout.Cert("apiserver-kubelet-client"),
		"kubelet-client-key":                      layout.Key("apiserver-kubelet-client"),
		"kubelet-certificate-authority":           layout.Cert("ca"),
		"kubelet-preferred-address-types":         "InternalIP,Hostname",
		"etcd-servers":                            httpsURL("127.0.0.1", c.Etcd.ClientPort),
		"etcd-cafile":                             layout.Cert("etcd/ca"),
		"etcd-certfile":                           layout.Cert("apiserver-etcd-client"),
		"etcd-keyfile":                            layout.Key("apiserver-etcd-client"),
		"service-account-issuer":                  "https://kubernetes.default.svc." + c.Network.DNSDomain,
		"service-account-key-file":                layout.ServiceAccountPubKey,
		"service-account-signing-key-file":        layout.ServiceAccountKey,
		"service-account-extend-token-expiration": "false",
		"service-cluster-ip-range":                c.Network.ServiceCIDR,
		"requestheader-client-ca-file":            layout.Cert("front-proxy-ca"),
		"requestheader-allowed-names":             "front-proxy-client",
		"requestheader-username-headers":          "X-Remote-User",
		"requestheader-group-headers":             "X-Remote-Group",
		"requestheader-extra-headers-prefix":      "X-Remote-Extra-",
		"proxy-client-cert-file":                  layout.Cert("front-proxy-client"),
		"proxy-client-key-file":                   layout.Key("front-proxy-client"),
	}
	return merge(flags, tlsFlags())
}

// controllerManagerFlags: CIS 1.3, Node CIDR allocation for the bridge CNI,
// and the cluster CA to sign kubelet CSRs. Leader election is off: one
// instance runs under systemd, and without it a restart need not wait for the
// old lease to expire (~15 s) nor write a Lease every 2 s.
func controllerManagerFlags(c *config.Cluster, _ Host) map[string]string {
	flags := map[string]string{
		"client-ca-file":                   layout.Cert("ca"),
		"requestheader-client-ca-file":     layout.Cert("front-proxy-ca"),
		"use-service-account-credentials":  "true",
		"service-account-private-key-file": layout.ServiceAccountKey,
		"root-ca-file":                     layout.Cert("ca"),
		"cluster-signing-cert-file":        layout.Cert("ca"),
		"cluster-signing-key-file":         layout.Key("ca"),
		"allocate-node-cidrs":              "true",
		"cluster-cidr":                     c.Network.PodCIDR,
		"service-cluster-ip-range":         c.Network.ServiceCIDR,
		"controllers":                      "*,bootstrapsigner,tokencleaner",
		"terminated-pod-gc-threshold":      "10",
	}
	return merge(flags, controlPlaneClientFlags("controller-manager"), tlsFlags())
}

// schedulerFlags: CIS 1.4; leader election off as for the controller-manager.
func schedulerFlags(*config.Cluster, Host) map[string]string {
	return merge(controlPlaneClientFlags("scheduler"), tlsFlags())
}

// ServingCertName is the PKI name of the serving certificate the
// controller-manager or the scheduler presents on its secure port, signed by
// the cluster CA so health probes verify it (instead of the self-signed one
// each makes on its own).
func ServingCertName(kubeconfig string) string { return kubeconfig + "-serving" }

// controlPlaneClientFlags are the flags the controller-manager and the
// scheduler share: their kubeconfig for everything, loopback-only serving
// with a certificate from the cluster CA, no profiling, no leader election.
func controlPlaneClientFlags(kubeconfig string) map[string]string {
	conf := layout.Kubeconfig(kubeconfig)
	return map[string]string{
		"kubeconfig":                conf,
		"authentication-kubeconfig": conf,
		"authorization-kubeconfig":  conf,
		"bind-address":              "127.0.0.1",
		"tls-cert-file":             layout.Cert(ServingCertName(kubeconfig)),
		"tls-private-key-file":      layout.Key(ServingCertName(kubeconfig)),
		"profiling":                 "false",
		"leader-elect":              "false",
	}
}

// kubeletFlags keep only what cannot go into the KubeletConfiguration file:
// the flag of every config-file field (--container-runtime-endpoint too) is
// deprecated. --hostname-override only when the node's name is not the host
// name (CIS 4.2.7).
func kubeletFlags(c *config.Cluster, h Host) map[string]string {
	return merge(map[string]string{
		"config":     layout.KubeletConfig,
		"kubeconfig": layout.Kubeconfig("kubelet"),
		"node-ip":    c.Node.Address,
	}, hostnameOverride(c, h))
}

// kubeletPeers are the only addresses the kubelet itself talks to: loopback,
// the node (the apiserver, hostNetwork pods), the pods (probes) and the
// Services. Its pods run in their own cgroups and are not limited by this.
func kubeletPeers(c *config.Cluster) []string {
	return []string{"localhost", c.Node.Address, c.Network.PodCIDR, c.Network.ServiceCIDR}
}

// kubeProxyFlags: everything else is in the KubeProxyConfiguration file.
func kubeProxyFlags(c *config.Cluster, h Host) map[string]string {
	return merge(map[string]string{"config": layout.KubeProxyConfig}, hostnameOverride(c, h))
}

// hostnameOverride is --hostname-override when the node's name differs from
// the host name the daemons would use.
func hostnameOverride(c *config.Cluster, h Host) map[string]string {
	if c.Node.Name == strings.ToLower(h.Hostname) {
		return nil
	}
	return map[string]string{"hostname-override": c.Node.Name}
}

// tlsFlags restrict the Kubernetes control-plane servers to strong TLS.
func tlsFlags() map[string]string {
	return map[string]string{
		"tls-min-version":   TLSMinVersion,
		"tls-cipher-suites": strings.Join(TLSCipherSuites, ","),
	}
}

// EtcdPeerURL is the peer URL etcd listens on and advertises: the node's
// address.
func EtcdPeerURL(c *config.Cluster) string { return httpsURL(c.Node.Address, c.Etcd.PeerPort) }

func httpsURL(host string, port int) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// merge returns one map holding every entry of ms.
func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// Package layout names every host path k8s-single writes or reads, in one
// place, so the PKI, the units, the journal and reset agree. Paths are host
// paths ("/etc/kubernetes/pki"); host.Root maps them under --root. The file
// names follow kubeadm's so its users feel at home.
package layout

import "path"

// Directories.
const (
	KubernetesDir = "/etc/kubernetes"
	PKIDir        = "/etc/kubernetes/pki"
	EtcdPKIDir    = "/etc/kubernetes/pki/etcd"
	UnitDir       = "/etc/systemd/system"
	StateDir      = "/var/lib/k8s-single"
	KubeletDir    = "/var/lib/kubelet"
	KubeProxyDir  = "/var/lib/kube-proxy"
	AuditLogDir   = "/var/log/kubernetes/audit"
)

// Files the journal and the control plane share.
const (
	Journal = StateDir + "/state.json"
	// FullBinary is the name of k8s-single's binary with every command.
	// The quick front, k8s-single, hands it every command but version and
	// etcd health, and finds it in its own directory.
	FullBinary = "k8s-single-full"
	// KeptConfig is where up keeps a copy of the user's config file, so
	// later commands (certs renew, the timers) read the same one.
	KeptConfig = "/etc/k8s-single/config.yaml"
	// BackupDir is where backups go unless told otherwise.
	BackupDir = StateDir + "/backups"
	// RuntimeVersions holds containerd's and runc's --version lines as the
	// runtime phase found them (up's summary reads it instead of running them).
	RuntimeVersions      = StateDir + "/runtime-versions"
	AuditPolicy          = KubernetesDir + "/audit-policy.yaml"
	AdmissionConfig      = KubernetesDir + "/admission-config.yaml"
	EncryptionConfig     = KubernetesDir + "/encryption-config.yaml"
	KubeletConfig        = KubeletDir + "/config.yaml"
	KubeProxyConfig      = KubeProxyDir + "/config.yaml"
	AuditLog             = AuditLogDir + "/audit.log"
	ServiceAccountKey    = PKIDir + "/sa.key"
	ServiceAccountPubKey = PKIDir + "/sa.pub"
)

// Kubeconfig returns the path of a kubeconfig by its kubeadm name
// ("admin", "super-admin", "controller-manager", "scheduler", "kubelet", "kube-proxy").
func Kubeconfig(name string) string { return path.Join(KubernetesDir, name+".conf") }

// Cert and Key return the certificate and key paths of a PKI name relative to
// PKIDir: "ca", "apiserver", "etcd/server"...
func Cert(name string) string { return path.Join(PKIDir, name+".crt") }

// Key returns the private key path of a PKI name (see Cert).
func Key(name string) string { return path.Join(PKIDir, name+".key") }

// Unit returns the path of a systemd unit file.
func Unit(name string) string { return path.Join(UnitDir, name+".service") }

// File modes of the security defaults (CIS Kubernetes Benchmark).
const (
	ModePrivate    = 0o600 // keys, kubeconfigs, unit files, encryption config
	ModePublic     = 0o644 // certificates, component configs
	ModePrivateDir = 0o700 // pki dirs, etcd data dir
	ModeDir        = 0o755
	ModeBinary     = 0o755 // executables k8s-single installs
)

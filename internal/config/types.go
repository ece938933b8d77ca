// Package config owns the k8s-single configuration document: its schema, its
// defaults, host auto-detection of the node's name and address, and validation
// that names the field, the bad value and what would be valid. It must not touch
// the host beyond reading the node's identity; rendering lives elsewhere.
package config

// APIVersion and Kind identify a k8s-single Cluster document.
const (
	APIVersion = "k8s-single.dev/v1alpha1"
	Kind       = "Cluster"
)

// The values of runtime.images.
const (
	// ImagesAuto pulls an image its registry serves, else builds it from
	// source when k8s-single knows how (the default: it works offline).
	ImagesAuto = "auto"
	// ImagesPull takes images from their registries only.
	ImagesPull = "pull"
	// ImagesBundle takes images from runtime.imageBundle only.
	ImagesBundle = "bundle"
)

// Cluster is the whole install: one document describes one single-node cluster.
type Cluster struct {
	APIVersion        string       `yaml:"apiVersion" json:"apiVersion"`
	Kind              string       `yaml:"kind" json:"kind"`
	KubernetesVersion string       `yaml:"kubernetesVersion" json:"kubernetesVersion"`
	EtcdVersion       string       `yaml:"etcdVersion" json:"etcdVersion"`
	Node              Node         `yaml:"node" json:"node"`
	Network           Network      `yaml:"network" json:"network"`
	Etcd              Etcd         `yaml:"etcd" json:"etcd"`
	APIServer         APIServer    `yaml:"apiServer" json:"apiServer"`
	Certificates      Certificates `yaml:"certificates" json:"certificates"`
	Binaries          Binaries     `yaml:"binaries" json:"binaries"`
	Runtime           Runtime      `yaml:"runtime" json:"runtime"`
	Dashboard         Dashboard    `yaml:"dashboard" json:"dashboard"`
	Backup            Backup       `yaml:"backup" json:"backup"`
}

// Node is the machine's identity in the cluster.
type Node struct {
	// Name is the Node object's name; default: the host name, lower-cased.
	Name string `yaml:"name" json:"name"`
	// Address is the IP the apiserver advertises and etcd listens on besides
	// loopback; default: the address of the interface holding the default route.
	Address string `yaml:"address" json:"address"`
}

// Network holds the cluster's address ranges and DNS.
type Network struct {
	PodCIDR     string `yaml:"podCIDR" json:"podCIDR"`
	ServiceCIDR string `yaml:"serviceCIDR" json:"serviceCIDR"`
	// ClusterDNS is the CoreDNS Service IP; default: the 10th address of ServiceCIDR.
	ClusterDNS string `yaml:"clusterDNS" json:"clusterDNS"`
	DNSDomain  string `yaml:"dnsDomain" json:"dnsDomain"`
	// ProxyMode is kube-proxy's mode: iptables or nftables (IPVS is not offered).
	ProxyMode string `yaml:"proxyMode" json:"proxyMode"`
}

// Etcd configures the single etcd member.
type Etcd struct {
	DataDir    string `yaml:"dataDir" json:"dataDir"`
	ClientPort int    `yaml:"clientPort" json:"clientPort"`
	PeerPort   int    `yaml:"peerPort" json:"peerPort"`
}

// APIServer configures kube-apiserver.
type APIServer struct {
	Port int `yaml:"port" json:"port"`
	// ExtraSANs are added to the serving certificate: IPs or DNS names.
	ExtraSANs []string `yaml:"extraSANs" json:"extraSANs"`
	// EncryptionProvider encrypts Secrets at rest: aescbc or secretbox.
	EncryptionProvider string `yaml:"encryptionProvider" json:"encryptionProvider"`
}

// Certificates sets the PKI's key algorithm and lifetimes.
type Certificates struct {
	// KeyAlgorithm is ecdsa-p256, rsa-2048 or rsa-4096.
	KeyAlgorithm string   `yaml:"keyAlgorithm" json:"keyAlgorithm"`
	CAValidity   Duration `yaml:"caValidity" json:"caValidity"`
	Validity     Duration `yaml:"validity" json:"validity"`
}

// Binaries says where the 8 binaries come from and where they go.
type Binaries struct {
	// Source is build (from source with the Go toolchain), dir or download.
	Source     string `yaml:"source" json:"source"`
	InstallDir string `yaml:"installDir" json:"installDir"`
	// Dir holds ready-made binaries when Source is dir.
	Dir string `yaml:"dir" json:"dir"`
	// DownloadURL is the base of the release tree when Source is download.
	DownloadURL string `yaml:"downloadURL" json:"downloadURL"`
	// EtcdDownloadURL is the base of etcd's release tree when Source is download.
	EtcdDownloadURL string `yaml:"etcdDownloadURL" json:"etcdDownloadURL"`
	// CacheDir keeps the Go module and build caches and downloads between runs.
	CacheDir string `yaml:"cacheDir" json:"cacheDir"`
}

// Runtime configures containerd, CNI and images.
type Runtime struct {
	// CgroupDriver is auto (systemd when PID 1 is systemd), systemd or cgroupfs.
	CgroupDriver string `yaml:"cgroupDriver" json:"cgroupDriver"`
	SandboxImage string `yaml:"sandboxImage" json:"sandboxImage"`
	// ImageBundle is a directory of OCI/docker tarballs imported instead of pulling.
	ImageBundle string `yaml:"imageBundle" json:"imageBundle"`
	// Images says where an image the cluster needs comes from when the
	// bundle does not bring it: auto (pull it when its registry serves it,
	// else build it from source when k8s-single knows how), pull (from its
	// registry only) or bundle (from runtime.imageBundle only).
	Images string `yaml:"images" json:"images"`
	// Source is where containerd, runc and the CNI plugins come from: build
	// (from source with the Go toolchain, like the binaries), dir (from
	// binaries.dir), or debian (Debian's packages: containerd 1.6, which
	// Kubernetes 1.38 no longer supports). The default follows
	// binaries.source: build, dir, or debian for download.
	Source string `yaml:"source" json:"source"`
	// ContainerdVersion, RuncVersion and CNIPluginsVersion are the releases
	// built (source build) or expected (dir).
	ContainerdVersion string `yaml:"containerdVersion" json:"containerdVersion"`
	RuncVersion       string `yaml:"runcVersion" json:"runcVersion"`
	CNIPluginsVersion string `yaml:"cniPluginsVersion" json:"cniPluginsVersion"`
}

// Dashboard selects the web UI.
type Dashboard struct {
	// Kind is headlamp, kubernetes-dashboard or none.
	Kind string `yaml:"kind" json:"kind"`
	// Image overrides the dashboard image reference.
	Image string `yaml:"image" json:"image"`
	// AdminClusterRole is bound to the dashboard-admin ServiceAccount.
	AdminClusterRole string `yaml:"adminClusterRole" json:"adminClusterRole"`
}

// Backup schedules backups (`k8s-single backup`) with a systemd timer.
type Backup struct {
	// Schedule is a systemd calendar expression (daily, hourly,
	// "*-*-* 03:00"); empty means no scheduled backups.
	Schedule string `yaml:"schedule" json:"schedule"`
	// Keep is how many archives the scheduled backups keep in Dir.
	Keep int `yaml:"keep" json:"keep"`
	// Dir is where the scheduled archives go.
	Dir string `yaml:"dir" json:"dir"`
}

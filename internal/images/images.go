// Package images owns the container images a k8s-single cluster runs besides
// its host binaries: the pod sandbox (pause), CoreDNS and metrics-server. It
// knows which image references a config needs (Required), builds each one from
// source with the Go toolchain into a static binary on an empty base and
// writes the images as docker-archive tarballs into a bundle directory (Build),
// and imports a bundle into containerd with ctr (Import).
//
// It must not pull from a registry (none is reachable on these machines), write
// Kubernetes manifests (the addons own how the images run: users, capabilities,
// arguments) or configure containerd (the runtime phase does). Each image keeps
// its upstream reference, so manifests written for upstream images need no change.
package images

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
)

// The versions built from the Go module proxy. CoreDNS v1.14.x is the line
// kubeadm v1.37 deploys (it pins v1.14.6); v1.14.7 is its latest patch.
const (
	CoreDNSVersion       = "v1.14.7"
	MetricsServerVersion = "v0.8.0"
)

// The images' names: each is also the bundle's file name without ".tar".
const (
	Pause         = "pause"
	CoreDNS       = "coredns"
	MetricsServer = "metrics-server"
	Agent         = "agent"
)

// Image is one image of the bundle and the recipe that builds it: a wrapper Go
// module under <cacheDir>/work/<Name>-<Version> whose go build makes one static
// binary, which becomes the image's only file.
type Image struct {
	// Name is pause, coredns or metrics-server.
	Name string `json:"name"`
	// Ref is the upstream reference the image is tagged with, so manifests and
	// runtime.sandboxImage name it unchanged.
	Ref string `json:"ref"`
	// Module is the Go module the wrapper requires, empty for pause, whose
	// source is embedded in k8s-single.
	Module string `json:"module,omitempty"`
	// Version is Module's version, or for pause a digest of its source.
	Version string `json:"version"`
	// Package is go build's target inside the wrapper module.
	Package string `json:"package"`
	// LDFlags is go build's -ldflags value.
	LDFlags string `json:"ldflags"`
	// Binary is the executable's absolute path in the image and its entrypoint.
	Binary string `json:"binary"`
	// User is the image config's user; empty runs it as root unless the pod's
	// securityContext says otherwise.
	User string `json:"user,omitempty"`
	// main is the wrapper's main.go, nil when Package lives in Module.
	main []byte
}

// Source names what the binary is built from, for progress lines and lists.
func (i Image) Source() string {
	if i.Module == "" {
		return "k8s-single " + i.Name + " " + i.Version
	}
	return i.Module + "@" + i.Version
}

// File is the image's tarball name in a bundle directory.
func (i Image) File() string { return i.Name + ".tar" }

// List is a list of images for the printer: the simple form is one
// reference a line.
type List []Image

// Table lists each image's name, reference, source and user.
func (l List) Table() ([]string, [][]string) {
	rows := make([][]string, 0, len(l))
	for _, i := range l {
		rows = append(rows, []string{i.Name, i.Ref, i.Source(), i.User})
	}
	return []string{"name", "ref", "source", "user"}, rows
}

// Lines lists the references.
func (l List) Lines() []string {
	refs := make([]string, 0, len(l))
	for _, i := range l {
		refs = append(refs, i.Ref)
	}
	return refs
}

// Required returns the images a cluster with config c runs, in the order they
// are needed: the sandbox image (runtime.sandboxImage), CoreDNS,
// metrics-server and the verify phase's agent.
func Required(c *config.Cluster) []Image {
	return []Image{pauseImage(c.Runtime.SandboxImage), coreDNSImage(), metricsServerImage(), AgentImage()}
}

// pauseImage is the pod sandbox built from the embedded pause source; it runs
// as 65535:65535 like upstream's.
func pauseImage(ref string) Image {
	return embeddedImage(Pause, ref, pauseSource, "65535:65535")
}

// AgentImage is the verify phase's workload, built from the embedded agent
// source. Its reference is k8s-single's own (not an upstream name), tagged
// with a digest of its source so a changed agent gets a new tag.
func AgentImage() Image {
	img := embeddedImage(Agent, "", agentSource, "65534")
	img.Ref = OwnRegistry + "/agent:" + img.Version
	return img
}

// OwnRegistry is the registry name of k8s-single's own images, which no
// registry serves: they come from a bundle or are built.
const OwnRegistry = "k8s-single.local"

// Own reports whether the image is k8s-single's own (no registry serves it).
func (i Image) Own() bool { return strings.HasPrefix(i.Ref, OwnRegistry+"/") }

// Buildable reports whether k8s-single has a recipe for the image.
func (i Image) Buildable() bool { return i.Package != "" }

// External is an image k8s-single cannot build (the dashboard's): it is
// pulled or comes from the bundle. Its name is the repository's last element.
func External(ref string) Image {
	repo, _, _ := strings.Cut(ref, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return Image{Name: path.Base(repo), Ref: ref}
}

// embeddedImage is an image whose only binary is built from a single-file
// main package embedded in k8s-single.
func embeddedImage(name, ref string, source []byte, user string) Image {
	sum := sha256.Sum256(source)
	return Image{
		Name:    name,
		Ref:     ref,
		Version: "src-" + hex.EncodeToString(sum[:6]),
		Package: ".",
		LDFlags: "-s -w",
		Binary:  "/" + name,
		User:    user,
		main:    source,
	}
}

// coreDNSMain is CoreDNS's own coredns.go main with the default plugin set.
const coreDNSMain = `// Command coredns is CoreDNS's own main with its default plugin set.
package main

import (
	_ "github.com/coredns/coredns/core/plugin" // the default plugin set
	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
`

// coreDNSImage sets no user: CoreDNS binds :53, which needs root or
// NET_BIND_SERVICE, and the Deployment decides (kubeadm's adds
// NET_BIND_SERVICE and drops every other capability). Upstream's image runs
// as 65532 with a file capability on /coredns instead; a manifest that sets a
// non-root runAsUser must move CoreDNS above port 1023 or set the pod sysctl
// net.ipv4.ip_unprivileged_port_start.
func coreDNSImage() Image {
	return Image{
		Name:    CoreDNS,
		Ref:     "registry.k8s.io/coredns/coredns:" + CoreDNSVersion,
		Module:  "github.com/coredns/coredns",
		Version: CoreDNSVersion,
		Package: ".",
		LDFlags: "-s -w",
		Binary:  "/coredns",
		main:    []byte(coreDNSMain),
	}
}

// metricsServerImage builds metrics-server's own cmd and stamps the version
// its Makefile stamps; it runs as 65534 like upstream's.
func metricsServerImage() Image {
	return Image{
		Name:    MetricsServer,
		Ref:     "registry.k8s.io/metrics-server/metrics-server:" + MetricsServerVersion,
		Module:  "sigs.k8s.io/metrics-server",
		Version: MetricsServerVersion,
		Package: "sigs.k8s.io/metrics-server/cmd/metrics-server",
		LDFlags: "-s -w -X k8s.io/client-go/pkg/version.gitVersion=" + MetricsServerVersion,
		Binary:  "/metrics-server",
		User:    "65534",
	}
}

package runtime

import (
	"bytes"
	"fmt"

	toml "github.com/pelletier/go-toml"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/config"
)

// containerdFile is /etc/containerd/config.toml in containerd 1.6's version 2
// schema: Debian's shipped file (CNI from /usr/lib/cni, the opt plugin's
// path) plus what the kubelet and these machines need. Keys containerd knows
// but we leave unset keep containerd's defaults.
type containerdFile struct {
	Version int               `toml:"version"`
	Plugins containerdPlugins `toml:"plugins"`
}

type containerdPlugins struct {
	CRI criPlugin `toml:"io.containerd.grpc.v1.cri"`
	Opt optPlugin `toml:"io.containerd.internal.v1.opt"`
}

type criPlugin struct {
	SandboxImage                     string        `toml:"sandbox_image" comment:"The pause image that holds each pod's namespaces."`
	RestrictOOMScoreAdj              bool          `toml:"restrict_oom_score_adj" comment:"true when k8s-single ran without CAP_SYS_RESOURCE (in a container): no oom_score_adj\n below containerd's own can be set then, so containerd raises it to its own."`
	DisableAppArmor                  bool          `toml:"disable_apparmor" comment:"true when the kernel does not enforce AppArmor or apparmor_parser is missing."`
	TolerateMissingHugetlbController bool          `toml:"tolerate_missing_hugetlb_controller" comment:"Pods start where the hugetlb cgroup controller is missing (containers, some kernels)."`
	Containerd                       criContainerd `toml:"containerd"`
	CNI                              criCNI        `toml:"cni"`
}

type criContainerd struct {
	Snapshotter        string                    `toml:"snapshotter,omitempty"`
	DefaultRuntimeName string                    `toml:"default_runtime_name"`
	Runtimes           map[string]runtimeHandler `toml:"runtimes"`
}

type runtimeHandler struct {
	RuntimeType string      `toml:"runtime_type"`
	Options     runcOptions `toml:"options"`
}

type runcOptions struct {
	// BinaryName is runc's path; empty means runc from containerd's PATH.
	BinaryName    string `toml:"BinaryName,omitempty"`
	SystemdCgroup bool   `toml:"SystemdCgroup" comment:"Must match the kubelet's cgroupDriver (true for systemd)."`
}

type criCNI struct {
	BinDir  string `toml:"bin_dir"`
	ConfDir string `toml:"conf_dir"`
}

type optPlugin struct {
	Path string `toml:"path"`
}

// containerdFileV3 is /etc/containerd/config.toml in containerd 2's version
// 3 schema (version 4 from containerd v2.3 has the same keys for what is set
// here), for the containerd k8s-single installs (runtime.source build or
// dir): the CRI's image and runtime plugins, runc and the CNI plugins from
// their install paths.
type containerdFileV3 struct {
	Version int                 `toml:"version"`
	Plugins containerdPluginsV3 `toml:"plugins"`
}

type containerdPluginsV3 struct {
	Images  criImagesV3  `toml:"io.containerd.cri.v1.images"`
	Runtime criRuntimeV3 `toml:"io.containerd.cri.v1.runtime"`
}

type criImagesV3 struct {
	Snapshotter  string       `toml:"snapshotter"`
	PinnedImages pinnedImages `toml:"pinned_images"`
}

type pinnedImages struct {
	Sandbox string `toml:"sandbox" comment:"The pause image that holds each pod's namespaces."`
}

type criRuntimeV3 struct {
	RestrictOOMScoreAdj              bool          `toml:"restrict_oom_score_adj" comment:"true when k8s-single ran without CAP_SYS_RESOURCE (in a container): no oom_score_adj\n below containerd's own can be set then, so containerd raises it to its own."`
	DisableAppArmor                  bool          `toml:"disable_apparmor" comment:"true when the kernel does not enforce AppArmor or apparmor_parser is missing."`
	TolerateMissingHugetlbController bool          `toml:"tolerate_missing_hugetlb_controller" comment:"Pods start where the hugetlb cgroup controller is missing (containers, some kernels)."`
	Containerd                       criContainerd `toml:"containerd"`
	CNI                              criCNIV3      `toml:"cni"`
}

type criCNIV3 struct {
	BinDirs []string `toml:"bin_dirs"`
	ConfDir string   `toml:"conf_dir"`
}

// ContainerdConfigHeader starts the containerd config k8s-single writes; a
// config.toml without it is someone else's.
const ContainerdConfigHeader = "# Written by k8s-single"

// IsOurContainerdConfig reports whether a config.toml's bytes are k8s-single's.
func IsOurContainerdConfig(data []byte) bool {
	return bytes.HasPrefix(data, []byte(ContainerdConfigHeader))
}

// containerdConfig renders containerd's config for the cluster and host:
// Debian's containerd 1.6 reads version 2, k8s-single's containerd 2 version 3.
func containerdConfig(c *config.Cluster, h Host) ([]byte, error) {
	if h.CgroupDriver != "systemd" && h.CgroupDriver != "cgroupfs" {
		return nil, fmt.Errorf("render %s: cgroup driver %q is not resolved; want systemd or cgroupfs", ContainerdConfig, h.CgroupDriver)
	}
	runtimes := func(runc string) criContainerd {
		return criContainerd{
			Snapshotter:        "overlayfs",
			DefaultRuntimeName: "runc",
			Runtimes: map[string]runtimeHandler{"runc": {
				RuntimeType: "io.containerd.runc.v2",
				Options:     runcOptions{BinaryName: runc, SystemdCgroup: h.CgroupDriver == "systemd"},
			}},
		}
	}
	var f any
	if FromDebian(c) {
		f = containerdFile{
			Version: 2,
			Plugins: containerdPlugins{
				CRI: criPlugin{
					SandboxImage:                     c.Runtime.SandboxImage,
					RestrictOOMScoreAdj:              !h.CapSysResource,
					DisableAppArmor:                  !h.AppArmor,
					TolerateMissingHugetlbController: true,
					Containerd:                       runtimes(""),
					CNI:                              criCNI{BinDir: CNIBinDir(c), ConfDir: CNIConfDir},
				},
				Opt: optPlugin{Path: "/var/lib/containerd/opt"},
			},
		}
	} else {
		rt := runtimes(binaries.RuntimeDest(c, "runc"))
		rt.Snapshotter = "" // the images plugin's in version 3
		f = containerdFileV3{
			Version: schemaVersion(c.Runtime.ContainerdVersion),
			Plugins: containerdPluginsV3{
				Images: criImagesV3{Snapshotter: "overlayfs", PinnedImages: pinnedImages{Sandbox: c.Runtime.SandboxImage}},
				Runtime: criRuntimeV3{
					RestrictOOMScoreAdj:              !h.CapSysResource,
					DisableAppArmor:                  !h.AppArmor,
					TolerateMissingHugetlbController: true,
					Containerd:                       rt,
					CNI:                              criCNIV3{BinDirs: []string{CNIBinDir(c)}, ConfDir: CNIConfDir},
				},
			},
		}
	}
	var buf bytes.Buffer
	buf.WriteString(ContainerdConfigHeader + "; it is rewritten on the next run of the runtime phase.\n\n")
	if err := toml.NewEncoder(&buf).Order(toml.OrderPreserve).Encode(f); err != nil {
		return nil, fmt.Errorf("render %s: %w", ContainerdConfig, err)
	}
	return buf.Bytes(), nil
}

// schemaVersion is the newest config version a containerd 2 release reads
// (its RELEASES.md): 4 from v2.3.0, else 3. An older version is migrated at
// every start, with a warning.
func schemaVersion(containerdVersion string) int {
	var major, minor int
	if _, err := fmt.Sscanf(containerdVersion, "v%d.%d", &major, &minor); err == nil && major == 2 && minor >= 3 {
		return 4
	}
	return 3
}

package runtime

import (
	"bytes"
	"fmt"

	toml "github.com/pelletier/go-toml"

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
	Snapshotter        string                    `toml:"snapshotter"`
	DefaultRuntimeName string                    `toml:"default_runtime_name"`
	Runtimes           map[string]runtimeHandler `toml:"runtimes"`
}

type runtimeHandler struct {
	RuntimeType string      `toml:"runtime_type"`
	Options     runcOptions `toml:"options"`
}

type runcOptions struct {
	SystemdCgroup bool `toml:"SystemdCgroup" comment:"Must match the kubelet's cgroupDriver (true for systemd)."`
}

type criCNI struct {
	BinDir  string `toml:"bin_dir"`
	ConfDir string `toml:"conf_dir"`
}

type optPlugin struct {
	Path string `toml:"path"`
}

// ContainerdConfigHeader starts the containerd config k8s-single writes; a
// config.toml without it is someone else's.
const ContainerdConfigHeader = "# Written by k8s-single"

// IsOurContainerdConfig reports whether a config.toml's bytes are k8s-single's.
func IsOurContainerdConfig(data []byte) bool {
	return bytes.HasPrefix(data, []byte(ContainerdConfigHeader))
}

// containerdConfig renders containerd's config for the cluster and host.
func containerdConfig(c *config.Cluster, h Host) ([]byte, error) {
	if h.CgroupDriver != "systemd" && h.CgroupDriver != "cgroupfs" {
		return nil, fmt.Errorf("render %s: cgroup driver %q is not resolved; want systemd or cgroupfs", ContainerdConfig, h.CgroupDriver)
	}
	f := containerdFile{
		Version: 2,
		Plugins: containerdPlugins{
			CRI: criPlugin{
				SandboxImage:                     c.Runtime.SandboxImage,
				RestrictOOMScoreAdj:              !h.CapSysResource,
				DisableAppArmor:                  !h.AppArmor,
				TolerateMissingHugetlbController: true,
				Containerd: criContainerd{
					Snapshotter:        "overlayfs",
					DefaultRuntimeName: "runc",
					Runtimes: map[string]runtimeHandler{"runc": {
						RuntimeType: "io.containerd.runc.v2",
						Options:     runcOptions{SystemdCgroup: h.CgroupDriver == "systemd"},
					}},
				},
				CNI: criCNI{BinDir: CNIBinDir, ConfDir: CNIConfDir},
			},
			Opt: optPlugin{Path: "/var/lib/containerd/opt"},
		},
	}
	var buf bytes.Buffer
	buf.WriteString(ContainerdConfigHeader + "; it is rewritten on the next run of the runtime phase.\n\n")
	if err := toml.NewEncoder(&buf).Order(toml.OrderPreserve).Encode(f); err != nil {
		return nil, fmt.Errorf("render %s: %w", ContainerdConfig, err)
	}
	return buf.Bytes(), nil
}

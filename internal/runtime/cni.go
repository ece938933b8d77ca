package runtime

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
)

// CNINetwork names the pod network; host-local keeps its leases in
// /var/lib/cni/networks/<name>.
const CNINetwork = "k8s-single"

// cniVersion is the conflist's spec version: 0.4.0 is what containerd 1.6
// with Debian's plugins 1.1.1 ran pods with on these machines.
const cniVersion = "0.4.0"

type conflist struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

type bridgePlugin struct {
	Type        string `json:"type"`
	Bridge      string `json:"bridge"`
	IsGateway   bool   `json:"isGateway"`
	IPMasq      bool   `json:"ipMasq"`
	HairpinMode bool   `json:"hairpinMode"`
	IPAM        ipam   `json:"ipam"`
}

type ipam struct {
	Type   string      `json:"type"`
	Ranges [][]ipRange `json:"ranges"`
	Routes []route     `json:"routes"`
}

type ipRange struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

type route struct {
	Dst string `json:"dst"`
}

type portmapPlugin struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
}

// cniConflist renders the pod network: a cni0 bridge that is the pods'
// gateway, masquerades their traffic leaving the pod range and lets a pod
// reach itself through a Service (hairpin), with host-local addresses from
// the whole cluster pod CIDR, and portmap for hostPort. On one node the whole
// range is the node's: no Node object (and so no allocated per-node /24) is
// needed before the kubelet starts. containerd adds loopback itself.
func cniConflist(podCIDR string) ([]byte, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil {
		return nil, fmt.Errorf("render %s: pod CIDR %q: %w", CNIConflist, podCIDR, err)
	}
	p = p.Masked()
	defaultRoute := "0.0.0.0/0"
	if p.Addr().Is6() {
		defaultRoute = "::/0"
	}
	data, err := json.MarshalIndent(conflist{
		CNIVersion: cniVersion,
		Name:       CNINetwork,
		Plugins: []any{
			bridgePlugin{
				Type: "bridge", Bridge: "cni0", IsGateway: true, IPMasq: true, HairpinMode: true,
				IPAM: ipam{
					Type:   "host-local",
					Ranges: [][]ipRange{{{Subnet: p.String(), Gateway: p.Addr().Next().String()}}},
					Routes: []route{{Dst: defaultRoute}},
				},
			},
			portmapPlugin{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", CNIConflist, err)
	}
	return append(data, '\n'), nil
}

// cniExtensions are the file names libcni loads from a conf dir.
var cniExtensions = []string{".conf", ".conflist", ".json"}

// ShadowingCNIConfigs lists the CNI configs in confDir (a path on this
// machine) that sort before ours: containerd uses only the first by name, so
// any of them would replace the k8s-single network. They are reported, never
// touched.
func ShadowingCNIConfigs(confDir string) ([]string, error) {
	entries, err := os.ReadDir(confDir)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", confDir, err)
	}
	ours := filepath.Base(CNIConflist)
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && name < ours && slices.Contains(cniExtensions, filepath.Ext(name)) {
			out = append(out, name)
		}
	}
	return out, nil
}

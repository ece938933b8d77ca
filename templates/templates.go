// Package templates embeds the manifests k8s-single applies, as Go
// text/templates over the cluster config (kubeadm renders its CoreDNS addon
// the same way). The packages that apply them own the parameters; this one
// only carries the files.
package templates

import "embed"

// Addons holds addons/*.yaml.
//
//go:embed addons/*.yaml
var Addons embed.FS

// Package addons renders the cluster add-ons k8s-single installs (CoreDNS and
// metrics-server) from the embedded templates, with the config's DNS IP and
// domain and the images of the offline bundle. It renders and decodes; the
// addons phase applies and waits.
package addons

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/templates"
)

// Addon is one rendered add-on.
type Addon struct {
	// Name is the template's name: coredns, metrics-server.
	Name string
	// Deployment is the Deployment in kube-system whose rollout proves it.
	Deployment string
	// Manifest is the rendered multi-document YAML.
	Manifest []byte
}

// params are what the templates read.
type params struct {
	Image      string
	ClusterDNS string
	DNSDomain  string
}

// Render returns CoreDNS and metrics-server for the config, in apply order.
func Render(c *config.Cluster) ([]Addon, error) {
	refs := map[string]string{}
	for _, img := range images.Required(c) {
		refs[img.Name] = img.Ref
	}
	var out []Addon
	for _, a := range []struct{ name, image, deployment string }{
		{"coredns", refs[images.CoreDNS], "coredns"},
		{"metrics-server", refs[images.MetricsServer], "metrics-server"},
	} {
		tmpl, err := template.New(a.name+".yaml").Option("missingkey=error").ParseFS(templates.Addons, "addons/"+a.name+".yaml")
		if err != nil {
			return nil, fmt.Errorf("addon %s: parse template: %w", a.name, err)
		}
		var b bytes.Buffer
		if err := tmpl.Execute(&b, params{Image: a.image, ClusterDNS: c.Network.ClusterDNS, DNSDomain: c.Network.DNSDomain}); err != nil {
			return nil, fmt.Errorf("addon %s: render: %w", a.name, err)
		}
		out = append(out, Addon{Name: a.name, Deployment: a.deployment, Manifest: b.Bytes()})
	}
	return out, nil
}

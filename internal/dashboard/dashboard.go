// Package dashboard owns the cluster's web UI: the Kubernetes objects of
// Headlamp (the default; the Kubernetes Dashboard project was archived in
// January 2026) or of the legacy Kubernetes Dashboard v2.7.0, built in Go from
// k8s.io/api types; the dashboard-admin login identity and its tokens
// (TokenRequest, or a long-lived Secret only on request); the names of the
// UI's serving certificate (package certs issues it from the cluster CA); the
// URL users open; and removing what an earlier install deployed.
//
// Every UI terminates TLS itself with that certificate and is exposed only
// through a NodePort Service over HTTPS; none is ever started with a skip-login
// or a default token, so the UI can do nothing until a user logs in with a token.
//
// It must not write host files (the dashboard phase issues the certificate
// and writes the manifest), sign certificates itself, start units, or apply
// objects itself (the phase applies them with kube.Applier).
package dashboard

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// The dashboard kinds of dashboard.kind.
const (
	Headlamp            = "headlamp"
	KubernetesDashboard = "kubernetes-dashboard"
	None                = "none"
)

// The upstream images. Headlamp v0.45.0 is its current release; v2.7.0 is
// the Kubernetes Dashboard's last single-manifest release and v1.0.8 the
// metrics scraper it shipped with.
const (
	HeadlampImage            = "ghcr.io/headlamp-k8s/headlamp:v0.45.0"
	KubernetesDashboardImage = "docker.io/kubernetesui/dashboard:v2.7.0"
	MetricsScraperImage      = "docker.io/kubernetesui/metrics-scraper:v1.0.8"
)

// Names shared by every kind.
const (
	// AdminServiceAccount is the login identity users mint tokens for.
	AdminServiceAccount = "dashboard-admin"
	// TLSSecret holds the serving certificate in the UI's namespace.
	TLSSecret = "dashboard-tls"
	// NodePort is where the UI answers HTTPS on the node's addresses; fixed,
	// so the URL survives a re-install.
	NodePort = 30443
)

// UI is one dashboard kind as deployed: where it runs and what proves it works.
type UI struct {
	Kind      string
	Namespace string
	// Service is the NodePort Service in front of the UI.
	Service string
	// Deployments must all roll out for the UI to work.
	Deployments []string
	// Image is the UI container's default image (dashboard.image overrides it).
	Image string
	// objects are the kind's own objects, without the namespace, the TLS
	// Secret and the admin login, which every kind shares.
	objects func(ui UI, p Params) []runtime.Object
}

// UIs are the kinds that deploy something, in the order of dashboard.kind's values.
func UIs() []UI {
	return []UI{
		{Kind: Headlamp, Namespace: "headlamp", Service: "headlamp",
			Deployments: []string{"headlamp"}, Image: HeadlampImage, objects: headlampObjects},
		{Kind: KubernetesDashboard, Namespace: "kubernetes-dashboard", Service: "kubernetes-dashboard",
			Deployments: []string{"kubernetes-dashboard", "dashboard-metrics-scraper"}, Image: KubernetesDashboardImage,
			objects: kubernetesDashboardObjects},
	}
}

// Of returns the UI of a dashboard kind; ok is false for none.
func Of(kind string) (ui UI, ok bool, err error) {
	if kind == None {
		return UI{}, false, nil
	}
	var kinds []string
	for _, ui := range UIs() {
		if ui.Kind == kind {
			return ui, true, nil
		}
		kinds = append(kinds, ui.Kind)
	}
	return UI{}, false, fmt.Errorf("unknown dashboard kind %q; set dashboard.kind to %s or %s", kind, strings.Join(kinds, ", "), None)
}

// URL is where a browser reaches the UI: its NodePort on the node's address.
func URL(address string, nodePort int32) string {
	return "https://" + net.JoinHostPort(address, strconv.Itoa(int(nodePort))) + "/"
}

// Package addons renders the cluster add-ons k8s-single installs (CoreDNS and
// metrics-server) from the embedded templates, with the config's DNS IP and
// domain, the images of the offline bundle, and metrics-server's TLS: the
// names of its serving certificate, the Secret that carries it, and the
// cluster CA as its APIService's caBundle, so the kube-apiserver verifies
// whom it proxies metrics.k8s.io to. It renders and decodes; the addons phase
// issues the certificate, applies and waits.
//
// It must not sign certificates (package certs does), write host files, or put
// a private key into a rendered manifest: the TLS Secret is a separate object
// that is applied but never written to disk.
package addons

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"text/template"

	"github.com/cloudflare/cfssl/helpers"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/templates"
)

// metrics-server's names in kube-system.
const (
	// MetricsServer is its Deployment, Service and template name.
	MetricsServer = "metrics-server"
	// MetricsServerAPIService registers it with the aggregation layer.
	MetricsServerAPIService = "v1beta1.metrics.k8s.io"
	// MetricsServerTLSSecret is the kubernetes.io/tls Secret it serves with.
	MetricsServerTLSSecret = "metrics-server-tls"
	// Namespace is where every add-on runs.
	Namespace = "kube-system"
)

// certAnnotation marks metrics-server's pods with the digest of the serving
// certificate they load, so a new certificate rolls them (as the dashboard's).
const certAnnotation = "k8s-single.dev/serving-cert-sha256"

// Addon is one rendered add-on.
type Addon struct {
	// Name is the template's name: coredns, metrics-server.
	Name string
	// Deployment is the Deployment in kube-system whose rollout proves it.
	Deployment string
	// Manifest is the rendered multi-document YAML, kept on disk for users to
	// read: it never holds a private key.
	Manifest []byte
	// Secret is applied before the manifest's objects and never written to
	// disk: metrics-server's TLS Secret, when TLS.Key is set.
	Secret *unstructured.Unstructured
}

// Objects are what the addons phase applies, in order: the Secret (if any),
// then the manifest's objects.
func (a Addon) Objects() ([]*unstructured.Unstructured, error) {
	objs, err := kube.Decode(a.Manifest)
	if err != nil {
		return nil, fmt.Errorf("addon %s: %w", a.Name, err)
	}
	if a.Secret != nil {
		objs = append([]*unstructured.Unstructured{a.Secret}, objs...)
	}
	return objs, nil
}

// TLS is what metrics-server serves with and what the kube-apiserver verifies
// it against.
type TLS struct {
	// CA is the cluster CA (PEM), the APIService's caBundle. Required: an
	// APIService is never rendered without one.
	CA []byte
	// Cert is metrics-server's serving certificate (PEM); its digest annotates
	// the pod template. Without it (the phase's inputs, before the certificate
	// is issued) the annotation is left out.
	Cert []byte
	// Key is the serving key (PEM). With it and Cert, Render adds the TLS
	// Secret to metrics-server's Addon.
	Key []byte
}

// MetricsServerCert is the spec of metrics-server's serving certificate: the
// DNS names of its Service. The kube-apiserver's aggregator dials the
// APIService's Service and verifies the name metrics-server.kube-system.svc
// against the caBundle; the others serve clients inside the cluster. No IP:
// the ClusterIP is allocated by the apiserver and never dialled by name.
func MetricsServerCert(c *config.Cluster) certs.Spec {
	svc := MetricsServer + "." + Namespace
	dns := []string{MetricsServer, svc, svc + ".svc"}
	if c.Network.DNSDomain != "" {
		dns = append(dns, svc+".svc."+c.Network.DNSDomain)
	}
	return certs.ServingSpec(certs.MetricsServer, MetricsServer, dns, nil)
}

// params are what the templates read.
type params struct {
	Image      string
	ClusterDNS string
	DNSDomain  string
	// CABundle is the base64 of the cluster CA's PEM, as the APIService's
	// caBundle field carries it.
	CABundle string
	// CertSHA256 is the hex digest of metrics-server's serving certificate,
	// or "" when none is given.
	CertSHA256 string
	TLSSecret  string
}

// list is the add-ons in apply order.
var list = []struct{ name, image, deployment string }{
	{"coredns", images.CoreDNS, "coredns"},
	{MetricsServer, images.MetricsServer, MetricsServer},
}

// Deployments are the Deployments in kube-system whose rollouts prove the
// add-ons, in apply order.
func Deployments() []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.deployment
	}
	return out
}

// Render returns CoreDNS and metrics-server for the config, in apply order,
// metrics-server with the TLS of tls.
func Render(c *config.Cluster, tls TLS) ([]Addon, error) {
	p, err := tlsParams(tls)
	if err != nil {
		return nil, err
	}
	p.ClusterDNS, p.DNSDomain = c.Network.ClusterDNS, c.Network.DNSDomain
	refs := map[string]string{}
	for _, img := range images.Required(c) {
		refs[img.Name] = img.Ref
	}
	var out []Addon
	for _, a := range list {
		tmpl, err := template.New(a.name+".yaml").Option("missingkey=error").ParseFS(templates.Addons, "addons/"+a.name+".yaml")
		if err != nil {
			return nil, fmt.Errorf("addon %s: parse template: %w", a.name, err)
		}
		p.Image = refs[a.image]
		var b bytes.Buffer
		if err := tmpl.Execute(&b, p); err != nil {
			return nil, fmt.Errorf("addon %s: render: %w", a.name, err)
		}
		addon := Addon{Name: a.name, Deployment: a.deployment, Manifest: b.Bytes()}
		if a.name == MetricsServer && tls.Key != nil {
			if addon.Secret, err = tlsSecret(tls.Cert, tls.Key); err != nil {
				return nil, err
			}
		}
		out = append(out, addon)
	}
	return out, nil
}

// tlsParams checks tls and turns it into the templates' parameters.
func tlsParams(tls TLS) (params, error) {
	if len(tls.CA) == 0 {
		return params{}, fmt.Errorf("addon %s: no cluster CA for the APIService's caBundle; run `k8s-single phase run certs`", MetricsServer)
	}
	if _, err := helpers.ParseCertificatesPEM(tls.CA); err != nil {
		return params{}, fmt.Errorf("addon %s: the cluster CA for the APIService's caBundle: %w", MetricsServer, err)
	}
	if tls.Key != nil && tls.Cert == nil {
		return params{}, errors.New("addon metrics-server: a serving key without its certificate")
	}
	p := params{CABundle: base64.StdEncoding.EncodeToString(tls.CA), TLSSecret: MetricsServerTLSSecret}
	if len(tls.Cert) > 0 {
		sum := sha256.Sum256(tls.Cert)
		p.CertSHA256 = hex.EncodeToString(sum[:])
	}
	return p, nil
}

// tlsSecret is metrics-server's kubernetes.io/tls Secret.
func tlsSecret(cert, key []byte) (*unstructured.Unstructured, error) {
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: MetricsServerTLSSecret, Namespace: Namespace,
			Labels: map[string]string{"k8s-app": MetricsServer, "app.kubernetes.io/managed-by": kube.FieldManager}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key},
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		return nil, fmt.Errorf("addon %s: Secret %s: %w", MetricsServer, MetricsServerTLSSecret, err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

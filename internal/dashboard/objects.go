package dashboard

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Params are what a UI's objects are made from, besides the UI itself.
type Params struct {
	// Image replaces the UI container's image when set (dashboard.image).
	Image string
	// AdminClusterRole is the ClusterRole bound to dashboard-admin.
	AdminClusterRole string
	// Cert is the serving certificate (PEM). Its digest annotates the UI's
	// pod template, so a renewed certificate rolls the pods.
	Cert []byte
	// Key is the serving key (PEM). With it the objects include the TLS
	// Secret; without it (the manifest kept on disk for users to read) they
	// do not, so no key lands in a world-readable file.
	Key []byte
}

// image is the UI container's image.
func (p Params) image(ui UI) string {
	if p.Image != "" {
		return p.Image
	}
	return ui.Image
}

// certAnnotation marks the UI's pods with the serving certificate they load.
const certAnnotation = "k8s-single.dev/serving-cert-sha256"

// podAnnotations are the UI pod template's annotations: the certificate's
// digest, when there is a certificate.
func (p Params) podAnnotations() map[string]string {
	if len(p.Cert) == 0 {
		return nil
	}
	sum := sha256.Sum256(p.Cert)
	return map[string]string{certAnnotation: hex.EncodeToString(sum[:])}
}

// Objects returns the UI's objects in apply order: its namespace, the TLS
// Secret (when p.Key is set), the kind's own objects, then the dashboard-admin
// login.
func (ui UI) Objects(p Params) ([]*unstructured.Unstructured, error) {
	objs := []runtime.Object{namespace(ui.Namespace)}
	if p.Key != nil {
		objs = append(objs, tlsSecret(ui.Namespace, p.Cert, p.Key))
	}
	objs = append(objs, ui.objects(ui, p)...)
	objs = append(objs, adminObjects(ui, p.AdminClusterRole)...)
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		u, err := toUnstructured(o)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", ui.Kind, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// Images lists the container images of the Deployments among objs, each once,
// in order: what the kubelet needs to run the UI.
func Images(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			m, _ := c.(map[string]any)
			if image, _ := m["image"].(string); image != "" && !slices.Contains(out, image) {
				out = append(out, image)
			}
		}
	}
	return out
}

// toUnstructured converts a typed object for server-side apply: with its
// apiVersion and kind from client-go's scheme, and without status, which
// apply does not set.
func toUnstructured(o runtime.Object) (*unstructured.Unstructured, error) {
	gvks, _, err := scheme.Scheme.ObjectKinds(o)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", o, err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", o, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvks[0])
	delete(u.Object, "status")
	return u, nil
}

// manifestHeader opens the manifest kept on disk.
const manifestHeader = `# The dashboard objects k8s-single applies with server-side apply (field
# manager k8s-single); generated, edits here are not read back. The
# dashboard-tls Secret (the serving certificate and its key) is applied too but
# kept out of this file.
`

// Manifest renders objects as one multi-document YAML: the same objects give
// the same bytes (keys sorted, no timestamps).
func Manifest(objs []*unstructured.Unstructured) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(manifestHeader)
	for _, o := range objs {
		doc, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("render %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		b.WriteString("---\n")
		b.Write(doc)
	}
	return b.Bytes(), nil
}

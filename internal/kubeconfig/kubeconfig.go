// Package kubeconfig owns the kubeconfig files under /etc/kubernetes
// (admin.conf, super-admin.conf, controller-manager.conf, scheduler.conf,
// kubelet.conf, kube-proxy.conf): each embeds the cluster CA and one client
// certificate and key from the PKI, and is built with client-go's clientcmd
// types, never from text templates.
//
// It must not create or sign certificates (package certs does, and is the one
// that renews them) and writes a file only when its content or mode changed, so
// an unchanged re-run keeps every byte.
package kubeconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"slices"
	"strconv"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// ClusterName is the cluster entry every kubeconfig names; contexts are
// "<user>@kubernetes", as kubeadm writes them.
const ClusterName = "kubernetes"

// kubeconfigs maps each kubeconfig (kubeadm's name) to the PKI name of the
// client certificate its user presents, in the order Ensure writes them.
var kubeconfigs = []struct{ name, cert string }{
	{"admin", "admin"},
	{"super-admin", "super-admin"},
	{"controller-manager", "controller-manager"},
	{"scheduler", "scheduler"},
	{"kubelet", "kubelet-client"},
	{"kube-proxy", "kube-proxy"},
}

// Names lists the kubeconfigs Ensure writes, by kubeadm name ("admin", ...).
func Names() []string {
	names := make([]string, len(kubeconfigs))
	for i, k := range kubeconfigs {
		names[i] = k.name
	}
	return names
}

// ClientCert returns the PKI name of the client certificate a kubeconfig's
// user presents ("kubelet" → "kubelet-client").
func ClientCert(name string) (string, error) {
	for _, k := range kubeconfigs {
		if k.name == name {
			return k.cert, nil
		}
	}
	return "", fmt.Errorf("unknown kubeconfig %q; valid names: %v", name, Names())
}

// User returns the certificate spec of a kubeconfig's user: its CommonName is
// the user name, its Organization the groups. Only the node name of c shapes
// client certificates, so the host name is left out.
func User(c *config.Cluster, name string) (certs.Spec, error) {
	cert, err := ClientCert(name)
	if err != nil {
		return certs.Spec{}, err
	}
	return certs.Lookup(certs.ParamsFromConfig(c, "", false), cert)
}

// Server is the API server URL every kubeconfig points at: the node address
// and the apiServer port.
func Server(c *config.Cluster) string {
	return "https://" + net.JoinHostPort(c.Node.Address, strconv.Itoa(c.APIServer.Port))
}

// Ensure writes every kubeconfig under root from the PKI's current files and
// returns their host paths. A file whose content and mode already match is
// left untouched.
func Ensure(root host.Root, c *config.Cluster) ([]string, error) {
	caPEM, err := root.ReadFile(layout.Cert("ca"))
	if err != nil {
		return nil, fmt.Errorf("read the cluster CA: %w; run `k8s-single phase run certs` first", err)
	}
	var files []string
	for _, k := range kubeconfigs {
		data, err := render(root, c, k.name, caPEM)
		if err != nil {
			return files, err
		}
		path := layout.Kubeconfig(k.name)
		if err := writeIfChanged(root, path, data); err != nil {
			return files, err
		}
		files = append(files, path)
	}
	return files, nil
}

// render builds one kubeconfig. The user's client cert must carry the identity
// the spec table gives it, or the kubeconfig would name a user it cannot act as.
func render(root host.Root, c *config.Cluster, name string, caPEM []byte) ([]byte, error) {
	user, err := User(c, name)
	if err != nil {
		return nil, err
	}
	kp, err := certs.Load(root, user.Name)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w; run `k8s-single phase run certs` first", name, err)
	}
	if got := kp.Cert.Subject; got.CommonName != user.CommonName || !slices.Equal(got.Organization, user.Organization) {
		return nil, fmt.Errorf("kubeconfig %s: %s is for CN=%q O=%q, want CN=%q O=%q; run `k8s-single phase run certs` to re-sign it",
			name, root.Path(layout.Cert(user.Name)), got.CommonName, got.Organization, user.CommonName, user.Organization)
	}
	contextName := user.CommonName + "@" + ClusterName
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[ClusterName] = &clientcmdapi.Cluster{Server: Server(c), CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user.CommonName] = &clientcmdapi.AuthInfo{ClientCertificateData: kp.CertPEM, ClientKeyData: kp.KeyPEM}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: ClusterName, AuthInfo: user.CommonName}
	cfg.CurrentContext = contextName
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: serialize: %w", name, err)
	}
	return data, nil
}

// writeIfChanged writes data 0600 unless the file already holds exactly data
// with that mode.
func writeIfChanged(root host.Root, path string, data []byte) error {
	digest, mode, err := host.FileDigest(root.Path(path))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("check kubeconfig: %w", err)
	}
	sum := sha256.Sum256(data)
	if err == nil && digest == hex.EncodeToString(sum[:]) && mode == layout.ModePrivate {
		return nil
	}
	return root.WriteFile(path, data, layout.ModePrivate, layout.ModeDir)
}

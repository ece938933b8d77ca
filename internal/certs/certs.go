// Package certs owns the cluster's PKI under /etc/kubernetes/pki: the three CAs
// (ca, front-proxy-ca, etcd/ca), every leaf certificate the components and the
// kubeconfigs present, and the service-account signing key pair (sa.key, sa.pub).
// One table of specs (Specs) drives generation, checking, renewal and the expiry
// report. Keys are made and files parsed with cfssl as a library (csr's key
// requests, helpers); certificates are signed with crypto/x509 exactly as
// cfssl's local signer signed them with initca's CA policy (TestSignMatchesCfssl),
// without linking that signer, whose lint registry (zlint and its public-suffix
// list) cost every command ~10 ms at start-up. It also issues the in-cluster
// serving certificates (EnsureServing: the dashboard's, metrics-server's) from
// the cluster CA on the same signing path, for the phases that deploy those
// workloads; they are reported and renewed with the rest.
//
// It must not shell out to cfssl or openssl, must not regenerate a CA whose key
// exists, must not silently replace a CA or service-account key that is half
// present, and must write only through host.Root (atomic writes). Kubeconfigs are
// built from these files by package kubeconfig.
package certs

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/csr"

	"github.com/k8s-single/k8s-single/internal/config"
)

// Params are the inputs of the PKI: the node's identity, the names the API
// server answers to, and the key and validity policy.
type Params struct {
	NodeName    string
	NodeAddress string
	// Hostname is the machine's host name; it is added to the serving certs'
	// SANs (when it differs from NodeName) and may be empty.
	Hostname  string
	ServiceIP string
	DNSDomain string
	// ExtraSANs are IPs or DNS names added to the apiserver serving cert.
	ExtraSANs []string
	// IPv6 adds ::1 to the loopback SANs.
	IPv6 bool
	// KeyAlgorithm is ecdsa-p256 (the default when empty), rsa-2048 or rsa-4096.
	KeyAlgorithm string
	CAValidity   time.Duration
	Validity     time.Duration
}

// ParamsFromConfig takes the PKI's inputs from a defaulted Cluster; hostname
// and ipv6 describe the machine, which the config does not hold.
func ParamsFromConfig(c *config.Cluster, hostname string, ipv6 bool) Params {
	return Params{
		NodeName:     c.Node.Name,
		NodeAddress:  c.Node.Address,
		Hostname:     strings.ToLower(hostname),
		ServiceIP:    c.APIServerServiceIP(),
		DNSDomain:    c.Network.DNSDomain,
		ExtraSANs:    c.APIServer.ExtraSANs,
		IPv6:         ipv6,
		KeyAlgorithm: c.Certificates.KeyAlgorithm,
		CAValidity:   c.Certificates.CAValidity.Duration,
		Validity:     c.Certificates.Validity.Duration,
	}
}

// keyRequest validates p and returns the cfssl key request of its algorithm.
func (p Params) keyRequest() (*csr.KeyRequest, error) {
	switch {
	case p.NodeName == "":
		return nil, fmt.Errorf("certs: the node name is empty; set node.name in the config")
	case net.ParseIP(p.NodeAddress) == nil:
		return nil, fmt.Errorf("certs: node address %q is not an IP address; set node.address in the config", p.NodeAddress)
	case net.ParseIP(p.ServiceIP) == nil:
		return nil, fmt.Errorf("certs: API server service IP %q is not an IP address; check network.serviceCIDR in the config", p.ServiceIP)
	case p.CAValidity <= 0 || p.Validity <= 0:
		return nil, fmt.Errorf("certs: validity %s and CA validity %s must be positive; set certificates.validity and certificates.caValidity", p.Validity, p.CAValidity)
	}
	switch p.KeyAlgorithm {
	case "", "ecdsa-p256":
		return &csr.KeyRequest{A: "ecdsa", S: 256}, nil
	case "rsa-2048":
		return &csr.KeyRequest{A: "rsa", S: 2048}, nil
	case "rsa-4096":
		return &csr.KeyRequest{A: "rsa", S: 4096}, nil
	}
	return nil, fmt.Errorf("certs: unknown key algorithm %q; set certificates.keyAlgorithm to ecdsa-p256, rsa-2048 or rsa-4096", p.KeyAlgorithm)
}

// Action says what Ensure or Renew did to one certificate or key pair.
type Action string

// The actions, as reported per spec name in Result.Actions.
const (
	Created  Action = "created"
	Kept     Action = "kept"
	ReSigned Action = "re-signed"
	// Rewritten is reported for "sa" when sa.pub was re-derived from sa.key.
	Rewritten Action = "rewritten"
)

// Result reports what Ensure or Renew did.
type Result struct {
	// Files are the host paths written or kept: .crt, .key, sa.key, sa.pub.
	Files []string
	// Actions are keyed by spec name, plus "sa" for the service-account keys.
	Actions map[string]Action
	// Reasons say, for each re-signed spec, why it no longer matched.
	Reasons map[string]string
}

func newResult() Result {
	return Result{Actions: map[string]Action{}, Reasons: map[string]string{}}
}

func (r *Result) record(name string, a Action, reason string, files ...string) {
	r.Actions[name] = a
	if reason != "" {
		r.Reasons[name] = reason
	}
	r.Files = append(r.Files, files...)
}

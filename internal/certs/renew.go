package certs

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/helpers"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Renew re-signs the named leaves (or every leaf, for "all") with a new key
// and the same spec, valid from now; their CAs are kept. Naming a CA is an
// error: CAs are not renewed in place. Kubeconfigs embed the client certs, so
// run the kubeconfig step after renewing. The in-cluster serving certificates
// (dashboard, metrics-server) are re-signed with the names they carry; "all"
// renews those that exist, and naming one that does not exist is an error.
// Their Secrets change only when their phases run again.
func Renew(root host.Root, p Params, names []string, now time.Time) (Result, error) {
	kr, err := p.keyRequest()
	if err != nil {
		return Result{}, err
	}
	targets, serving, err := renewTargets(root, Specs(p), names)
	if err != nil {
		return Result{}, err
	}
	res := newResult()
	cas := map[string]*KeyPair{}
	caOf := func(name, ca string) (*KeyPair, error) {
		if cas[ca] == nil {
			if cas[ca], err = loadCA(root, ca, now); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("renew %s: its CA %s is missing; run `k8s-single phase run certs` first", name, ca)
			} else if err != nil {
				return nil, fmt.Errorf("renew %s: %w", name, err)
			}
			if err := keepModes(root, ca); err != nil {
				return nil, err
			}
		}
		return cas[ca], nil
	}
	for _, s := range targets {
		ca, err := caOf(s.Name, s.CA)
		if err != nil {
			return res, err
		}
		files, err := issueAndWrite(root, s, ca, kr, p, now)
		if err != nil {
			return res, err
		}
		res.record(s.Name, ReSigned, "renewed", files...)
	}
	for _, name := range serving {
		ca, err := caOf(name, "ca")
		if err != nil {
			return res, err
		}
		files, err := renewServing(root, name, ca, p, now, !slices.Contains(names, "all"))
		if err != nil {
			return res, err
		}
		if files != nil {
			res.record(name, ReSigned, "renewed", files...)
		}
	}
	return res, nil
}

// renewTargets resolves the names given to Renew to leaf specs, in table
// order, and to in-cluster serving certificate names.
func renewTargets(root host.Root, specs []Spec, names []string) ([]Spec, []string, error) {
	valid := "valid names: all, " + strings.Join(append(specNames(specs, false), servingNames...), ", ")
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("renew: name the certificates to renew; %s", valid)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Spec
	for _, s := range specs {
		switch {
		case s.IsCA && want[s.Name]:
			return nil, nil, fmt.Errorf("renew: %s is a CA, and k8s-single does not renew CAs (every certificate and kubeconfig "+
				"it signed would change); renew its leaves instead (%s), or, %s", s.Name, valid, replaceCAHint(root, s.Name))
		case !s.IsCA && (want[s.Name] || want["all"]):
			out = append(out, s)
		}
		delete(want, s.Name)
	}
	var serving []string
	for _, n := range servingNames {
		if want[n] || want["all"] {
			serving = append(serving, n)
		}
		delete(want, n)
	}
	delete(want, "all")
	if len(want) > 0 {
		unknown := slices.Sorted(maps.Keys(want))
		return nil, nil, fmt.Errorf("renew: unknown certificate %s; %s", strings.Join(unknown, ", "), valid)
	}
	return out, serving, nil
}

// Expiry is one line of the expiry report.
type Expiry struct {
	Name     string
	CA       string
	NotAfter time.Time
	// Residual is the time left at the report's now; negative once expired.
	Residual time.Duration
	IsCA     bool
	// Rotated marks the kubelet's own rotated client certificate (at Path),
	// which k8s-single reports but the kubelet renews.
	Rotated bool   `json:",omitempty"`
	Path    string `json:",omitempty"`
	// Unused marks a certificate nothing reads any more: the
	// bootstrap kubelet-client once the kubelet rotated its own.
	Unused bool `json:",omitempty"`
}

// CheckExpiration reports every certificate of the PKI, CAs first, with its CA
// and the time it has left at now, then the in-cluster serving certificates
// that exist (a phase issues them only for what it deploys). Missing
// certificates of the PKI are listed in the error; the ones found are still
// returned.
func CheckExpiration(root host.Root, now time.Time) ([]Expiry, error) {
	var out []Expiry
	var missing []string
	for _, s := range Specs(Params{}) {
		path := layout.Cert(s.Name)
		cert, err := readCertFile(root, path)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, root.Path(path))
			continue
		}
		if err != nil {
			fix := "run `k8s-single certs renew " + s.Name + "` to replace it"
			if s.IsCA {
				fix = "restore it from your backup"
			}
			return out, fmt.Errorf("%w; %s", err, fix)
		}
		out = append(out, Expiry{Name: s.Name, CA: s.CA, NotAfter: cert.NotAfter, Residual: cert.NotAfter.Sub(now), IsCA: s.IsCA})
	}
	for _, name := range servingNames {
		path := layout.Cert(name)
		cert, err := readCertFile(root, path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("%w; delete it and its key, and %s", err, servingOwner(name))
		}
		out = append(out, Expiry{Name: name, CA: "ca", NotAfter: cert.NotAfter, Residual: cert.NotAfter.Sub(now)})
	}
	kubelet, err := kubeletInUse(root, now)
	if err != nil {
		return out, err
	}
	if kubelet != nil {
		for i := range out {
			if out[i].Name == "kubelet-client" {
				out[i].Unused = true
			}
		}
		out = append(out, *kubelet)
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("missing certificates: %s; run `k8s-single phase run certs` to create them", strings.Join(missing, ", "))
	}
	return out, nil
}

// readCertFile reads and parses the certificate at a host path; a missing file
// yields an error that wraps fs.ErrNotExist.
func readCertFile(root host.Root, path string) (*x509.Certificate, error) {
	data, err := root.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	cert, err := helpers.ParseCertificatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", root.Path(path), err)
	}
	return cert, nil
}

package certs

import (
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
// run the kubeconfig step after renewing.
func Renew(root host.Root, p Params, names []string, now time.Time) (Result, error) {
	kr, err := p.keyRequest()
	if err != nil {
		return Result{}, err
	}
	targets, err := renewTargets(root, Specs(p), names)
	if err != nil {
		return Result{}, err
	}
	res := newResult()
	cas := map[string]*KeyPair{}
	for _, s := range targets {
		if cas[s.CA] == nil {
			if cas[s.CA], err = loadCA(root, s.CA, now); errors.Is(err, fs.ErrNotExist) {
				return res, fmt.Errorf("renew %s: its CA %s is missing; run `k8s-single phase run certs` first", s.Name, s.CA)
			} else if err != nil {
				return res, fmt.Errorf("renew %s: %w", s.Name, err)
			}
		}
		files, err := issueAndWrite(root, s, cas[s.CA], kr, p, now)
		if err != nil {
			return res, err
		}
		res.record(s.Name, ReSigned, "renewed", files...)
	}
	return res, nil
}

// renewTargets resolves the names given to Renew to leaf specs, in table order.
func renewTargets(root host.Root, specs []Spec, names []string) ([]Spec, error) {
	valid := "valid names: all, " + strings.Join(specNames(specs, false), ", ")
	if len(names) == 0 {
		return nil, fmt.Errorf("renew: name the certificates to renew; %s", valid)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []Spec
	for _, s := range specs {
		switch {
		case s.IsCA && want[s.Name]:
			return nil, fmt.Errorf("renew: %s is a CA, and k8s-single does not renew CAs (every certificate and kubeconfig "+
				"it signed would change); renew its leaves instead (%s), or, %s", s.Name, valid, replaceCAHint(root, s.Name))
		case !s.IsCA && (want[s.Name] || want["all"]):
			out = append(out, s)
		}
		delete(want, s.Name)
	}
	delete(want, "all")
	if len(want) > 0 {
		unknown := slices.Sorted(maps.Keys(want))
		return nil, fmt.Errorf("renew: unknown certificate %s; %s", strings.Join(unknown, ", "), valid)
	}
	return out, nil
}

// Expiry is one line of the expiry report.
type Expiry struct {
	Name     string
	CA       string
	NotAfter time.Time
	// Residual is the time left at the report's now; negative once expired.
	Residual time.Duration
	IsCA     bool
}

// CheckExpiration reports every certificate of the PKI, CAs first, with its CA
// and the time it has left at now. Missing certificates are listed in the
// error; the ones found are still returned.
func CheckExpiration(root host.Root, now time.Time) ([]Expiry, error) {
	var out []Expiry
	var missing []string
	for _, s := range Specs(Params{}) {
		path := layout.Cert(s.Name)
		data, err := root.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, root.Path(path))
			continue
		}
		if err != nil {
			return out, fmt.Errorf("read certificate: %w", err)
		}
		cert, err := helpers.ParseCertificatePEM(data)
		if err != nil {
			fix := "run `k8s-single certs renew " + s.Name + "` to replace it"
			if s.IsCA {
				fix = "restore it from your backup"
			}
			return out, fmt.Errorf("parse %s: %w; %s", root.Path(path), err, fix)
		}
		out = append(out, Expiry{Name: s.Name, CA: s.CA, NotAfter: cert.NotAfter, Residual: cert.NotAfter.Sub(now), IsCA: s.IsCA})
	}
	if len(missing) > 0 {
		return out, fmt.Errorf("missing certificates: %s; run `k8s-single phase run certs` to create them", strings.Join(missing, ", "))
	}
	return out, nil
}

package install

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/kubeconfig"
	"github.com/k8s-single/k8s-single/internal/phases"
)

// RenewOptions choose what RenewCertificates renews.
type RenewOptions struct {
	// Names are the certificates to renew ("all" for every leaf); ignored
	// when ExpiringWithin is set.
	Names []string
	// ExpiringWithin renews the leaves with less than this left (the
	// daily timer passes 30 days).
	ExpiringWithin time.Duration
}

// RenewCertificates re-signs certificates and brings the running cluster
// onto them: under the install's lock it renews the leaves and rewrites the
// kubeconfigs that embed client certificates, then, on an installed node, it
// runs up, whose journal sees exactly which files changed: the phases that
// read them run again, restarting their components in the safe order (etcd,
// the control plane, the kubelet and kube-proxy), waiting for each to be
// healthy, and re-applying the in-cluster serving Secrets. It returns the
// names it renewed (none when nothing was due).
func RenewCertificates(ctx context.Context, root host.Root, out io.Writer, verbose bool, cfg *config.Cluster, opts RenewOptions) ([]string, error) {
	names := opts.Names
	if opts.ExpiringWithin > 0 {
		report, err := certs.CheckExpiration(root, time.Now())
		if err != nil {
			return nil, err
		}
		if names = certs.Due(report, opts.ExpiringWithin); len(names) == 0 {
			fmt.Fprintf(out, "no certificate expires within %s; %s\n", days(opts.ExpiringWithin), nextExpiry(report))
			return nil, nil
		}
	}
	if err := renewUnderLock(root, cfg, names); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "renewed %s\n", strings.Join(names, ", "))
	states, err := NewRunner(root, nil, false).States()
	if err != nil {
		return names, err
	}
	if !installed(states) {
		fmt.Fprintln(out, "no cluster is running from these files; the next `k8s-single up` uses them")
		return names, nil
	}
	fmt.Fprintln(out, "restarting what reads them (k8s-single up):")
	outcomes, err := NewRunner(root, out, verbose).Up(ctx, cfg, phases.Options{})
	return names, WithResumeHint(err, outcomes)
}

// renewUnderLock re-signs the leaves and rewrites the kubeconfigs, holding
// the lock up and reset hold.
func renewUnderLock(root host.Root, cfg *config.Cluster, names []string) error {
	unlock, err := phases.Lock(root)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := certs.Renew(root, CertParams(cfg), names, time.Now()); err != nil {
		return err
	}
	_, err = kubeconfig.Ensure(root, cfg)
	return err
}

// installed reports whether the journal holds a real install (a phase that
// started its components), not only a dry run.
func installed(states phases.States) bool {
	for _, s := range states {
		if s.Status == phases.Done && s.Name == PhaseEtcd {
			return true
		}
	}
	return false
}

// nextExpiry names the leaf that expires first.
func nextExpiry(report []certs.Expiry) string {
	var first *certs.Expiry
	for i, e := range report {
		if !e.IsCA && (first == nil || e.NotAfter.Before(first.NotAfter)) {
			first = &report[i]
		}
	}
	if first == nil {
		return "no leaf certificate found"
	}
	return fmt.Sprintf("the first to expire is %s, on %s", first.Name, first.NotAfter.UTC().Format(time.DateOnly))
}

func days(d time.Duration) string { return fmt.Sprintf("%dd", int(d.Hours()/24)) }

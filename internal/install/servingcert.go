package install

import (
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
)

// The in-cluster serving certificates (the dashboard's, metrics-server's) are
// issued by the phase that deploys their workload, and are its artifacts: a
// renewed certificate (`k8s-single certs renew`) is drift, so the next `up`
// runs that phase again, which keeps the renewed certificate and re-applies
// its Secret. What they are issued for is part of the phase's inputs.

// servingCertInputs are what an in-cluster serving certificate is issued
// for: a phase that issues one hashes them, so a change re-issues it.
type servingCertInputs struct {
	Spec         certs.Spec
	KeyAlgorithm string
	Validity     time.Duration
}

func servingCertInputsOf(c *config.Cluster, s certs.Spec) servingCertInputs {
	return servingCertInputs{Spec: s, KeyAlgorithm: c.Certificates.KeyAlgorithm, Validity: c.Certificates.Validity.Duration}
}

// ensureServingCert issues or keeps an in-cluster serving certificate from
// the cluster CA, tracks its files as artifacts of the phase (before writing
// them, so a run that fails half-way still records what reset must remove)
// and says what it did.
func ensureServingCert(c *phases.Context, s certs.Spec) (*certs.KeyPair, error) {
	c.Track(layout.Key(s.Name), layout.Cert(s.Name))
	kp, action, reason, err := certs.EnsureServing(c.Root, s, CertParams(c.Config), time.Now())
	if err != nil {
		return nil, err
	}
	c.Printf("serving certificate %s %s%s", layout.Cert(s.Name), action, because(reason))
	return kp, nil
}

package certs

import (
	"bytes"
	"crypto"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Ensure brings the PKI under root to what Specs(p) describes, at time now:
// it creates what is missing, keeps every CA whose key exists and every leaf
// that still matches its spec (byte for byte), and re-signs, with a new key,
// a leaf that no longer matches (SANs, subject, usages, issuer, key algorithm,
// key, or expired). A second run with the same p writes nothing but the
// modes of kept files (keys 0600, certificates 0644, PKI dirs 0700), which it
// puts back. Half a CA or service-account pair that recorded says was never
// recorded (a run killed between its two writes) is made anew; with recorded
// nil every file counts as recorded, and half a pair is always an error.
func Ensure(root host.Root, p Params, now time.Time, recorded Recorded) (Result, error) {
	if recorded == nil {
		recorded = func(string) bool { return true }
	}
	kr, err := p.keyRequest()
	if err != nil {
		return Result{}, err
	}
	if err := makePKIDirs(root); err != nil {
		return Result{}, err
	}
	res := newResult()
	cas := map[string]*KeyPair{}
	for _, s := range Specs(p) {
		if s.IsCA {
			cas[s.Name], err = ensureCA(root, s, kr, p, now, recorded, &res)
		} else {
			err = ensureLeaf(root, s, cas[s.CA], kr, p, now, &res)
		}
		if err != nil {
			return res, err
		}
	}
	return res, ensureServiceAccountKey(root, kr, recorded, &res)
}

// Recorded reports whether the install's journal recorded a host path as
// written by an earlier, completed step.
type Recorded func(hostPath string) bool

// makePKIDirs creates the PKI directories 0700, and sets that mode on existing
// ones; a missing /etc/kubernetes is created 0755, an existing one is left alone.
func makePKIDirs(root host.Root) error {
	hasParent, err := exists(root, layout.KubernetesDir)
	if err != nil {
		return err
	}
	if !hasParent {
		if err := root.MkdirAll(layout.KubernetesDir, layout.ModeDir); err != nil {
			return fmt.Errorf("create the Kubernetes directory: %w", err)
		}
	}
	for _, dir := range []string{layout.PKIDir, layout.EtcdPKIDir} {
		if err := root.MkdirAll(dir, layout.ModePrivateDir); err != nil {
			return fmt.Errorf("create the PKI directory: %w", err)
		}
	}
	return nil
}

// ensureCA loads a CA, or creates it when neither its certificate nor its key
// exists. Half a CA is an error (replacing it would orphan every cert it
// signed) unless neither half was ever recorded: then a run was killed while
// creating it, nothing was signed with it, and it is made anew.
func ensureCA(root host.Root, s Spec, kr *csr.KeyRequest, p Params, now time.Time, recorded Recorded, res *Result) (*KeyPair, error) {
	hasCert, hasKey, err := presence(root, s.Name)
	if err != nil {
		return nil, err
	}
	crt, key := root.Path(layout.Cert(s.Name)), root.Path(layout.Key(s.Name))
	reason := ""
	if hasCert != hasKey && !recorded(layout.Cert(s.Name)) && !recorded(layout.Key(s.Name)) {
		hasCert, hasKey, reason = false, false, "half of it was left by an interrupted run that never recorded it"
	}
	switch {
	case hasCert && !hasKey:
		return nil, fmt.Errorf("CA certificate %s exists without its key %s: restore the key from your backup; "+
			"k8s-single never replaces a CA (every certificate it signed would stop verifying)", crt, key)
	case hasKey && !hasCert:
		return nil, fmt.Errorf("CA key %s exists without its certificate %s: restore the certificate from your backup; "+
			"k8s-single never replaces a CA it recorded (every certificate it signed would stop verifying)", key, crt)
	case hasCert:
		ca, err := loadCA(root, s.Name, now)
		if err != nil {
			return nil, err
		}
		if err := keepModes(root, s.Name); err != nil {
			return nil, err
		}
		res.record(s.Name, Kept, "", layout.Key(s.Name), layout.Cert(s.Name))
		return ca, nil
	}
	ca, err := issue(s, nil, kr, p, now)
	if err != nil {
		return nil, err
	}
	files, err := ca.write(root, s.Name)
	if err != nil {
		return nil, err
	}
	res.record(s.Name, Created, reason, files...)
	return ca, nil
}

// keepModes puts back the modes of a kept pair: key 0600, certificate 0644.
func keepModes(root host.Root, name string) error {
	for path, mode := range map[string]os.FileMode{layout.Key(name): layout.ModePrivate, layout.Cert(name): layout.ModePublic} {
		if err := keepMode(root, path, mode); err != nil {
			return err
		}
	}
	return nil
}

// keepMode sets a kept file's mode when it differs.
func keepMode(root host.Root, hostPath string, mode os.FileMode) error {
	st, err := os.Stat(root.Path(hostPath))
	if err != nil {
		return err
	}
	if st.Mode().Perm() == mode {
		return nil
	}
	if err := os.Chmod(root.Path(hostPath), mode); err != nil {
		return fmt.Errorf("set the mode of %s to %04o: %w", root.Path(hostPath), mode, err)
	}
	return nil
}

// loadCA loads an existing CA and checks that it can still sign.
func loadCA(root host.Root, name string, now time.Time) (*KeyPair, error) {
	ca, err := Load(root, name)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w; restore the CA from your backup", name, err)
	}
	if !ca.Cert.IsCA {
		return nil, fmt.Errorf("%s is not a CA certificate: restore the CA from your backup", root.Path(layout.Cert(name)))
	}
	if !now.Before(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("CA %s expired on %s; %s", name, ca.Cert.NotAfter.Format(time.RFC3339), replaceCAHint(root, name))
	}
	return ca, nil
}

// replaceCAHint tells the user how to replace a CA by hand, since k8s-single
// never does it on its own.
func replaceCAHint(root host.Root, name string) string {
	return fmt.Sprintf("to replace it, move %s and %s aside (keep them as a backup), run `k8s-single phase run certs` "+
		"and `k8s-single phase run kubeconfigs`, then restart every component",
		root.Path(layout.Cert(name)), root.Path(layout.Key(name)))
}

// ensureLeaf keeps a leaf that still matches s and re-signs one that does not.
func ensureLeaf(root host.Root, s Spec, ca *KeyPair, kr *csr.KeyRequest, p Params, now time.Time, res *Result) error {
	_, action, reason, err := keepOrIssue(root, s, ca, kr, p, now, func(kp *KeyPair) string { return mismatch(s, kp, ca, kr, now) })
	if err != nil {
		return err
	}
	res.record(s.Name, action, reason, layout.Key(s.Name), layout.Cert(s.Name))
	return nil
}

// keepOrIssue returns the stored pair of s when stale finds nothing against
// it (Kept); otherwise it issues and writes a new one: Created when there was
// none, ReSigned with stale's reason (or why the pair did not load).
func keepOrIssue(root host.Root, s Spec, ca *KeyPair, kr *csr.KeyRequest, p Params, now time.Time,
	stale func(*KeyPair) string) (*KeyPair, Action, string, error) {
	hasCert, hasKey, err := presence(root, s.Name)
	if err != nil {
		return nil, "", "", err
	}
	action, reason := Created, ""
	if hasCert || hasKey {
		action = ReSigned
		kp, err := Load(root, s.Name)
		if err != nil {
			reason = err.Error()
		} else if reason = stale(kp); reason == "" {
			return kp, Kept, "", keepModes(root, s.Name)
		}
	}
	kp, err := issue(s, ca, kr, p, now)
	if err != nil {
		return nil, "", "", err
	}
	if _, err := kp.write(root, s.Name); err != nil {
		return nil, "", "", err
	}
	return kp, action, reason, nil
}

// issueAndWrite issues a fresh key and certificate for s and stores them.
func issueAndWrite(root host.Root, s Spec, ca *KeyPair, kr *csr.KeyRequest, p Params, now time.Time) ([]string, error) {
	kp, err := issue(s, ca, kr, p, now)
	if err != nil {
		return nil, err
	}
	return kp.write(root, s.Name)
}

// mismatch says how a stored leaf differs from its spec, or "" when it matches.
func mismatch(s Spec, kp *KeyPair, ca *KeyPair, kr *csr.KeyRequest, now time.Time) string {
	c := kp.Cert
	checks := []struct {
		ok   bool
		what string
	}{
		{bytes.Equal(c.RawIssuer, ca.Cert.RawSubject) && c.CheckSignatureFrom(ca.Cert) == nil, "not signed by the current " + s.CA},
		{!c.IsCA, "is a CA certificate"},
		{keyFits(c.PublicKey, kr), fmt.Sprintf("key is not %s-%d", kr.Algo(), kr.Size())},
		{c.Subject.CommonName == s.CommonName, fmt.Sprintf("CN is %q, want %q", c.Subject.CommonName, s.CommonName)},
		{sameSet(c.Subject.Organization, s.Organization), fmt.Sprintf("O is %q, want %q", c.Subject.Organization, s.Organization)},
		{sameSet(c.DNSNames, s.DNSNames), fmt.Sprintf("DNS SANs are %v, want %v", c.DNSNames, s.DNSNames)},
		{sameSet(ipStrings(c.IPAddresses), ipStrings(s.IPs)), fmt.Sprintf("IP SANs are %v, want %v", c.IPAddresses, s.IPs)},
		{sameSet(c.ExtKeyUsage, s.Usages), "extended key usages differ"},
		{c.KeyUsage == keyUsage(s, c.PublicKey), "key usages differ"},
		{now.Before(c.NotAfter), "expired on " + c.NotAfter.Format(time.RFC3339)},
	}
	for _, ch := range checks {
		if !ch.ok {
			return ch.what
		}
	}
	return ""
}

// sameSet reports whether a and b hold the same elements, in any order.
func sameSet[T interface{ ~string | ~int }](a, b []T) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// ensureServiceAccountKey creates sa.key/sa.pub, or keeps sa.key and
// re-derives sa.pub from it when it is missing or stale. sa.pub without
// sa.key is an error (a new pair would invalidate every issued token) unless
// sa.key was never recorded (a run killed between the two writes). An
// existing sa.key is kept whatever its algorithm, for the same reason.
func ensureServiceAccountKey(root host.Root, kr *csr.KeyRequest, recorded Recorded, res *Result) error {
	files := []string{layout.ServiceAccountKey, layout.ServiceAccountPubKey}
	hasKey, err := exists(root, files[0])
	if err != nil {
		return err
	}
	if !hasKey {
		return createServiceAccountKey(root, kr, recorded(files[0]), res, files)
	}
	if err := keepMode(root, files[0], layout.ModePrivate); err != nil {
		return err
	}
	key, err := loadServiceAccountKey(root)
	if err != nil {
		return err
	}
	pubPEM, err := encodePublicKey(key.Public())
	if err != nil {
		return err
	}
	if old, err := root.ReadFile(files[1]); err == nil && bytes.Equal(old, pubPEM) {
		res.record("sa", Kept, "", files...)
		return keepMode(root, files[1], layout.ModePublic)
	}
	if err := root.WriteFile(files[1], pubPEM, layout.ModePublic, layout.ModePrivateDir); err != nil {
		return err
	}
	res.record("sa", Rewritten, "sa.pub was missing or did not match sa.key", files...)
	return nil
}

func loadServiceAccountKey(root host.Root) (crypto.Signer, error) {
	path := root.Path(layout.ServiceAccountKey)
	keyPEM, err := root.ReadFile(layout.ServiceAccountKey)
	if err != nil {
		return nil, fmt.Errorf("read the service-account key: %w", err)
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w; restore it from your backup, or delete sa.key and sa.pub "+
			"to make a new pair (service-account tokens already issued will stop working)", path, err)
	}
	return key, nil
}

func createServiceAccountKey(root host.Root, kr *csr.KeyRequest, keyRecorded bool, res *Result, files []string) error {
	hasPub, err := exists(root, files[1])
	if err != nil {
		return err
	}
	if hasPub && keyRecorded {
		return fmt.Errorf("%s exists without %s: restore sa.key from your backup, or delete sa.pub to make a new pair "+
			"(service-account tokens already issued will stop working)", root.Path(files[1]), root.Path(files[0]))
	}
	key, keyPEM, err := newKey(kr)
	if err != nil {
		return fmt.Errorf("service-account key: %w", err)
	}
	pubPEM, err := encodePublicKey(key.Public())
	if err != nil {
		return err
	}
	if err := root.WriteFile(files[0], keyPEM, layout.ModePrivate, layout.ModePrivateDir); err != nil {
		return err
	}
	if err := root.WriteFile(files[1], pubPEM, layout.ModePublic, layout.ModePrivateDir); err != nil {
		return err
	}
	res.record("sa", Created, "", files...)
	return nil
}

package etcd

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/k8s-single/k8s-single/internal/etcdconn"
)

// Names of the checks Verify runs, in order; a CheckError carries one.
const (
	CheckHealth             = "health"
	CheckStatus             = "status"
	CheckMembers            = "member list"
	CheckSentinel           = "sentinel put/get/delete"
	CheckClientCertRequired = "client certificate required"
)

// SentinelPrefix is where Verify writes, reads back and deletes a random key.
const SentinelPrefix = "/k8s-single/sentinel/"

// CheckError is a failed Verify check.
type CheckError struct {
	// Check is one of the Check* names.
	Check string
	Err   error
}

// Error names the check and says why it failed.
func (e *CheckError) Error() string { return fmt.Sprintf("etcd check %q failed: %v", e.Check, e.Err) }

// Unwrap returns the cause, often an *EndpointError.
func (e *CheckError) Unwrap() error { return e.Err }

// Verify is the etcd phase's check: every endpoint healthy, a leader and no
// reported errors in its status, started members, a sentinel key written,
// read back and deleted, and a connection without a client certificate
// refused. It stops at the first failed check and returns a *CheckError.
func (c *Client) Verify(ctx context.Context) error {
	checks := []struct {
		name string
		run  func(context.Context) error
	}{
		{CheckHealth, c.verifyHealth},
		{CheckStatus, c.verifyStatus},
		{CheckMembers, c.verifyMembers},
		{CheckSentinel, c.verifySentinel},
		{CheckClientCertRequired, c.verifyClientCertRequired},
	}
	for _, check := range checks {
		if err := check.run(ctx); err != nil {
			return &CheckError{Check: check.name, Err: err}
		}
	}
	return nil
}

func (c *Client) verifyHealth(ctx context.Context) error {
	var errs []error
	for _, ep := range c.opts.Endpoints {
		errs = append(errs, etcdconn.CheckEndpoint(ctx, c.opts, c.tls, ep))
	}
	return errors.Join(errs...)
}

func (c *Client) verifyStatus(ctx context.Context) error {
	report, err := c.Status(ctx)
	if err != nil {
		return err
	}
	for _, s := range report {
		if s.Leader == 0 {
			return fmt.Errorf("etcd %s has no leader: see `journalctl -u etcd`", s.Endpoint)
		}
		if len(s.Errors) > 0 {
			return fmt.Errorf("etcd %s reports: %s", s.Endpoint, strings.Join(s.Errors, "; "))
		}
	}
	return nil
}

func (c *Client) verifyMembers(ctx context.Context) error {
	members, err := c.Members(ctx)
	if err != nil {
		return err
	}
	if len(members) == 0 {
		return errors.New("etcd lists no members")
	}
	for _, m := range members {
		if m.Name == "" {
			return fmt.Errorf("etcd member %x (peer %s) has not started", m.ID, strings.Join(m.PeerURLs, ","))
		}
	}
	return nil
}

// verifySentinel writes a random key, reads it back and deletes it; the key
// is deleted even when the read fails.
func (c *Client) verifySentinel(ctx context.Context) error {
	key, value := SentinelPrefix+rand.Text(), rand.Text()
	if err := c.Put(ctx, key, value); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	readErr := c.readBack(ctx, key, value)
	deleted, err := c.Delete(ctx, key, false)
	switch {
	case readErr != nil:
		return readErr
	case err != nil:
		return fmt.Errorf("delete %s: %w", key, err)
	case deleted != 1:
		return fmt.Errorf("delete %s removed %d keys, want 1", key, deleted)
	}
	return nil
}

func (c *Client) readBack(ctx context.Context, key, want string) error {
	kvs, err := c.Get(ctx, key, false, false)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	if len(kvs) != 1 || kvs[0].Value != want {
		return fmt.Errorf("get %s did not return the value just put (%d keys)", key, len(kvs))
	}
	return nil
}

// verifyClientCertRequired connects to each endpoint with the CA only and
// expects etcd to refuse the handshake for want of a client certificate.
func (c *Client) verifyClientCertRequired(ctx context.Context) error {
	anonymous := &tls.Config{RootCAs: c.tls.RootCAs, MinVersion: tls.VersionTLS12}
	var errs []error
	for _, ep := range c.opts.Endpoints {
		err := etcdconn.Probe(ctx, c.opts, ep, anonymous)
		if err == nil {
			errs = append(errs, fmt.Errorf("etcd %s accepted a client without a certificate: run it with --client-cert-auth=true and --trusted-ca-file", ep))
			continue
		}
		if e := etcdconn.Diagnose(c.opts, ep, err); !errors.Is(e, etcdconn.ErrClientCertificate) {
			errs = append(errs, e)
		}
	}
	return errors.Join(errs...)
}

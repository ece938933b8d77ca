package etcdconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
)

// Kinds of EndpointError; match them with errors.Is.
var (
	// ErrRefused: nothing listens on the endpoint's port.
	ErrRefused = errors.New("connection refused")
	// ErrTimeout: no answer within the dial or command timeout.
	ErrTimeout = errors.New("timed out")
	// ErrClientCertificate: etcd rejected our client certificate (or its absence).
	ErrClientCertificate = errors.New("client certificate rejected")
	// ErrServerCertificate: etcd's serving certificate failed verification.
	ErrServerCertificate = errors.New("server certificate not trusted")
	// ErrUnreachable: any other network failure (no route, unknown host...).
	ErrUnreachable = errors.New("unreachable")
)

// EndpointError says why an etcd endpoint could not be used and what to do.
type EndpointError struct {
	// Endpoint is the client URL that failed.
	Endpoint string
	// Kind is one of the Err* kinds above.
	Kind error
	// Hint is the likely cause and the next step, in words.
	Hint string
}

// Error returns "etcd ENDPOINT: KIND: HINT".
func (e *EndpointError) Error() string {
	return fmt.Sprintf("etcd %s: %s: %s", e.Endpoint, e.Kind, e.Hint)
}

// Unwrap returns the kind, so errors.Is(err, ErrRefused) works.
func (e *EndpointError) Unwrap() error { return e.Kind }

// NotAnswering is the error of an endpoint that accepted our TLS connection
// and then said nothing within the command timeout.
func NotAnswering(o Options, endpoint string) *EndpointError {
	return &EndpointError{
		Endpoint: endpoint,
		Kind:     ErrTimeout,
		Hint: fmt.Sprintf("etcd accepts our TLS connection but did not answer within %s: it may have lost its leader or be starved of disk; see `journalctl -u etcd`",
			o.WithDefaults().CommandTimeout),
	}
}

// Probe opens a TLS connection to endpoint with cfg and exchanges one
// request, returning the raw network or TLS error if any; Diagnose explains it.
func Probe(ctx context.Context, o Options, endpoint string, cfg *tls.Config) error {
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.WithDefaults().DialTimeout)
	defer cancel()
	cfg = cfg.Clone()
	cfg.ServerName = u.Hostname()
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	return exchange(ctx, conn)
}

// exchange sends a request and waits for the first byte of the answer. Under
// TLS 1.3 a server rejects a client certificate after the client's side of
// the handshake is done, so only a read shows whether it did.
func exchange(ctx context.Context, conn net.Conn) error {
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(deadline); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(conn, "GET /version HTTP/1.0\r\n\r\n"); err != nil {
		return err
	}
	_, err := conn.Read(make([]byte, 1))
	return err
}

// Diagnose names the kind of a network or TLS failure to reach endpoint and
// the next step.
func Diagnose(o Options, endpoint string, err error) *EndpointError {
	o = o.WithDefaults()
	var (
		alert     *net.OpError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		netErr    net.Error
	)
	e := &EndpointError{Endpoint: endpoint, Kind: ErrUnreachable, Hint: fmt.Sprintf("%v: check the endpoint's address and the network", err)}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Kind, e.Hint = ErrRefused, "nothing listens there: is etcd running? check `systemctl status etcd` and `journalctl -u etcd`"
	case errors.As(err, &alert) && alert.Op == "remote error":
		e.Kind, e.Hint = ErrClientCertificate, fmt.Sprintf("etcd refused client certificate %s (%v): it must be signed by the CA etcd trusts (--trusted-ca-file, normally %s) and be valid now; renew it with `k8s-single certs renew`",
			o.Cert, alert.Err, o.CACert)
	case errors.As(err, &authority):
		e.Kind, e.Hint = ErrServerCertificate, fmt.Sprintf("etcd's serving certificate is not signed by CA %s: this CA file belongs to another PKI than the running etcd", o.CACert)
	case errors.As(err, &hostname):
		e.Kind, e.Hint = ErrServerCertificate, fmt.Sprintf("etcd's serving certificate does not name %s: add it to the etcd/server certificate's SANs", hostname.Host)
	case errors.As(err, &invalid):
		e.Kind, e.Hint = ErrServerCertificate, fmt.Sprintf("etcd's serving certificate is invalid (%v): renew it with `k8s-single certs renew`", invalid)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Kind, e.Hint = ErrTimeout, fmt.Sprintf("no answer within %s: is the address right, and is the port open (firewall)?", o.DialTimeout)
	}
	return e
}

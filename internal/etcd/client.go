// Package etcd owns k8s-single's etcd client: the etcdctl-style operations
// (endpoint health and status, member list, get/put/del, snapshot save and
// restore) and the etcd phase's Verify. It always speaks mutual TLS with a
// client certificate from the cluster PKI, and its errors name the endpoint,
// the likely cause and what to do next instead of a gRPC dump.
//
// It must not start, stop or configure etcd (internal/units does), create
// certificates (internal/certs does) or print anything (internal/printer
// renders the report types declared here).
package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/connectivity"

	"github.com/k8s-single/k8s-single/internal/etcdconn"
)

// Client is a connection to etcd over mutual TLS. It is safe for concurrent use.
type Client struct {
	opts etcdconn.Options
	tls  *tls.Config
	// all balances over every endpoint; it serves key-value and cluster calls.
	all *clientv3.Client
	// byEndpoint holds one client per endpoint for per-endpoint calls
	// (health, snapshot); with a single endpoint it is all.
	byEndpoint map[string]*clientv3.Client
}

// New loads the certificates and prepares the connections. It does not
// contact etcd: the first request does, and reports why it could not.
func New(o etcdconn.Options) (*Client, error) {
	o = o.WithDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := etcdconn.LoadTLS(o)
	if err != nil {
		return nil, err
	}
	c := &Client{opts: o, tls: tlsConfig, byEndpoint: map[string]*clientv3.Client{}}
	if c.all, err = c.dial(o.Endpoints...); err != nil {
		return nil, err
	}
	if len(o.Endpoints) == 1 {
		c.byEndpoint[o.Endpoints[0]] = c.all
		return c, nil
	}
	for _, ep := range o.Endpoints {
		if c.byEndpoint[ep], err = c.dial(ep); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close releases every connection.
func (c *Client) Close() error {
	errs := []error{c.all.Close()}
	for _, cli := range c.byEndpoint {
		if cli != c.all && cli != nil {
			errs = append(errs, cli.Close())
		}
	}
	return errors.Join(errs...)
}

// dial makes a client/v3 client for endpoints; gRPC connects lazily.
func (c *Client) dial(endpoints ...string) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: c.opts.DialTimeout,
		TLS:         c.tls,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %v: %w", endpoints, err)
	}
	return cli, nil
}

// run calls op with cli once cli is connected, under the command timeout,
// and turns a failure into an error that names the endpoints and the cause.
func (c *Client) run(ctx context.Context, cli *clientv3.Client, op func(context.Context) error) error {
	err := c.connected(ctx, cli)
	if err == nil {
		cmdCtx, cancel := context.WithTimeout(ctx, c.opts.CommandTimeout)
		err = op(cmdCtx)
		cancel()
	}
	switch {
	case err == nil:
		return nil
	case ctx.Err() == nil && isConnectionError(err):
		return c.explainConnection(ctx, cli.Endpoints())
	}
	return fmt.Errorf("etcd %s: %w", strings.Join(cli.Endpoints(), ","), withoutRPCDump(err))
}

// errNotConnected reports a connection attempt that failed; explainConnection
// probes the endpoints to say why.
var errNotConnected = errors.New("no connection to etcd")

// connected waits up to the dial timeout for cli's connection to be ready,
// and gives up at the first failed attempt rather than waiting out gRPC's
// retries, so a stopped etcd is reported at once. gRPC keeps a failed
// connection failed until a retry after its backoff succeeds, so one that
// failed before is retried at once if a probe finds etcd answering now.
func (c *Client) connected(ctx context.Context, cli *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	conn := cli.ActiveConnection()
	if conn.GetState() == connectivity.TransientFailure {
		if !c.reachable(ctx, cli.Endpoints()) {
			return errNotConnected
		}
		conn.ResetConnectBackoff()
	}
	conn.Connect()
	for state := conn.GetState(); state != connectivity.Ready; state = conn.GetState() {
		if !conn.WaitForStateChange(ctx, state) {
			return ctx.Err()
		}
		if conn.GetState() == connectivity.TransientFailure {
			return errNotConnected
		}
	}
	return nil
}

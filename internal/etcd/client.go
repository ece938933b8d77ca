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
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/connectivity"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Timeouts used when Options leaves them zero.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultCommandTimeout = 10 * time.Second
)

// Options says where etcd listens and which certificates prove who we are.
type Options struct {
	// Endpoints are https:// client URLs, e.g. https://127.0.0.1:2379.
	Endpoints []string
	// CACert is the PEM file of the CA that signed etcd's serving certificate.
	CACert string
	// Cert and Key are the PEM files of our client certificate and its key.
	Cert, Key string
	// DialTimeout bounds a TCP+TLS connection attempt.
	DialTimeout time.Duration
	// CommandTimeout bounds one request (a get, a put, a status...).
	CommandTimeout time.Duration
}

// OptionsFromConfig returns the options that reach the node's own etcd with
// the healthcheck-client certificate, so a user types no flags.
func OptionsFromConfig(root host.Root, c *config.Cluster) Options {
	ep := url.URL{Scheme: "https", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Etcd.ClientPort))}
	return Options{
		Endpoints:      []string{ep.String()},
		CACert:         root.Path(layout.Cert("etcd/ca")),
		Cert:           root.Path(layout.Cert("etcd/healthcheck-client")),
		Key:            root.Path(layout.Key("etcd/healthcheck-client")),
		DialTimeout:    DefaultDialTimeout,
		CommandTimeout: DefaultCommandTimeout,
	}
}

// Client is a connection to etcd over mutual TLS. It is safe for concurrent use.
type Client struct {
	opts Options
	tls  *tls.Config
	// all balances over every endpoint; it serves key-value and cluster calls.
	all *clientv3.Client
	// byEndpoint holds one client per endpoint for per-endpoint calls
	// (health, snapshot); with a single endpoint it is all.
	byEndpoint map[string]*clientv3.Client
}

// New loads the certificates and prepares the connections. It does not
// contact etcd: the first request does, and reports why it could not.
func New(o Options) (*Client, error) {
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	tlsConfig, err := loadTLS(o)
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

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	return o
}

func (o Options) validate() error {
	if len(o.Endpoints) == 0 {
		return errors.New("etcd: no endpoint given (e.g. https://127.0.0.1:2379)")
	}
	for _, ep := range o.Endpoints {
		u, err := url.Parse(ep)
		if err != nil || u.Scheme != "https" || u.Port() == "" {
			return fmt.Errorf("etcd endpoint %q: want https://HOST:PORT (k8s-single only speaks TLS to etcd)", ep)
		}
	}
	if o.CACert == "" || o.Cert == "" || o.Key == "" {
		return errors.New("etcd: a CA certificate, a client certificate and its key are all required (mutual TLS)")
	}
	return nil
}

// loadTLS reads the CA and the client key pair into a TLS configuration.
func loadTLS(o Options) (*tls.Config, error) {
	pool, err := loadCA(o.CACert)
	if err != nil {
		return nil, err
	}
	pair, err := tls.LoadX509KeyPair(o.Cert, o.Key)
	if err != nil {
		return nil, fmt.Errorf("load etcd client certificate %s with key %s: %w (create them with `k8s-single phase run certs`)", o.Cert, o.Key, err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read etcd CA certificate: %w (create it with `k8s-single phase run certs`)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("etcd CA certificate %s holds no PEM certificate", path)
	}
	return pool, nil
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

// Package etcdconn says how k8s-single reaches the node's etcd over mutual
// TLS: the endpoints and certificates (Options), why an endpoint cannot be
// used (EndpointError), and the health check etcd serves over HTTPS, which
// needs no gRPC client.
//
// It stays light on purpose: the quick front of the CLI (cmd/k8s-single)
// links it, and Go initialises every package a binary links, whatever the
// command. internal/etcd holds the gRPC client for everything else.
package etcdconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

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

// WithDefaults returns o with zero timeouts set to their defaults.
func (o Options) WithDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = DefaultCommandTimeout
	}
	return o
}

// Validate says what is missing or malformed in o.
func (o Options) Validate() error {
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

// LoadTLS reads the CA and the client key pair into a TLS configuration.
func LoadTLS(o Options) (*tls.Config, error) {
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

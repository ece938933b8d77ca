// Package probe polls component health endpoints over HTTPS until they answer,
// telling the user what it is waiting for. It only reads; it never changes a
// component.
package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/poll"
)

// Endpoint is one health URL and how to reach it.
type Endpoint struct {
	Name string
	URL  string
	// CAFile verifies an https server; it is required for https URLs
	// (nothing is ever probed without verifying the server).
	CAFile string
	// CertFile and KeyFile authenticate the client (mTLS).
	CertFile, KeyFile string
}

// Get fetches the endpoint once and returns the status code and body.
func (e Endpoint) Get(ctx context.Context) (int, string, error) {
	resp, err := e.get(ctx)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}

func (e Endpoint) client() (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if e.CAFile == "" && strings.HasPrefix(e.URL, "https:") {
		return nil, fmt.Errorf("%s: an https endpoint needs a CA to verify it", e.Name)
	}
	if e.CAFile != "" {
		pem, err := os.ReadFile(e.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s: read CA: %w", e.Name, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no certificate in %s", e.Name, e.CAFile)
		}
	}
	if e.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(e.CertFile, e.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s: load client cert: %w", e.Name, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}, nil
}

// WaitOK polls until the endpoint answers 200, the timeout passes or ctx ends.
// It prints a line when it starts waiting and every 10 s after, and returns
// the last answer in its error.
func (e Endpoint) WaitOK(ctx context.Context, timeout time.Duration, out io.Writer) (time.Duration, error) {
	return poll.Wait{What: e.Name + " (" + e.URL + ")", Timeout: timeout, Interval: 250 * time.Millisecond,
		Say: poll.Lines(out, "      "),
		Expired: func(last string) error {
			return fmt.Errorf("%s did not become healthy within %s: %s", e.Name, timeout, last)
		},
	}.Until(ctx, func(ctx context.Context) (bool, string, error) {
		code, body, err := e.Get(ctx)
		return err == nil && code == http.StatusOK, describe(code, body, err), nil
	})
}

func describe(code int, body string, err error) string {
	if err != nil {
		return err.Error()
	}
	if len(body) > 200 {
		body = body[:200] + "..."
	}
	return fmt.Sprintf("HTTP %d %s", code, body)
}

// Line returns the first line of the endpoint's 200 response that starts
// with prefix, reading no more than it needs: a metric out of a
// Prometheus page of any size.
func (e Endpoint) Line(ctx context.Context, prefix string) (string, error) {
	resp, err := e.get(ctx)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: HTTP %d", e.URL, resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			return sc.Text(), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no line starting with %q", e.URL, prefix)
}

// get sends the GET request; the caller closes the response's body.
func (e Endpoint) get(ctx context.Context) (*http.Response, error) {
	client, err := e.client()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return nil, err
	}
	return client.Do(req)
}

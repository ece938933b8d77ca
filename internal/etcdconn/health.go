package etcdconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EndpointHealth is one endpoint's answer to a health check.
type EndpointHealth struct {
	Endpoint string `json:"endpoint"`
	Healthy  bool   `json:"health"`
	// Took is how long the check took (nanoseconds in JSON).
	Took time.Duration `json:"took"`
	// Error says why the endpoint is unhealthy; empty when it is healthy.
	Error string `json:"error,omitempty"`
}

// HealthReport is the result of Health; it prints like `etcdctl endpoint health`.
type HealthReport []EndpointHealth

// Healthy reports whether every endpoint is healthy.
func (r HealthReport) Healthy() bool {
	for _, h := range r {
		if !h.Healthy {
			return false
		}
	}
	return len(r) > 0
}

// Table returns one row per endpoint.
func (r HealthReport) Table() (header []string, rows [][]string) {
	header = []string{"endpoint", "health", "took", "error"}
	for _, h := range r {
		rows = append(rows, []string{h.Endpoint, strconv.FormatBool(h.Healthy), h.Took.String(), h.Error})
	}
	return header, rows
}

// Lines returns etcdctl's simple health lines.
func (r HealthReport) Lines() []string {
	lines := make([]string, len(r))
	for i, h := range r {
		lines[i] = fmt.Sprintf("%s is healthy: successfully committed proposal: took = %v", h.Endpoint, h.Took)
		if !h.Healthy {
			lines[i] = fmt.Sprintf("%s is unhealthy: %s", h.Endpoint, h.Error)
		}
	}
	return lines
}

// Health checks every endpoint at once; cfg is LoadTLS's. See CheckEndpoint.
func Health(ctx context.Context, o Options, cfg *tls.Config) HealthReport {
	report := make(HealthReport, len(o.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range o.Endpoints {
		wg.Go(func() {
			start := time.Now()
			err := CheckEndpoint(ctx, o, cfg, ep)
			report[i] = EndpointHealth{Endpoint: ep, Healthy: err == nil, Took: time.Since(start)}
			if err != nil {
				report[i].Error = err.Error()
			}
		})
	}
	wg.Wait()
	return report
}

// CheckEndpoint returns why endpoint is unhealthy, or nil. It asks etcd's own
// GET /health, which answers healthy when no alarm is active, the member has
// a leader and a linearizable read went through consensus: what
// `etcdctl endpoint health` checks with a get of key "health" and an alarm
// list, here without a gRPC client.
func CheckEndpoint(ctx context.Context, o Options, cfg *tls.Config, endpoint string) error {
	o = o.WithDefaults()
	u, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("etcd endpoint %q: %w", endpoint, err)
	}
	dialCtx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	cfg = cfg.Clone()
	cfg.ServerName = u.Hostname()
	conn, err := (&tls.Dialer{Config: cfg}).DialContext(dialCtx, "tcp", u.Host)
	if err != nil {
		return Diagnose(o, endpoint, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if err := conn.SetDeadline(time.Now().Add(o.CommandTimeout)); err != nil {
		return Diagnose(o, endpoint, err)
	}
	answer, err := get(conn, u.Host, "/health")
	var netErr net.Error
	switch {
	case err == nil:
		return judge(endpoint, answer)
	case errors.As(err, &netErr) && netErr.Timeout() && ctx.Err() == nil:
		return NotAnswering(o, endpoint)
	}
	return Diagnose(o, endpoint, err)
}

// response is the part of an HTTP answer judge reads.
type response struct {
	status string
	body   []byte
}

// get sends an HTTP/1.0 GET for path over conn and reads the whole answer: a
// request this plain needs no HTTP client, and net/http's initialisation
// would cost the quick front more than the check does.
func get(conn net.Conn, host, path string) (response, error) {
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host); err != nil {
		return response{}, err
	}
	raw, err := io.ReadAll(io.LimitReader(conn, 64<<10))
	if err != nil {
		return response{}, err
	}
	head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	statusLine, _, _ := bytes.Cut(head, []byte("\r\n"))
	proto, status, _ := strings.Cut(string(statusLine), " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/") {
		return response{}, fmt.Errorf("not an HTTP answer: %q", truncate(string(raw), 200))
	}
	return response{status: status, body: body}, nil
}

// judge reads etcd's answer to GET /health: {"health":"true"}, or
// {"health":"false","reason":"ALARM NOSPACE"} with 503.
func judge(endpoint string, r response) error {
	var answer struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(r.body, &answer); err != nil || answer.Health == "" {
		return fmt.Errorf("etcd %s answered GET /health with %s %q, not etcd's health JSON: is this endpoint etcd's client URL?", endpoint, r.status, truncate(string(r.body), 200))
	}
	if answer.Health == "true" {
		return nil
	}
	reason := answer.Reason
	switch {
	case strings.HasPrefix(reason, "ALARM "):
		return fmt.Errorf("active alarm(s) %s: NOSPACE means the database hit its quota (compact, defragment, then `etcdctl alarm disarm`), CORRUPT means a member's data diverged (restore from a snapshot)",
			strings.TrimPrefix(reason, "ALARM "))
	case reason == "RAFT NO LEADER":
		return fmt.Errorf("no raft leader: the member cannot reach a quorum, or is still electing one; see `journalctl -u etcd`")
	case reason == "":
		reason = "no reason given"
	}
	return fmt.Errorf("a linearizable read did not go through (%s); see `journalctl -u etcd`", reason)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

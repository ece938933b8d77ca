package etcdconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestCheckEndpointReadsEtcdsAnswer runs the check against a TLS server that
// answers GET /health as etcd does in each state (the live healthy, refused
// and NOSPACE cases run against a real etcd in internal/etcd), and against
// one that is not etcd.
func TestCheckEndpointReadsEtcdsAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, status, body string
		want               []string // empty: healthy
	}{
		{"healthy", "200", `{"health":"true","reason":""}`, nil},
		{"no leader", "503", `{"health":"false","reason":"RAFT NO LEADER"}`, []string{"no raft leader", "journalctl -u etcd"}},
		{"corrupt", "503", `{"health":"false","reason":"ALARM CORRUPT"}`, []string{"active alarm(s) CORRUPT", "restore from a snapshot"}},
		{"read failed", "503", `{"health":"false","reason":"RANGE ERROR:etcdserver: request timed out"}`, []string{"linearizable read", "request timed out"}},
		{"not etcd", "404", "404 page not found\n", []string{"404 page not found", "not etcd's health JSON", "etcd's client URL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/health" {
					t.Errorf("asked for %s; want /health", r.URL.Path)
				}
				w.WriteHeader(map[string]int{"200": 200, "503": 503, "404": 404}[tc.status])
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			err := CheckEndpoint(context.Background(), Options{}, &tls.Config{RootCAs: pool}, srv.URL)
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("CheckEndpoint: %v; want healthy", err)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("CheckEndpoint: %v; want it to say %q", err, w)
				}
			}
		})
	}
}

package main

import (
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want ui
	}{
		{[]string{"-in-cluster", "-tls-cert-path=/headlamp-cert/tls.crt", "-tls-key-path=/headlamp-cert/tls.key"},
			ui{name: "Headlamp", certFile: "/headlamp-cert/tls.crt", keyFile: "/headlamp-cert/tls.key", port: 4466}},
		{[]string{"--namespace=kubernetes-dashboard", "--default-cert-dir=/certs", "--tls-cert-file=tls.crt",
			"--tls-key-file=tls.key", "--insecure-bind-address=127.0.0.1"},
			ui{name: "Kubernetes Dashboard", certFile: "/certs/tls.crt", keyFile: "/certs/tls.key", port: 8443}},
		{[]string{"--tls-cert-file=a.crt", "--tls-key-file=a.key", "--port=9443"},
			ui{name: "Kubernetes Dashboard", certFile: "/certs/a.crt", keyFile: "/certs/a.key", port: 9443}},
	} {
		got, err := parseFlags(tc.args)
		if err != nil || got != tc.want {
			t.Errorf("parseFlags(%q) = %+v, %v; want %+v", tc.args, got, err, tc.want)
		}
	}
	if _, err := parseFlags([]string{"-in-cluster"}); err == nil || !strings.Contains(err.Error(), "never serves plain HTTP") {
		t.Errorf("without a certificate: %v, want a refusal to serve plain HTTP", err)
	}
	if _, err := parseFlags([]string{"--enable-skip-login"}); err == nil {
		t.Error("an unknown flag was accepted")
	}
}

// fakeAPIServer answers the namespace list for the token "good" and 401
// otherwise, and returns an apiServer that trusts it as a pod trusts the real one.
func fakeAPIServer(t *testing.T) *apiServer {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces" || r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"kind":"NamespaceList","items":[{"metadata":{"name":"default"}},{"metadata":{"name":"kube-system"}}]}`)
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	api, err := newAPIServer(host, port, caFile)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

func TestPage(t *testing.T) {
	h := handler("Headlamp", fakeAPIServer(t), nil)
	for _, tc := range []struct {
		name, target, auth string
		code               int
		want               []string
	}{
		{"no token: the login form", "/", "", 200, []string{"TEST-ONLY STAND-IN", "Headlamp", `<input name="token"`}},
		{"token in the query", "/?token=good", "", 200, []string{`class="ok">200 OK`, "<li>default</li>", "<li>kube-system</li>"}},
		{"token in the header", "/", "Bearer good", 200, []string{"<li>kube-system</li>"}},
		{"a token the apiserver refuses", "/?token=bad", "", 200, []string{`class="refused">401 Unauthorized`}},
		{"another path", "/api/v1/secrets", "", 404, nil},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.target, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != tc.code {
			t.Errorf("%s: HTTP %d, want %d", tc.name, rec.Code, tc.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q:\n%s", tc.name, w, body)
			}
		}
		if strings.Contains(body, "good") || strings.Contains(body, "bad") {
			t.Errorf("%s: the page shows the token", tc.name)
		}
	}
}

func TestPageOutsideAPod(t *testing.T) {
	_, err := newAPIServer("", "", "")
	rec := httptest.NewRecorder()
	handler("Kubernetes Dashboard", nil, err).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?token=x", nil))
	if !strings.Contains(rec.Body.String(), "cannot call the apiserver: KUBERNETES_SERVICE_HOST") {
		t.Errorf("outside a pod the page says:\n%s", rec.Body.String())
	}
}

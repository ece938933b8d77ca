// Command dashboard-standin is a TEST-ONLY stand-in for the dashboard UIs
// (Headlamp and the Kubernetes Dashboard), whose images cannot be pulled and
// whose code the Go module proxy does not serve on machines without a
// registry. It lets the dashboard phase be tested end to end: rollout,
// Service, TLS exposure, token login.
//
// Like the real UIs it serves HTTPS only, with the certificate and key the
// same flags name (Headlamp's -tls-cert-path/-tls-key-path; the Dashboard's
// --tls-cert-file/--tls-key-file in --default-cert-dir), and calls the
// apiserver (the in-cluster Service address, trusting the service-account CA)
// with the token a user gives it, in an Authorization: Bearer header or a
// ?token= query, never with its own: its page lists the namespaces the token
// may see, or shows the apiserver's refusal. It logs no token. It uses the
// standard library only, so k8s-single builds it from its embedded copy of
// this file in a module of its own, like pause.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// serviceAccountCA signs the apiserver's certificate, as every pod sees it.
const serviceAccountCA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

func main() {
	u, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "dashboard-standin:", err)
		os.Exit(2)
	}
	api, apiErr := newAPIServer(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"), serviceAccountCA)
	if apiErr != nil {
		log.Printf("no apiserver: %v", apiErr)
	}
	srv := &http.Server{
		Addr:              ":" + strconv.Itoa(u.port),
		Handler:           handler(u.name, api, apiErr),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	log.Printf("TEST-ONLY %s stand-in serving HTTPS on %s with %s", u.name, srv.Addr, u.certFile)
	log.Fatal(srv.ListenAndServeTLS(u.certFile, u.keyFile))
}

// ui is the UI the stand-in plays and how it serves.
type ui struct {
	name              string
	certFile, keyFile string
	port              int
}

// parseFlags reads the flags of either UI; those the stand-in does not need
// are accepted so that a manifest written for the real image runs it unchanged.
func parseFlags(args []string) (ui, error) {
	fs := flag.NewFlagSet("dashboard-standin", flag.ContinueOnError)
	fs.Bool("in-cluster", false, "Headlamp's; accepted (the stand-in always calls the cluster it runs in)")
	certPath := fs.String("tls-cert-path", "", "Headlamp's: the TLS certificate file")
	keyPath := fs.String("tls-key-path", "", "Headlamp's: the TLS key file")
	certDir := fs.String("default-cert-dir", "/certs", "the Dashboard's: the directory of --tls-cert-file and --tls-key-file")
	certFile := fs.String("tls-cert-file", "", "the Dashboard's: the TLS certificate's file name in --default-cert-dir")
	keyFile := fs.String("tls-key-file", "", "the Dashboard's: the TLS key's file name in --default-cert-dir")
	fs.String("namespace", "", "the Dashboard's; accepted")
	fs.String("insecure-bind-address", "", "the Dashboard's; accepted (the stand-in serves no plain HTTP at all)")
	port := fs.Int("port", 0, "the HTTPS port (default: Headlamp's 4466 with Headlamp's flags, the Dashboard's 8443 with the Dashboard's)")
	if err := fs.Parse(args); err != nil {
		return ui{}, err
	}
	switch {
	case *certPath != "" && *keyPath != "":
		return ui{name: "Headlamp", certFile: *certPath, keyFile: *keyPath, port: orDefault(*port, 4466)}, nil
	case *certFile != "" && *keyFile != "":
		return ui{name: "Kubernetes Dashboard", certFile: filepath.Join(*certDir, *certFile),
			keyFile: filepath.Join(*certDir, *keyFile), port: orDefault(*port, 8443)}, nil
	}
	return ui{}, errors.New("no certificate: give -tls-cert-path and -tls-key-path (Headlamp's flags) " +
		"or --tls-cert-file and --tls-key-file (the Dashboard's); the stand-in never serves plain HTTP")
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// apiServer calls the apiserver as the user whose token it is given.
type apiServer struct {
	base   string
	client *http.Client
}

// newAPIServer reaches the apiserver at host:port, trusting the CA in caFile.
func newAPIServer(host, port, caFile string) (*apiServer, error) {
	if host == "" || port == "" {
		return nil, errors.New("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a pod")
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no PEM certificate in %s", caFile)
	}
	return &apiServer{
		base: "https://" + net.JoinHostPort(host, port),
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		}},
	}, nil
}

// namespaces lists the namespaces as the token's owner. status is the
// apiserver's answer ("200 OK", "401 Unauthorized"); names are empty unless 200.
func (a *apiServer) namespaces(ctx context.Context, token string) (names []string, status string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/api/v1/namespaces", nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.Status, nil
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, resp.Status, fmt.Errorf("decode the namespace list: %w", err)
	}
	for _, it := range list.Items {
		names = append(names, it.Metadata.Name)
	}
	return names, resp.Status, nil
}

// page is what the stand-in shows.
type page struct {
	UI, Pod string
	// Login is set when no token was given: the page asks for one.
	Login bool
	// OK is set when the apiserver answered 200.
	OK         bool
	Status     string
	Namespaces []string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.UI}} - k8s-single test stand-in</title>
<style>
body{font-family:sans-serif;margin:0;background:#f4f6f8;color:#1b1f23}
.banner{background:#b00020;color:#fff;padding:12px 24px;font-weight:bold;letter-spacing:.05em}
main{padding:24px}
.ok{color:#0a7d22;font-weight:bold}.refused{color:#b00020;font-weight:bold}
li{font-family:monospace;font-size:1.1em}
</style></head>
<body><div class="banner">TEST-ONLY STAND-IN: this is not the real {{.UI}}</div><main>
<h1>{{.UI}} (k8s-single test stand-in)</h1>
<p>Served over HTTPS by pod <code>{{.Pod}}</code>.</p>
{{if .Login}}<form method="get"><label>Log in with a token: <input name="token" type="password" size="60"></label>
<button type="submit">Log in</button></form>
{{else}}<p>apiserver, asked with your token for the namespaces: <span class="{{if .OK}}ok{{else}}refused{{end}}">{{.Status}}</span></p>
{{if .Namespaces}}<ul>{{range .Namespaces}}<li>{{.}}</li>{{end}}</ul>{{end}}{{end}}
</main></body></html>
`))

// handler serves the page on /. A token, when given, is sent to the
// apiserver and nowhere else.
func handler(name string, api *apiServer, apiErr error) http.Handler {
	pod, _ := os.Hostname()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		p := page{UI: name, Pod: pod}
		switch token := tokenOf(r); {
		case token == "":
			p.Login = true
		case api == nil:
			p.Status = "cannot call the apiserver: " + apiErr.Error()
		default:
			names, status, err := api.namespaces(r.Context(), token)
			p.OK, p.Status, p.Namespaces = status == "200 OK", status, names
			if err != nil {
				p.Status = strings.TrimSpace(status + " " + err.Error())
			}
			log.Printf("%s: token login, apiserver answered %s, %d namespaces", r.RemoteAddr, p.Status, len(names))
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if err := pageTemplate.Execute(w, p); err != nil {
			log.Printf("render the page: %v", err)
		}
	})
}

// tokenOf takes the token from an Authorization: Bearer header, else from
// the token query parameter.
func tokenOf(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return strings.TrimSpace(r.URL.Query().Get("token"))
}

// Command agent is the verify phase's workload: "agent serve" answers HTTP
// with its host name (the Service under test), and "agent check" resolves
// names through the cluster DNS and fetches URLs, retrying until a deadline,
// printing one line per check and exiting 1 if any failed. It uses the
// standard library only, so k8s-single builds it from its embedded copy of
// this file in a module of its own, like pause.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: agent serve [--addr :8080] | agent check [--resolve NAME]... [--get URL]... [--timeout 60s]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "check":
		os.Exit(check(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "unknown mode %q: want serve or check\n", os.Args[1])
		os.Exit(2)
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", ":8080", "listen address")
	fs.Parse(args)
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "k8s-single-agent %s\n", host)
	})
	fmt.Printf("serving on %s\n", *addr)
	if err := http.ListenAndServe(*addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func check(args []string) int {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	var names, urls list
	fs.Var(&names, "resolve", "a name to resolve (repeatable)")
	fs.Var(&urls, "get", "a URL that must answer 200 (repeatable)")
	timeout := fs.Duration("timeout", 60*time.Second, "how long each check may retry")
	fs.Parse(args)
	failed := 0
	for _, n := range names {
		failed += report("resolve "+n, *timeout, func(ctx context.Context) (string, error) {
			addrs, err := net.DefaultResolver.LookupHost(ctx, n)
			return strings.Join(addrs, ","), err
		})
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for _, u := range urls {
		failed += report("get "+u, *timeout, func(ctx context.Context) (string, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return "", err
			}
			resp, err := client.Do(req)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
			if resp.StatusCode != http.StatusOK {
				return "", fmt.Errorf("HTTP %d", resp.StatusCode)
			}
			return strings.TrimSpace(string(body)), nil
		})
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// report retries one check until it passes or timeout, prints its line and
// returns 1 if it failed.
func report(what string, timeout time.Duration, do func(context.Context) (string, error)) int {
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := do(ctx)
		cancel()
		if err == nil {
			fmt.Printf("ok   %s -> %s (%s)\n", what, got, time.Since(start).Round(time.Millisecond))
			return 0
		}
		if time.Since(start) > timeout {
			fmt.Printf("FAIL %s: %v (after %s)\n", what, err, time.Since(start).Round(time.Millisecond))
			return 1
		}
		time.Sleep(time.Second)
	}
}

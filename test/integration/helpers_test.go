//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
)

type errorString string

func (e errorString) Error() string { return string(e) }

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// waitFor polls check until it succeeds or timeout passes.
func waitFor(t *testing.T, what string, timeout time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// restoredKeys starts a second etcd, from the etcd unit's own command line
// with the data dir and ports swapped, on a restored data dir, and lists its keys.
func restoredKeys(t *testing.T, c *cluster, dataDir string) string {
	t.Helper()
	s := c.startWith("etcd", map[string]string{
		"--data-dir":                    dataDir,
		"--listen-client-urls":          "https://127.0.0.1:12379",
		"--advertise-client-urls":       "https://127.0.0.1:12379",
		"--listen-peer-urls":            "https://127.0.0.1:12380",
		"--initial-advertise-peer-urls": "https://127.0.0.1:12380",
		"--initial-cluster":             c.cfg.Node.Name + "=https://127.0.0.1:12380",
		"--listen-metrics-urls":         "http://127.0.0.1:12381",
	})
	defer s.terminate()
	opts := etcdconn.OptionsFromConfig(c.root, c.cfg)
	opts.Endpoints = []string{"https://127.0.0.1:12379"}
	cli, err := etcd.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var keys []string
	waitFor(t, "restored etcd answers", time.Minute, func() error {
		kvs, err := cli.Get(context.Background(), "/registry/", true, true)
		if err != nil {
			return err
		}
		keys = keys[:0]
		for _, kv := range kvs {
			keys = append(keys, kv.Key)
		}
		return nil
	})
	return strings.Join(keys, "\n")
}

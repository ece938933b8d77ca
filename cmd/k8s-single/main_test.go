package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/cli"
)

// runAsMain makes this test binary k8s-single's front when set, so the tests
// run the real main, hand-off and all, in a process of their own.
const runAsMain = "K8S_SINGLE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runAsMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestQuick(t *testing.T) {
	g := &cli.Globals{}
	root := cli.NewRootCommand(g)
	etcdCommand, _ := cli.NewEtcdCommand(g)
	root.AddCommand(cli.NewVersionCommand(), etcdCommand)
	for args, want := range map[string]bool{
		"version":                    true,
		"etcd health":                true,
		"etcd health -w json":        true,
		"-c /etc/x.yaml etcd health": true,
		"--config=/etc/x.yaml --root /r etcd health --endpoints https://10.0.0.1:2379": true,
		"":                                    false, // the full binary's help lists every command
		"etcd":                                false,
		"etcd status":                         false,
		"etcd snapshot save /tmp/s.db":        false,
		"up":                                  false,
		"-c /etc/x.yaml up --dry-run":         false,
		"version -h":                          false,
		"etcd health --help":                  false,
		"help version":                        false,
		"completion bash":                     false,
		"machine shell -- k8s-single version": false,
	} {
		if got := cli.Quick(root, strings.Fields(args)); got != want {
			t.Errorf("Quick(%q) = %v; want %v", args, got, want)
		}
	}
}

// front copies this test binary to a dir as k8s-single, with full (a
// script) beside it as k8s-single-full when not empty.
func front(t *testing.T, full string) string {
	t.Helper()
	dir := t.TempDir()
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "k8s-single")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if full != "" {
		if err := os.WriteFile(filepath.Join(dir, "k8s-single-full"), []byte(full), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

func run(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), runAsMain+"=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// TestHandOff: every command but the quick ones reaches k8s-single-full with
// the same arguments, and its exit code comes back; the quick ones never
// start it.
func TestHandOff(t *testing.T) {
	bin := front(t, "#!/bin/sh\necho \"full: $*\"\nexit 7\n")
	stdout, stderr, code := run(t, bin, "-c", "/etc/x.yaml", "up", "--dry-run", "--root", "/tmp/stage")
	if stdout != "full: -c /etc/x.yaml up --dry-run --root /tmp/stage\n" || code != 7 {
		t.Errorf("up: stdout %q, stderr %q, exit %d; want the full binary's line and its exit 7", stdout, stderr, code)
	}
	if stdout, _, _ = run(t, bin, "etcd", "health", "--help"); stdout != "full: etcd health --help\n" {
		t.Errorf("etcd health --help: %q; want it handed off", stdout)
	}
	stdout, stderr, code = run(t, bin, "version")
	if !strings.HasPrefix(stdout, "k8s-single ") || strings.Contains(stdout, "full:") || code != 0 {
		t.Errorf("version: stdout %q, stderr %q, exit %d; want the front's own answer", stdout, stderr, code)
	}
	stdout, stderr, code = run(t, bin, "etcd", "health", "--root", t.TempDir())
	if strings.Contains(stdout, "full:") || code != 1 || !strings.Contains(stderr, "etcd CA certificate") || !strings.Contains(stderr, "k8s-single phase run certs") {
		t.Errorf("etcd health without a PKI: stdout %q, stderr %q, exit %d; want the front's error naming the CA and the fix", stdout, stderr, code)
	}
}

func TestHandOffWithoutFullBinary(t *testing.T) {
	_, stderr, code := run(t, front(t, ""), "up")
	if code != 1 || !strings.Contains(stderr, "k8s-single-full") || !strings.Contains(stderr, "make build") {
		t.Errorf("exit %d, stderr %q; want an error naming k8s-single-full and the fix", code, stderr)
	}
}

// TestFrontStaysLight checks, on this package's test binary (the front's
// imports and testing's), that none of the packages whose initialisation
// the split exists to avoid is linked into the front.
func TestFrontStaysLight(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	heavy := []string{"k8s.io/", "go.etcd.io/", "google.golang.org/", "github.com/prometheus/", "net/http",
		"github.com/k8s-single/k8s-single/internal/install"}
	inits := 0
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "init" {
			continue
		}
		inits++
		for _, h := range heavy {
			if strings.HasPrefix(f[1], h) {
				t.Errorf("the front initialises %s", f[1])
			}
		}
	}
	if inits == 0 {
		t.Fatalf("no inittrace lines in:\n%s", out)
	}
}

package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGCOffBeforeHeavyInit checks, on this package's own test binary (the
// same imports as k8s-single), that package startgc turns the collector off
// before the packages that allocate most at initialisation run.
func TestGCOffBeforeHeavyInit(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	order := map[string]int{}
	for i, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "init" {
			order[f[1]] = i + 1
		}
	}
	gcOff := order["github.com/k8s-single/k8s-single/internal/startgc"]
	for _, heavy := range []string{"k8s.io/client-go/kubernetes/scheme", "go.etcd.io/etcd/api/v3/etcdserverpb", "k8s.io/api/core/v1"} {
		if gcOff == 0 || order[heavy] == 0 || order[heavy] < gcOff {
			t.Errorf("init order: startgc at %d, %s at %d; want startgc first", gcOff, heavy, order[heavy])
		}
	}
}

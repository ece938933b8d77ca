package binaries

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInstallFromDir installs from a flat directory and from a Kubernetes
// checkout's layout (_output/bin, third_party/etcd).
func TestInstallFromDir(t *testing.T) {
	for _, tc := range []struct {
		name   string
		subdir func(binary string) string
	}{
		{"flat", func(string) string { return "." }},
		{"checkout", func(b string) string {
			if strings.HasPrefix(b, "etcd") {
				return "third_party/etcd"
			}
			return "_output/bin"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, root := testCluster(t, "dir")
			c.Binaries.Dir = t.TempDir()
			for _, n := range Names {
				writeExecutable(t, filepath.Join(c.Binaries.Dir, tc.subdir(n), n), fakeBinary(n, wantVersion(n)))
			}
			paths, err := Install(context.Background(), root, c, &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			assertInstalled(t, root, c, paths)
		})
	}
}

// TestInstallFromDirRunsOnlyWhatItCopies checks that a second install from
// the same directory runs no source binary (each was copied already; the
// installed ones are checked), and that a changed source is checked before
// it is copied.
func TestInstallFromDirRunsOnlyWhatItCopies(t *testing.T) {
	c, root := testCluster(t, "dir")
	c.Binaries.Dir = t.TempDir()
	calls := filepath.Join(t.TempDir(), "calls")
	for _, n := range Names {
		// each run appends the path it was started as
		script := append([]byte("#!/bin/sh\necho \"$0\" >>"+calls+"\n"), fakeBinary(n, wantVersion(n))[len("#!/bin/sh\n"):]...)
		writeExecutable(t, filepath.Join(c.Binaries.Dir, n), script)
	}
	sourceRuns := func() []string {
		data, _ := os.ReadFile(calls)
		var runs []string
		for _, l := range strings.Fields(string(data)) {
			if strings.HasPrefix(l, c.Binaries.Dir) {
				runs = append(runs, filepath.Base(l))
			}
		}
		os.Remove(calls)
		return runs
	}
	if _, err := Install(context.Background(), root, c, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if runs := sourceRuns(); len(runs) != len(Names) {
		t.Fatalf("first install ran %d source binaries %v, want all %d checked before copying", len(runs), runs, len(Names))
	}
	if _, err := Install(context.Background(), root, c, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if runs := sourceRuns(); len(runs) != 0 {
		t.Errorf("second install of the same set ran source binaries %v; want none (all installed already)", runs)
	}
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(c.Binaries.Dir, "kubelet"), later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(context.Background(), root, c, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if runs := sourceRuns(); len(runs) != 1 || runs[0] != "kubelet" {
		t.Errorf("after touching the source kubelet, the install ran source binaries %v; want [kubelet]", runs)
	}
}

// TestInstallFromDirRefusesWrongSet checks that one error lists every
// missing, unrunnable and wrong-version binary, each with what was found and
// what was wanted, and that nothing is installed.
func TestInstallFromDirRefusesWrongSet(t *testing.T) {
	c, root := testCluster(t, "dir")
	c.Binaries.Dir = t.TempDir()
	bad := map[string]Mismatch{
		"etcd":           {Found: "3.7.2", Want: "3.7.3"},
		"etcdctl":        {Problem: "is missing", Want: "3.7.3"},
		"kube-apiserver": {Found: "v1.37.1", Want: "v1.37.2"},
		"kube-proxy":     {Problem: "does not run", Want: "v1.37.2"},
		"kubelet":        {Problem: "is missing", Want: "v1.37.2"},
	}
	for _, n := range Names {
		p := filepath.Join(c.Binaries.Dir, n)
		switch n {
		case "etcd":
			writeExecutable(t, p, fakeBinary(n, "v3.7.2"))
		case "kube-apiserver":
			writeExecutable(t, p, fakeBinary(n, "v1.37.1"))
		case "kube-proxy":
			writeExecutable(t, p, fakeBinary(n, testKubernetesVersion))
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
		case "etcdctl", "kubelet":
		default:
			writeExecutable(t, p, fakeBinary(n, wantVersion(n)))
		}
	}

	_, err := Install(context.Background(), root, c, &bytes.Buffer{})
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("Install = %v, want a *VersionError", err)
	}
	t.Log(err)
	if len(ve.Mismatches) != len(bad) {
		t.Errorf("%d mismatches, want %d: %v", len(ve.Mismatches), len(bad), err)
	}
	for _, m := range ve.Mismatches {
		want, ok := bad[m.Name]
		if !ok {
			t.Errorf("%s reported, but it is right: %+v", m.Name, m)
			continue
		}
		if m.Found != want.Found || m.Want != want.Want || !strings.HasPrefix(m.Problem, want.Problem) {
			t.Errorf("%s: got %+v, want %+v", m.Name, m, want)
		}
		if !strings.Contains(err.Error(), m.Name+": "+m.Path) {
			t.Errorf("error does not name %s with its path: %v", m.Name, err)
		}
	}
	for _, s := range []string{"reports 3.7.2, want 3.7.3", "reports v1.37.1, want v1.37.2", "is missing, want v1.37.2"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error lacks %q:\n%v", s, err)
		}
	}
	assertEmptyDir(t, root.Path(c.Binaries.InstallDir))
}

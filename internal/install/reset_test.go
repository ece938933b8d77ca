package install

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/runtime"
)

// fakeRun records command lines; commands in fail fail.
type fakeRun struct {
	calls []string
	out   map[string]string
	fail  map[string]bool
}

func (f *fakeRun) run(name string, args ...string) ([]byte, error) {
	line := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, line)
	if f.fail[line] {
		return nil, fmt.Errorf("%s: exit status 1", line)
	}
	return []byte(f.out[line]), nil
}

// fakeSystemd records what was asked of systemd.
type fakeSystemd struct{ calls []string }

func (f *fakeSystemd) DaemonReload(context.Context) error {
	f.calls = append(f.calls, "daemon-reload")
	return nil
}
func (f *fakeSystemd) EnableAndStart(_ context.Context, u string) error {
	f.calls = append(f.calls, "enable-start "+u)
	return nil
}
func (f *fakeSystemd) WaitActive(context.Context, string, time.Duration) error { return nil }
func (f *fakeSystemd) StopAndDisable(_ context.Context, u string) error {
	f.calls = append(f.calls, "stop-disable "+u)
	return nil
}
func (f *fakeSystemd) ResetFailed(_ context.Context, u string) error {
	f.calls = append(f.calls, "reset-failed "+u)
	return nil
}
func (f *fakeSystemd) JournalTail(string, int) string { return "" }

type lines struct{ bytes.Buffer }

func (l *lines) Printf(format string, args ...any) { fmt.Fprintf(&l.Buffer, format+"\n", args...) }

// fakeUnmount replaces unmount; busy mount points fail without MNT_DETACH.
func fakeUnmount(t *testing.T, busy ...string) *[]string {
	var calls []string
	old := unmount
	unmount = func(target string, flags int) error {
		calls = append(calls, fmt.Sprintf("%s %d", target, flags))
		if flags&syscall.MNT_DETACH == 0 && slices.Contains(busy, target) {
			return syscall.EBUSY
		}
		return nil
	}
	t.Cleanup(func() { unmount = old })
	return &calls
}

func writeMountinfo(t *testing.T, points ...string) string {
	t.Helper()
	var b strings.Builder
	for i, p := range points {
		fmt.Fprintf(&b, "%d 1 0:%d / %s rw,relatime shared:1 - tmpfs tmpfs rw\n", 100+i, 50+i, strings.ReplaceAll(p, " ", `\040`))
	}
	path := filepath.Join(t.TempDir(), "mountinfo")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMountsUnder(t *testing.T) {
	mi := writeMountinfo(t, "/", "/var/lib/kubelet", "/var/lib/kubelet/pods/a/volumes/x", "/var/lib/kubeletx",
		"/var/lib/kubelet/pods/a/volumes/kubernetes.io~projected/kube api access", "/var/lib/kubelet/pods/b")
	got, err := mountsUnder(mi, "/var/lib/kubelet/")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/var/lib/kubelet/pods/a/volumes/kubernetes.io~projected/kube api access",
		"/var/lib/kubelet/pods/a/volumes/x", "/var/lib/kubelet/pods/b", "/var/lib/kubelet"}
	if !slices.Equal(got, want) {
		t.Errorf("mountsUnder = %q, want %q", got, want)
	}
}

func TestUnmountAllLazyWhenBusy(t *testing.T) {
	calls := fakeUnmount(t, "/a/b")
	n, err := unmountAll([]string{"/a/b", "/a"})
	if n != 2 || err != nil {
		t.Errorf("unmountAll = %d, %v", n, err)
	}
	if want := []string{"/a/b 0", fmt.Sprintf("/a/b %d", syscall.MNT_DETACH), "/a 0"}; !slices.Equal(*calls, want) {
		t.Errorf("unmounts %q, want %q", *calls, want)
	}
}

func TestCleanupNode(t *testing.T) {
	cfg := sampleCluster(t)
	root := host.Root(t.TempDir())
	proxy := filepath.Join(cfg.Binaries.InstallDir, "kube-proxy")
	if err := root.WriteFile(proxy, []byte("#!/bin/true\n"), 0o755, 0o755); err != nil {
		t.Fatal(err)
	}
	mi := writeMountinfo(t, "/", root.Path("/var/lib/kubelet/pods/a/volumes/x"), root.Path("/var/lib/kubelet/pods/a/volumes/x/y"), "/var/lib/other")
	calls := fakeUnmount(t)
	run := &fakeRun{out: map[string]string{"iptables-save": "*nat\n:KUBE-KUBELET-CANARY - [0:0]\nCOMMIT\n"}, fail: map[string]bool{"ip6tables-save": true}}
	var out lines
	if err := cleanupNode(&out, root, cfg, run.run, mi); err != nil {
		t.Fatal(err)
	}
	want := []string{root.Path(proxy) + " --cleanup", "iptables-save",
		"iptables -w -t nat -F KUBE-KUBELET-CANARY", "iptables -w -t nat -X KUBE-KUBELET-CANARY", "ip6tables-save"}
	if !slices.Equal(run.calls, want) {
		t.Errorf("ran %q, want %q", run.calls, want)
	}
	if want := []string{root.Path("/var/lib/kubelet/pods/a/volumes/x/y") + " 0", root.Path("/var/lib/kubelet/pods/a/volumes/x") + " 0"}; !slices.Equal(*calls, want) {
		t.Errorf("unmounted %q, want %q", *calls, want)
	}
	if !strings.Contains(out.String(), "unmounted 2 mounts under /var/lib/kubelet") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestCleanupRuntime(t *testing.T) {
	for _, enabledBefore := range []bool{false, true} {
		t.Run(fmt.Sprintf("enabled before %v", enabledBefore), func(t *testing.T) {
			root := host.Root(t.TempDir())
			lease := root.Path(runtime.CNIStateDir + "/10.244.0.5")
			if err := root.WriteFile(runtime.CNIStateDir+"/10.244.0.5", []byte("x"), 0o644, 0o755); err != nil {
				t.Fatal(err)
			}
			state := "disabled"
			if enabledBefore {
				state = "enabled"
			}
			if err := recordContainerdState(root, state); err != nil {
				t.Fatal(err)
			}
			ns := root.Path("/run/netns/cni-1234")
			if err := root.WriteFile("/run/netns/cni-1234", nil, 0o444, 0o755); err != nil {
				t.Fatal(err)
			}
			shm := root.Path(criSandboxes + "/abc/shm")
			mi := writeMountinfo(t, "/", ns, root.Path("/run/netns/other"), shm)
			unmounts := fakeUnmount(t)
			q := "ctr -n k8s.io --connect-timeout 2s --timeout 10s "
			run := &fakeRun{out: map[string]string{q + "containers ls -q": "c1\n", q + "tasks ls -q": "c1\n"}}
			m := &fakeSystemd{}
			var out lines
			if err := cleanupRuntime(t.Context(), &out, root, run.run, m, mi); err != nil {
				t.Fatal(err)
			}
			want := []string{q + "containers ls -q", q + "tasks ls -q",
				"ctr -n k8s.io tasks kill -s SIGKILL c1", "ctr -n k8s.io tasks delete -f c1", "ctr -n k8s.io containers delete c1",
				"ip link show cni0", "ip link delete cni0"}
			if !slices.Equal(run.calls, want) {
				t.Errorf("ran %q, want %q", run.calls, want)
			}
			if want := []string{shm + " 0", ns + " 0"}; !slices.Equal(*unmounts, want) {
				t.Errorf("unmounted %q, want %q", *unmounts, want)
			}
			if exists(ns) || exists(lease) {
				t.Error("the netns file or the leases are left")
			}
			var wantSystemd []string
			if !enabledBefore {
				wantSystemd = []string{"stop-disable containerd.service"}
			}
			if !slices.Equal(m.calls, wantSystemd) {
				t.Errorf("systemd %q, want %q", m.calls, wantSystemd)
			}
		})
	}
}

func TestContainerdConfigBackupRestore(t *testing.T) {
	debian := []byte("version = 2\n[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"/var/lib/containerd/opt\"\n")
	ours := []byte(runtime.ContainerdConfigHeader + "; it is rewritten.\nversion = 2\n")

	t.Run("theirs is backed up once and restored", func(t *testing.T) {
		root := host.Root(t.TempDir())
		if err := root.WriteFile(runtime.ContainerdConfig, debian, 0o640, 0o755); err != nil {
			t.Fatal(err)
		}
		if saved, err := backupContainerdConfig(root); !saved || err != nil {
			t.Fatalf("first backup: %v, %v", saved, err)
		}
		// The phase writes ours; a second run keeps the first backup.
		if err := root.WriteFile(runtime.ContainerdConfig, ours, 0o644, 0o755); err != nil {
			t.Fatal(err)
		}
		if saved, err := backupContainerdConfig(root); saved || err != nil {
			t.Fatalf("second backup: %v, %v", saved, err)
		}
		// reset removes the phase's files, then restores.
		if err := os.Remove(root.Path(runtime.ContainerdConfig)); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := restoreRuntime(root, &out); err != nil {
			t.Fatal(err)
		}
		got, err := root.ReadFile(runtime.ContainerdConfig)
		if err != nil || !bytes.Equal(got, debian) {
			t.Fatalf("restored %q, %v; want %q", got, err, debian)
		}
		if st, _ := os.Stat(root.Path(runtime.ContainerdConfig)); st.Mode().Perm() != 0o640 {
			t.Errorf("restored mode %o, want 640", st.Mode().Perm())
		}
		if exists(root.Path(BackupDir)) {
			t.Error("the backup dir is left")
		}
	})

	t.Run("none before: ours goes and nothing comes back", func(t *testing.T) {
		root := host.Root(t.TempDir())
		if saved, err := backupContainerdConfig(root); saved || err != nil {
			t.Fatalf("backup without a config: %v, %v", saved, err)
		}
		if err := root.WriteFile(runtime.ContainerdConfig, ours, 0o644, 0o755); err != nil {
			t.Fatal(err)
		}
		if saved, err := backupContainerdConfig(root); saved || err != nil {
			t.Fatalf("backup of ours: %v, %v", saved, err)
		}
		if err := recordContainerdState(root, "disabled"); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(root.Path(runtime.ContainerdConfig)); err != nil {
			t.Fatal(err)
		}
		enabled, err := restoreRuntime(root, &bytes.Buffer{})
		if err != nil || enabled {
			t.Fatal(enabled, err)
		}
		if exists(root.Path(runtime.ContainerdConfig)) || exists(root.Path(BackupDir)) {
			t.Error("a config or the backup dir is left")
		}
	})
}

func TestReloadUnits(t *testing.T) {
	m := &fakeSystemd{}
	var out bytes.Buffer
	if err := reloadUnits(t.Context(), m, sampleCluster(t), &out, true); err != nil {
		t.Fatal(err)
	}
	if len(m.calls) < 3 || m.calls[0] != "daemon-reload" || m.calls[len(m.calls)-1] != "enable-start containerd.service" ||
		!slices.Contains(m.calls, "reset-failed kube-apiserver.service") || !slices.Contains(m.calls, "reset-failed containerd.service") {
		t.Errorf("systemd calls %q", m.calls)
	}
}

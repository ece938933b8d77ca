package binaries

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

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

// installed is what identifies an installed file: a copy replaces the
// inode, and a file left alone keeps its inode and time.
type installed struct {
	ino   uint64
	mtime time.Time
}

func stat(t *testing.T, path string) installed {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return installed{st.Sys().(*syscall.Stat_t).Ino, st.ModTime()}
}

// TestInstallCopiesOnlyWhatChanged installs from a directory, changes the
// source or the installed files, installs again, and checks that exactly the
// binaries whose destination no longer matches its source by size, time and
// mode were copied: the others keep their inode and time.
func TestInstallCopiesOnlyWhatChanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		// change alters the source dir src or the install dir dest.
		change     func(t *testing.T, src, dest string)
		wantCopied []string
	}{
		{"same source", func(*testing.T, string, string) {}, nil},
		{"source grew, same time", func(t *testing.T, src, _ string) {
			p := filepath.Join(src, "kubelet")
			keepTime(t, p, func() { appendTo(t, p, "# rebuilt\n") })
		}, []string{"kubelet"}},
		{"source touched, same size", func(t *testing.T, src, _ string) {
			p := filepath.Join(src, "kube-proxy")
			st, _ := os.Stat(p)
			os.Chtimes(p, time.Time{}, st.ModTime().Add(time.Second))
		}, []string{"kube-proxy"}},
		{"installed file chmod-ed", func(t *testing.T, _, dest string) {
			os.Chmod(filepath.Join(dest, "etcd"), 0o644)
		}, []string{"etcd"}},
		{"installed file edited", func(t *testing.T, _, dest string) {
			appendTo(t, filepath.Join(dest, "kubectl"), "# local edit\n")
		}, []string{"kubectl"}},
		{"installed file edited in place, same size", func(t *testing.T, _, dest string) {
			p := filepath.Join(dest, "etcdctl")
			data, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.ToUpper(data), 0o755)
		}, []string{"etcdctl"}},
		{"installed file deleted", func(t *testing.T, _, dest string) {
			os.Remove(filepath.Join(dest, "kube-scheduler"))
		}, []string{"kube-scheduler"}},
		{"installed file replaced by a symlink to the source", func(t *testing.T, src, dest string) {
			p := filepath.Join(dest, "kube-apiserver")
			os.Remove(p)
			os.Symlink(filepath.Join(src, "kube-apiserver"), p)
		}, []string{"kube-apiserver"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, root := testCluster(t, "dir")
			c.Binaries.Dir = t.TempDir()
			// Sources built an hour ago: a file written during the test never
			// has their time by chance of the clock's granularity.
			built := time.Now().Add(-time.Hour)
			for _, n := range Names {
				p := filepath.Join(c.Binaries.Dir, n)
				writeExecutable(t, p, fakeBinary(n, wantVersion(n)))
				if err := os.Chtimes(p, time.Time{}, built); err != nil {
					t.Fatal(err)
				}
			}
			dest := root.Path(ReleaseDir(c))
			assertCopied(t, root, c, len(Names))
			before := map[string]installed{}
			for _, n := range Names {
				before[n] = stat(t, filepath.Join(dest, n))
			}

			tc.change(t, c.Binaries.Dir, dest)
			assertCopied(t, root, c, len(tc.wantCopied))
			for _, n := range Names {
				got := stat(t, filepath.Join(dest, n))
				src, _ := os.Stat(filepath.Join(c.Binaries.Dir, n))
				// The count says how many were copied; these say which were not.
				if !slices.Contains(tc.wantCopied, n) && got != before[n] {
					t.Errorf("%s: copied again (inode %d, time %v; before %d, %v)", n, got.ino, got.mtime, before[n].ino, before[n].mtime)
				}
				if !got.mtime.Equal(src.ModTime()) {
					t.Errorf("%s: time %v, want the source's %v", n, got.mtime, src.ModTime())
				}
			}
		})
	}
}

// assertCopied installs and checks the result and the count in the output.
func assertCopied(t *testing.T, root host.Root, c *config.Cluster, copied int) {
	t.Helper()
	var out bytes.Buffer
	_, err := Install(context.Background(), root, c, &out)
	if err != nil {
		t.Fatalf("Install: %v\n%s", err, out.String())
	}
	want := fmt.Sprintf(": %d copied, %d already identical\n", copied, len(Names)-copied)
	if !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	for _, name := range Names {
		p := root.Path(filepath.Join(ReleaseDir(c), name))
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != modeBinary {
			t.Errorf("%s: %v, %v; want a regular file with mode 0755", name, st, err)
			continue
		}
		got, _ := os.ReadFile(p)
		src, _ := os.ReadFile(filepath.Join(c.Binaries.Dir, name))
		if !bytes.Equal(got, src) {
			t.Errorf("%s: installed content is not the source's", name)
		}
	}
}

// keepTime runs change on the file at p and gives p its time back.
func keepTime(t *testing.T, p string, change func()) {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	change()
	if err := os.Chtimes(p, time.Time{}, st.ModTime()); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, p, s string) {
	t.Helper()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkInstallFromDir installs 8 binaries of 20 MiB each from a
// directory: into an empty install dir (every byte read, written and synced)
// and again into one that already holds them (only their version checks).
func BenchmarkInstallFromDir(b *testing.B) {
	const size = 20 << 20
	c := config.Default(config.HostFacts{Hostname: "node1", DefaultRouteAddress: "192.0.2.10"})
	c.KubernetesVersion = testKubernetesVersion
	c.EtcdVersion = testEtcdVersion
	c.Binaries.Dir = b.TempDir()
	for _, n := range Names {
		// The script exits before the padding, which makes it binary-sized.
		data := append(fakeBinary(n, wantVersion(n)), "exit 0\n"...)
		data = append(data, bytes.Repeat([]byte("#"), size-len(data))...)
		if err := os.WriteFile(filepath.Join(c.Binaries.Dir, n), data, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	dest := filepath.Join(b.TempDir(), "bin")
	for _, bc := range []struct {
		name   string
		reset  func()
		copied int
	}{
		{"first copy", func() { os.RemoveAll(dest) }, len(Names)},
		{"already identical", func() { installFromDir(c, dest) }, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(Names)) * size)
			for range b.N {
				b.StopTimer()
				bc.reset()
				b.StartTimer()
				copied, err := installFromDir(c, dest)
				if err != nil || len(copied) != bc.copied {
					b.Fatalf("installFromDir = %v, %v; want %d copied", copied, err, bc.copied)
				}
			}
		})
	}
}

package binaries

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config"
)

// releaseTree is a release-shaped tree served over HTTP on 127.0.0.1: dl.k8s.io's
// <version>/bin/linux/<arch>/<binary> with <binary>.sha256 under /k8s, and
// etcd's <version>/etcd-<version>-linux-<arch>.tar.gz with SHA256SUMS under /etcd.
type releaseTree struct {
	dir string
	srv *httptest.Server

	mu       sync.Mutex
	requests []request
}

// request is one request the server answered.
type request struct {
	path, rangeHeader string
	status            int
}

func newRelease(t *testing.T) *releaseTree {
	t.Helper()
	r := &releaseTree{dir: t.TempDir()}
	for _, n := range kubernetesNames {
		data := fakeBinary(n, testKubernetesVersion)
		writeExecutable(t, r.kubePath(n), data)
		writeExecutable(t, r.kubePath(n)+".sha256", []byte(digest(data)+"\n"))
	}
	tarball := etcdTarball(t)
	writeExecutable(t, r.etcdPath(), tarball)
	sums := fmt.Sprintf("%s  etcd-%s-linux-arm64.tar.gz\n%s  %s\n",
		digest([]byte("another")), testEtcdVersion, digest(tarball), filepath.Base(r.etcdPath()))
	writeExecutable(t, filepath.Join(filepath.Dir(r.etcdPath()), "SHA256SUMS"), []byte(sums))

	files := http.FileServer(http.Dir(r.dir)) // honours Range
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		files.ServeHTTP(rec, req)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.requests = append(r.requests, request{req.URL.Path, req.Header.Get("Range"), rec.status})
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *releaseTree) kubePath(name string) string {
	return filepath.Join(r.dir, "k8s", testKubernetesVersion, "bin", "linux", runtime.GOARCH, name)
}

func (r *releaseTree) etcdPath() string {
	return filepath.Join(r.dir, "etcd", testEtcdVersion, "etcd-"+testEtcdVersion+"-linux-"+runtime.GOARCH+".tar.gz")
}

// configure points c's download URLs at the server.
func (r *releaseTree) configure(c *config.Cluster) {
	c.Binaries.DownloadURL = r.srv.URL + "/k8s"
	c.Binaries.EtcdDownloadURL = r.srv.URL + "/etcd/" // a trailing slash is fine
}

// requestsFor returns the requests for URL paths ending in suffix.
func (r *releaseTree) requestsFor(suffix string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []request
	for _, q := range r.requests {
		if strings.HasSuffix(q.path, suffix) {
			out = append(out, q)
		}
	}
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// etcdTarball is shaped like etcd's release tarball: a top directory with
// etcd, etcdctl, etcdutl and docs (one of them also named etcd, deeper down).
func etcdTarball(t *testing.T) []byte {
	t.Helper()
	top := "etcd-" + testEtcdVersion + "-linux-" + runtime.GOARCH + "/"
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{top + "Documentation/etcd", []byte("not the binary")},
		{top + "README.md", []byte("etcd")},
		{top + "etcd", fakeBinary("etcd", testEtcdVersion)},
		{top + "etcdctl", fakeBinary("etcdctl", testEtcdVersion)},
		{top + "etcdutl", []byte("#!/bin/sh\n")},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(f.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// kubeCache is where Download keeps a Kubernetes binary it fetched.
func kubeCache(c *config.Cluster, name string) string {
	return filepath.Join(c.Binaries.CacheDir, "downloads", "kubernetes-"+testKubernetesVersion+"-linux-"+runtime.GOARCH, name)
}

// TestInstallDownload installs the 8 from a release tree, then again from
// the download cache without fetching, extracting or copying a binary twice.
func TestInstallDownload(t *testing.T) {
	r := newRelease(t)
	c, root := testCluster(t, "download")
	r.configure(c)
	var out bytes.Buffer
	paths, err := Install(context.Background(), root, c, &out)
	if err != nil {
		t.Fatalf("Install: %v\n%s", err, out.String())
	}
	t.Logf("first install:\n%s", out.String())
	assertInstalled(t, root, c, paths)
	if !strings.Contains(out.String(), "100%") {
		t.Errorf("no progress line with a percentage:\n%s", out.String())
	}

	extracted := filepath.Join(c.Binaries.CacheDir, "downloads", "etcd-"+testEtcdVersion+"-linux-"+runtime.GOARCH, "etcd")
	before := stat(t, extracted)
	out.Reset()
	if _, err := Install(context.Background(), root, c, &out); err != nil {
		t.Fatalf("second Install: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), ": 0 copied, 8 already identical") {
		t.Errorf("second run copied binaries:\n%s", out.String())
	}
	if stat(t, extracted) != before {
		t.Errorf("second run extracted etcd from the tarball again")
	}
	for _, n := range []string{"/kubelet", ".tar.gz"} {
		if got := len(r.requestsFor(n)); got != 1 {
			t.Errorf("%s fetched %d times over two installs, want once (the cache)", n, got)
		}
	}
	if !strings.Contains(out.String(), "cached, sha256 verified") {
		t.Errorf("second run does not say it used the cache:\n%s", out.String())
	}
}

// TestInstallDownloadRefusesBadChecksum checks that a file whose digest is
// not the published one is refused with both digests, its .part is deleted,
// and nothing at all lands in the install directory.
func TestInstallDownloadRefusesBadChecksum(t *testing.T) {
	for _, tc := range []struct {
		file string
		path func(*releaseTree) string
	}{
		{"kube-scheduler", func(r *releaseTree) string { return r.kubePath("kube-scheduler") }},
		{"etcd-" + testEtcdVersion + "-linux-" + runtime.GOARCH + ".tar.gz", (*releaseTree).etcdPath},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := newRelease(t)
			c, root := testCluster(t, "download")
			r.configure(c)
			good, err := os.ReadFile(tc.path(r))
			if err != nil {
				t.Fatal(err)
			}
			bad := append([]byte("tampered "), good...)
			writeExecutable(t, tc.path(r), bad)

			_, err = Install(context.Background(), root, c, &bytes.Buffer{})
			var ce *ChecksumError
			if !errors.As(err, &ce) {
				t.Fatalf("Install = %v, want a *ChecksumError", err)
			}
			t.Log(err)
			if ce.File != tc.file || ce.Want != digest(good) || ce.Got != digest(bad) {
				t.Errorf("got %+v, want file %s, want %s, got %s", ce, tc.file, digest(good), digest(bad))
			}
			for _, s := range []string{tc.file, "expected " + digest(good), "got " + digest(bad)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q: %v", s, err)
				}
			}
			assertEmptyDir(t, root.Path(c.Binaries.InstallDir))
			parts, _ := filepath.Glob(filepath.Join(c.Binaries.CacheDir, "downloads", "*", "*.part"))
			top, _ := filepath.Glob(filepath.Join(c.Binaries.CacheDir, "downloads", "*.part"))
			if len(parts)+len(top) > 0 {
				t.Errorf("partial downloads left: %v %v", parts, top)
			}
		})
	}
}

// TestInstallDownloadResumes checks that a .part left by an interrupted run
// is completed with a Range request, and that a .part that cannot be
// completed into the right file is deleted so the next run starts afresh.
func TestInstallDownloadResumes(t *testing.T) {
	r := newRelease(t)
	c, root := testCluster(t, "download")
	r.configure(c)
	full := fakeBinary("kubelet", testKubernetesVersion)
	half := len(full) / 2
	writeExecutable(t, kubeCache(c, "kubelet")+".part", full[:half])

	var out bytes.Buffer
	paths, err := Install(context.Background(), root, c, &out)
	if err != nil {
		t.Fatalf("Install: %v\n%s", err, out.String())
	}
	assertInstalled(t, root, c, paths)
	reqs := r.requestsFor("/kubelet")
	if len(reqs) != 1 || reqs[0].rangeHeader != fmt.Sprintf("bytes=%d-", half) || reqs[0].status != http.StatusPartialContent {
		t.Errorf("kubelet requests %+v, want one Range: bytes=%d- answered 206", reqs, half)
	}
	if !strings.Contains(out.String(), "resuming at") {
		t.Errorf("output does not say it resumed:\n%s", out.String())
	}

	// A .part with a wrong prefix completes into a wrong file: refused, deleted,
	// and the next run fetches the file whole.
	c2, root2 := testCluster(t, "download")
	r.configure(c2)
	writeExecutable(t, kubeCache(c2, "kubelet")+".part", []byte("garbage"))
	var ce *ChecksumError
	if _, err := Install(context.Background(), root2, c2, &bytes.Buffer{}); !errors.As(err, &ce) {
		t.Fatalf("Install with a bad .part = %v, want a *ChecksumError", err)
	}
	if _, err := os.Stat(kubeCache(c2, "kubelet") + ".part"); !os.IsNotExist(err) {
		t.Errorf("bad .part not deleted: %v", err)
	}
	paths, err = Install(context.Background(), root2, c2, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("Install after a bad .part: %v", err)
	}
	assertInstalled(t, root2, c2, paths)
}

func TestDigestFor(t *testing.T) {
	d := digest([]byte("x"))
	for _, tc := range []struct {
		name, sums, file, want, err string
	}{
		{"digest alone", d + "\n", "kubelet", d, ""},
		{"sha256sum lines", "aa  other\n" + strings.ToUpper(d) + "  etcd.tar.gz\n", "etcd.tar.gz", d, ""},
		{"binary mode", d + " *etcd.tar.gz\n", "etcd.tar.gz", d, ""},
		{"not listed", d + "  other\n" + d + "  more\n", "etcd.tar.gz", "", "no sha256 listed"},
		{"not a digest", "1234\n", "kubelet", "", "not a sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := digestFor([]byte(tc.sums), tc.file)
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("digestFor = %q, %v; want %q, error containing %q", got, err, tc.want, tc.err)
			}
		})
	}
}

package binaries

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// maxSumsSize bounds a checksum file read into memory.
const maxSumsSize = 1 << 20

// ChecksumError is a download whose sha256 is not the one its release
// publishes. The downloaded file was deleted and nothing was installed.
type ChecksumError struct {
	File, URL string
	Want, Got string // hex sha256
}

// Error names the file with the expected and the got digest.
func (e *ChecksumError) Error() string {
	return fmt.Sprintf("%s: sha256 mismatch: expected %s, got %s (from %s); "+
		"the download was deleted and nothing was installed: run again to fetch it afresh, "+
		"and if it fails again check binaries.downloadURL/etcdDownloadURL", e.File, e.Want, e.Got, e.URL)
}

// Download fetches the release binaries for this machine's architecture:
// Kubernetes' six from <DownloadURL>/<version>/bin/linux/<arch>/<name>, each
// checked against the <name>.sha256 beside it (dl.k8s.io's layout), and etcd's
// tarball <EtcdDownloadURL>/<version>/etcd-<version>-linux-<arch>.tar.gz,
// checked against SHA256SUMS beside it. Files go to <cacheDir>/downloads
// through a .part file that a later run resumes (HTTP Range), and a file is
// used only once its digest matches. Only when all are verified are the 8
// copied into destDir, each atomically with mode 0755, except those destDir
// already holds with the cached file's size and modification time (a cached
// file keeps its time until it is fetched again). It returns how many it
// copied.
func Download(ctx context.Context, c *config.Cluster, destDir string, out io.Writer) (int, error) {
	d := downloader{dir: filepath.Join(c.Binaries.CacheDir, "downloads"), out: out}
	kubeDir, err := d.kubernetes(ctx, c.Binaries.DownloadURL, c.KubernetesVersion)
	if err != nil {
		return 0, err
	}
	etcdDir, err := d.etcd(ctx, c.Binaries.EtcdDownloadURL, c.EtcdVersion)
	if err != nil {
		return 0, err
	}
	paths := pathsIn(kubeDir, kubernetesNames)
	maps.Copy(paths, pathsIn(etcdDir, etcdNames))
	copied, err := copyAll(paths, destDir)
	return len(copied), err
}

// downloader fetches release files into dir and prints progress to out.
type downloader struct {
	dir string
	out io.Writer
}

// kubernetes fetches the six Kubernetes binaries and returns the directory
// holding them.
func (d downloader) kubernetes(ctx context.Context, baseURL, version string) (string, error) {
	dir := filepath.Join(d.dir, "kubernetes-"+version+"-linux-"+runtime.GOARCH)
	base := fmt.Sprintf("%s/%s/bin/linux/%s/", strings.TrimSuffix(baseURL, "/"), version, runtime.GOARCH)
	for _, name := range kubernetesNames {
		if err := d.verified(ctx, base+name, base+name+".sha256", filepath.Join(dir, name)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// etcd fetches etcd's release tarball, extracts etcd and etcdctl and returns
// the directory holding them.
func (d downloader) etcd(ctx context.Context, baseURL, version string) (string, error) {
	stem := "etcd-" + version + "-linux-" + runtime.GOARCH
	base := strings.TrimSuffix(baseURL, "/") + "/" + version + "/"
	tarball := filepath.Join(d.dir, stem+".tar.gz")
	if err := d.verified(ctx, base+stem+".tar.gz", base+"SHA256SUMS", tarball); err != nil {
		return "", err
	}
	dir := filepath.Join(d.dir, stem)
	return dir, extractEtcd(tarball, dir)
}

// verified leaves at file the content of url whose sha256 is the one sumsURL
// lists for it: a cached file that matches is kept, anything else is fetched.
func (d downloader) verified(ctx context.Context, url, sumsURL, file string) error {
	sums, err := getSmall(ctx, sumsURL)
	if err != nil {
		return err
	}
	want, err := digestFor(sums, path.Base(url))
	if err != nil {
		return fmt.Errorf("%s: %w", sumsURL, err)
	}
	name := filepath.Base(file)
	if got, _, err := host.FileDigest(file); err == nil && got == want {
		fmt.Fprintf(d.out, "%-24s cached, sha256 verified\n", name)
		return nil
	}
	part := file + ".part"
	if err := d.fetch(ctx, url, part); err != nil {
		return err
	}
	got, _, err := host.FileDigest(part)
	if err != nil {
		return err
	}
	if got != want {
		os.Remove(part)
		return &ChecksumError{File: name, URL: url, Want: want, Got: got}
	}
	return os.Rename(part, file)
}

// fetch downloads url into part, resuming after the bytes part already has
// when the server honours Range.
func (d downloader) fetch(ctx context.Context, url, part string) error {
	if err := os.MkdirAll(filepath.Dir(part), layout.ModeDir); err != nil {
		return err
	}
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	offset, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	resp, err := get(ctx, url, offset)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	name := strings.TrimSuffix(filepath.Base(part), ".part")
	if offset > 0 && resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return nil // part is whole already; the checksum decides
	}
	if offset, err = d.resume(f, resp, offset, name); err != nil {
		return err
	}
	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = offset + resp.ContentLength
	}
	m := newMeter(d.out, name, offset, total)
	if _, err := io.Copy(f, io.TeeReader(resp.Body, m)); err != nil {
		return fmt.Errorf("GET %s: %w; run again to resume", url, err)
	}
	m.print()
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// resume positions part for the response's body and returns the offset the
// body starts at: after the bytes part had (206), or at 0 (200, the server
// ignored Range).
func (d downloader) resume(part *os.File, resp *http.Response, offset int64, name string) (int64, error) {
	switch {
	case offset > 0 && resp.StatusCode == http.StatusPartialContent:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", offset)) {
			return 0, fmt.Errorf("GET %s: asked for bytes %d- and got Content-Range %q",
				resp.Request.URL, offset, resp.Header.Get("Content-Range"))
		}
		fmt.Fprintf(d.out, "%-24s resuming at %s\n", name, size(offset))
		return offset, nil
	case resp.StatusCode == http.StatusOK:
		if err := part.Truncate(0); err != nil {
			return 0, err
		}
		_, err := part.Seek(0, io.SeekStart)
		return 0, err
	}
	return 0, fmt.Errorf("GET %s: %s", resp.Request.URL, resp.Status)
}

// get sends a GET, asking for the bytes from offset on when it is not 0.
func get(ctx context.Context, url string, offset int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	return http.DefaultClient.Do(req)
}

// getSmall reads a small file (a checksum list) whole.
func getSmall(ctx context.Context, url string) ([]byte, error) {
	resp, err := get(ctx, url, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxSumsSize))
}

// digestFor finds file's sha256 in a checksum file: either the digest alone
// (dl.k8s.io's <binary>.sha256) or sha256sum lines ("<digest>  <file>").
func digestFor(sums []byte, file string) (string, error) {
	if f := strings.Fields(string(sums)); len(f) == 1 {
		return hexDigest(f[0])
	}
	for _, line := range strings.Split(string(sums), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.TrimPrefix(f[1], "*") == file {
			return hexDigest(f[0])
		}
	}
	return "", fmt.Errorf("no sha256 listed for %s", file)
}

func hexDigest(s string) (string, error) {
	s = strings.ToLower(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%q is not a sha256 digest", s)
	}
	return s, nil
}

// extractEtcd writes etcd and etcdctl from the top directory of etcd's
// release tarball into dir, with put and the times the tarball gives them, so
// a second run extracts nothing and leaves their times for copyAll to match.
func extractEtcd(tarball, dir string) error {
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", tarball, err)
	}
	tr := tar.NewReader(gz)
	left := map[string]bool{}
	for _, n := range etcdNames {
		left[n] = true
	}
	for len(left) > 0 {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s holds no %v in its top directory", tarball, slices.Sorted(maps.Keys(left)))
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", tarball, err)
		}
		name := path.Clean(hdr.Name)
		base := path.Base(name)
		if hdr.Typeflag != tar.TypeReg || !left[base] || strings.Count(name, "/") > 1 {
			continue
		}
		if _, err := put(filepath.Join(dir, base), tr, hdr.Size, hdr.ModTime); err != nil {
			return fmt.Errorf("extract %s from %s: %w", name, tarball, err)
		}
		delete(left, base)
	}
	return nil
}

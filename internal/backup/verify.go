package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTampered marks an archive that does not match its manifest: a member
// changed, added, missing, or named outside the paths a backup may hold.
var ErrTampered = errors.New("the archive does not match its manifest")

// Archive is a backup archive whose every member matched its manifest when
// it was opened.
type Archive struct {
	// Path is the archive file.
	Path string
	// Manifest is the archive's verified manifest.
	Manifest *Manifest
	config   []byte
}

// Open reads the archive at path and verifies it whole without writing
// anything: the manifest comes first and is well formed, every other member
// is a regular file with a clean name the manifest lists once, with the
// manifest's size, mode and sha256, no listed member is missing and nothing
// follows the archive's end. Errors wrap ErrTampered and name the member
// and both digests.
func Open(path string) (*Archive, error) {
	a := &Archive{Path: path}
	m, err := walk(path, func(x Member) io.Writer {
		if x.Name == ConfigName {
			a.config = []byte{}
			return &limitedBuffer{buf: &bytes.Buffer{}, n: maxManifestSize, dst: &a.config}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.Manifest = m
	return a, nil
}

// Config returns the archived config file (install.ConfigPath), if any.
func (a *Archive) Config() ([]byte, bool) { return a.config, a.config != nil }

// walk reads the archive, checking every member against the manifest as
// Open describes. For each member it asks sink for a writer to receive its
// bytes (nil: discard); a member's bytes reach the writer before its digest
// is known, so a caller keeps nothing until walk returns nil.
func walk(path string, sink func(Member) io.Writer) (*Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open backup: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, tampered("%s is not a gzip stream: %v", path, err)
	}
	tr := tar.NewReader(gz)
	m, err := readManifest(tr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, tampered("read %s: %v", path, err)
		}
		if err := checkMember(m, hdr, seen); err != nil {
			return nil, err
		}
		want, _ := m.Member(hdr.Name)
		h := sha256.New()
		dst := io.Writer(h)
		if w := sink(want); w != nil {
			dst = io.MultiWriter(h, w)
		}
		n, err := io.Copy(dst, tr)
		if err != nil {
			return nil, tampered("member %q: read: %v", hdr.Name, err)
		}
		got := hex.EncodeToString(h.Sum(nil))
		if got != want.SHA256 || n != want.Size {
			return nil, tampered("member %q: sha256 %s (%d bytes) in the archive, %s (%d bytes) in the manifest",
				hdr.Name, got, n, want.SHA256, want.Size)
		}
	}
	for _, x := range m.Members {
		if !seen[x.Name] {
			return nil, tampered("member %q (sha256 %s in the manifest) is missing from the archive", x.Name, x.SHA256)
		}
	}
	if err := requireZeros(gz); err != nil {
		return nil, tampered("%s: %v", path, err)
	}
	return m, nil
}

// readManifest reads and parses the first member, which must be the manifest.
func readManifest(tr *tar.Reader) (*Manifest, error) {
	hdr, err := tr.Next()
	if err != nil {
		return nil, tampered("read the manifest: %v", err)
	}
	if hdr.Name != ManifestName || hdr.Typeflag != tar.TypeReg {
		return nil, tampered("the first member is %q, want the manifest %s", hdr.Name, ManifestName)
	}
	if hdr.Size > maxManifestSize {
		return nil, tampered("the manifest is %d bytes, more than %d", hdr.Size, maxManifestSize)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, tampered("read the manifest: %v", err)
	}
	m, err := parseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTampered, err)
	}
	return m, nil
}

// checkMember checks a member's header before its bytes are read: a clean
// known name, a regular file, listed in the manifest, not seen before, with
// the manifest's mode.
func checkMember(m *Manifest, hdr *tar.Header, seen map[string]bool) error {
	if err := checkName(hdr.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrTampered, err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return tampered("member %q is not a regular file (tar type %q)", hdr.Name, hdr.Typeflag)
	}
	want, ok := m.Member(hdr.Name)
	if !ok {
		return tampered("member %q is not in the manifest", hdr.Name)
	}
	if seen[hdr.Name] {
		return tampered("member %q appears twice", hdr.Name)
	}
	seen[hdr.Name] = true
	if got := modeString(os.FileMode(hdr.Mode)); got != want.Mode {
		return tampered("member %q: mode %s in the archive, %s in the manifest", hdr.Name, got, want.Mode)
	}
	return nil
}

// requireZeros reads r to its end and refuses anything but the zero
// padding a tar stream ends with.
func requireZeros(r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			if b != 0 {
				return errors.New("data follows the end of the archive")
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func tampered(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrTampered, fmt.Sprintf(format, args...))
}

// limitedBuffer keeps up to n bytes and publishes them to *dst as they
// come; a longer member is an error.
type limitedBuffer struct {
	buf *bytes.Buffer
	n   int
	dst *[]byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.buf.Len()+len(p) > b.n {
		return 0, fmt.Errorf("more than %d bytes", b.n)
	}
	b.buf.Write(p)
	*b.dst = b.buf.Bytes()
	return len(p), nil
}

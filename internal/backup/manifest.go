package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
)

// FormatVersion is the version of the archive layout this package writes
// and reads.
const FormatVersion = 1

// maxManifestSize bounds the manifest a reader accepts.
const maxManifestSize = 1 << 20

// Manifest describes an archive: where and when it was made, with which
// versions, and the size, mode and sha256 of every other member.
type Manifest struct {
	Format           int       `json:"format"`
	Created          time.Time `json:"created"`
	K8sSingleVersion string    `json:"k8sSingleVersion"`
	Node             Node      `json:"node"`
	// KubernetesVersion and EtcdVersion are the versions installed when the
	// backup was taken (which wrote its data).
	KubernetesVersion string   `json:"kubernetesVersion"`
	EtcdVersion       string   `json:"etcdVersion"`
	Snapshot          Snapshot `json:"etcdSnapshot"`
	Members           []Member `json:"members"`
}

// Node is the identity of the node the backup was taken on.
type Node struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Snapshot is what etcd's snapshot status said of the archived snapshot.
type Snapshot struct {
	Revision  int64  `json:"revision"`
	TotalKeys int    `json:"totalKeys"`
	Hash      uint32 `json:"hash"`
	// StorageVersion is the snapshot's storage version, e.g. 3.7.0.
	StorageVersion string `json:"storageVersion"`
}

// Member is one archived file.
type Member struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Mode is the file's permission bits in octal, e.g. "0600".
	Mode string `json:"mode"`
}

// FileMode returns the member's permission bits.
func (m Member) FileMode() (os.FileMode, error) {
	v, err := strconv.ParseUint(m.Mode, 8, 32)
	if err != nil || v&^0o777 != 0 {
		return 0, fmt.Errorf("member %q: mode %q is not octal permission bits such as 0600", m.Name, m.Mode)
	}
	return os.FileMode(v), nil
}

func modeString(m os.FileMode) string { return fmt.Sprintf("%04o", m.Perm()) }

// Member returns the manifest's entry for name.
func (m *Manifest) Member(name string) (Member, bool) {
	i := slices.IndexFunc(m.Members, func(x Member) bool { return x.Name == name })
	if i < 0 {
		return Member{}, false
	}
	return m.Members[i], true
}

// Size returns the total size of the members.
func (m *Manifest) Size() int64 {
	var n int64
	for _, x := range m.Members {
		n += x.Size
	}
	return n
}

// parseManifest decodes a manifest strictly and checks it: a known format,
// every member name clean and known, none twice, sizes and digests well
// formed and the required members listed.
func parseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("manifest: format %d, this k8s-single reads format %d", m.Format, FormatVersion)
	}
	var errs []error
	seen := map[string]bool{}
	for _, x := range m.Members {
		if err := checkName(x.Name); err != nil {
			errs = append(errs, fmt.Errorf("manifest: %w", err))
			continue
		}
		if seen[x.Name] {
			errs = append(errs, fmt.Errorf("manifest: member %q is listed twice", x.Name))
		}
		seen[x.Name] = true
		if _, err := x.FileMode(); err != nil {
			errs = append(errs, fmt.Errorf("manifest: %w", err))
		}
		if x.Size < 0 || len(x.SHA256) != 64 {
			errs = append(errs, fmt.Errorf("manifest: member %q: size %d, sha256 %q: want a size and a hex sha256", x.Name, x.Size, x.SHA256))
		}
	}
	for _, name := range requiredMembers {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("manifest: the required member %q is not listed", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &m, nil
}

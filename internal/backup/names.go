package backup

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/layout"
)

// Member names inside an archive. Every name is a clean relative path: one
// of these, or pkiPrefix followed by a path relative to layout.PKIDir.
const (
	// ManifestName is the archive's first member: the Manifest as JSON.
	ManifestName = "manifest.json"
	// SnapshotName is the etcd snapshot.
	SnapshotName = "etcd/snapshot.db"
	// EncryptionConfigName is layout.EncryptionConfig, the key that
	// encrypts the Secrets in the snapshot.
	EncryptionConfigName = "kubernetes/encryption-config.yaml"
	// ConfigName is layout.KeptConfig, the config k8s-single keeps.
	ConfigName = "k8s-single/config.yaml"
	// JournalName is layout.Journal; it is archived for the record and
	// never restored.
	JournalName = "k8s-single/state.json"
	pkiPrefix   = "pki/"
)

// fixedMembers maps the members outside the PKI to their host paths.
var fixedMembers = map[string]string{
	SnapshotName:         "",
	EncryptionConfigName: layout.EncryptionConfig,
	ConfigName:           layout.KeptConfig,
	JournalName:          layout.Journal,
}

// requiredMembers must be in every archive: without the CA or the key that
// encrypts the Secrets, the snapshot cannot bring the cluster back.
var requiredMembers = []string{SnapshotName, EncryptionConfigName, pkiPrefix + "ca.crt", pkiPrefix + "ca.key"}

// checkName accepts a clean relative member name that maps to a host path
// this package may write: a fixed member, or a file under pki/. A name with
// "..", an absolute path or anything else is refused, so a tampered
// archive cannot reach outside those paths.
func checkName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("member %q is not a clean relative path under %s or one of %s: %s",
			name, strings.TrimSuffix(pkiPrefix, "/"), strings.Join(fixedNames(), ", "), why)
	}
	switch {
	case name == "":
		return bad("it is empty")
	case path.IsAbs(name):
		return bad("it is absolute")
	case strings.Contains(name, "\\") || strings.ContainsRune(name, 0):
		return bad("it holds a backslash or a NUL")
	case path.Clean(name) != name:
		return bad("it is not clean")
	case strings.HasPrefix(name, "../") || name == ".." || strings.Contains(name, "/../"):
		return bad(`it climbs out with ".."`)
	}
	if _, ok := fixedMembers[name]; ok {
		return nil
	}
	if rel, ok := strings.CutPrefix(name, pkiPrefix); ok && rel != "" && rel != "." {
		return nil
	}
	return bad("it is none of the members a backup holds")
}

// fixedNames lists the fixed members in a stable order for messages.
func fixedNames() []string {
	return []string{SnapshotName, EncryptionConfigName, ConfigName, JournalName}
}

// hostPath returns the host path a member restores to ("" for the snapshot).
// The name must have passed checkName.
func hostPath(name string) string {
	if rel, ok := strings.CutPrefix(name, pkiPrefix); ok {
		return path.Join(layout.PKIDir, rel)
	}
	return fixedMembers[name]
}

// Archive file names: k8s-single-backup-20261201T160313.123Z.tar.gz. The
// UTC timestamp sorts as the names do.
const (
	namePrefix = "k8s-single-backup-"
	nameSuffix = ".tar.gz"
	timeFormat = "20060102T150405.000Z"
)

var archiveNameRE = regexp.MustCompile(`^` + namePrefix + `\d{8}T\d{6}\.\d{3}Z` + regexp.QuoteMeta(nameSuffix) + `$`)

// ArchiveName returns the file name of an archive created at t.
func ArchiveName(t time.Time) string { return namePrefix + t.UTC().Format(timeFormat) + nameSuffix }

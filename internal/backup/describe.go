package backup

import (
	"fmt"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/printer"
)

// Lines describes what the archive holds, one "what  detail" line each,
// for the backup and restore commands to print.
func (m *Manifest) Lines() []string {
	var pkiFiles int
	var pkiSize int64
	for _, x := range m.Members {
		if strings.HasPrefix(x.Name, pkiPrefix) {
			pkiFiles++
			pkiSize += x.Size
		}
	}
	line := func(what, format string, args ...any) string {
		return fmt.Sprintf("  %-10s %s", what, fmt.Sprintf(format, args...))
	}
	out := []string{
		line("node", "%s %s", m.Node.Name, m.Node.Address),
		line("created", "%s", m.Created.Format(time.RFC3339Nano)),
		line("versions", "Kubernetes %s, etcd %s, k8s-single %s", m.KubernetesVersion, m.EtcdVersion, m.K8sSingleVersion),
	}
	if snap, ok := m.Member(SnapshotName); ok {
		out = append(out, line("etcd", "snapshot %s: revision %d, %d keys, storage version %s",
			printer.Bytes(snap.Size), m.Snapshot.Revision, m.Snapshot.TotalKeys, m.Snapshot.StorageVersion))
	}
	out = append(out, line("pki", "%d files, %s (%s, etcd/ included)", pkiFiles, printer.Bytes(pkiSize), layout.PKIDir),
		line("key", "%s", layout.EncryptionConfig))
	if _, ok := m.Member(ConfigName); ok {
		out = append(out, line("config", "%s", hostPath(ConfigName)))
	} else {
		out = append(out, line("config", "none kept (up ran on the defaults)"))
	}
	if _, ok := m.Member(JournalName); ok {
		out = append(out, line("journal", "%s (for the record: restore does not restore it)", layout.Journal))
	}
	return out
}

// Cluster returns the config a restore of the archive runs with: the
// archived config, with this host's defaults for what it leaves out, and
// whether the archive holds one. Without one, it returns nil and false.
func (a *Archive) Cluster(h config.HostFacts) (*config.Cluster, bool, error) {
	data, ok := a.Config()
	if !ok {
		return nil, false, nil
	}
	c, err := config.Parse(data)
	if err != nil {
		return nil, true, fmt.Errorf("the archived config %s: %w", ConfigName, err)
	}
	c.ApplyDefaults(h)
	if err := c.Validate(); err != nil {
		return nil, true, fmt.Errorf("the archived config %s: %w", ConfigName, err)
	}
	return c, true, nil
}

package install

import (
	"fmt"
	"os"
	"time"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/units"
	"github.com/k8s-single/k8s-single/internal/version"
)

// Backups up takes on its own before it restarts a running etcd or
// apiserver: how many it keeps, and how recent one must be to serve again
// (the control plane restarts right after etcd in the same run).
const (
	keepPreRestartBackups = 5
	preRestartBackupFresh = 10 * time.Minute
)

// backupBeforeRestart writes a backup (as `k8s-single backup` does) when the
// unit is running and about to be restarted, unless one was written within
// preRestartBackupFresh, and keeps the newest keepPreRestartBackups. The
// backup records the versions installed now, which wrote the data. When
// the restart moves the binaries to another release (an upgrade), the
// backup is required: without one nothing is restarted. Otherwise a backup
// that fails (etcd unhealthy: perhaps what this run repairs) is reported
// and does not stop the run.
func backupBeforeRestart(c *phases.Context, unit string, binaryNames ...string) error {
	required := binaries.WouldReplace(c.Root, c.Config, binaryNames...)
	m, err := units.NewManager(c)
	if err != nil {
		return nil
	}
	state, err := m.ActiveState(c, unit)
	m.Close()
	if err != nil || state != "active" {
		return nil
	}
	dir := c.Root.Path(layout.BackupDir)
	if recent(dir) {
		c.Printf("a backup from the last %s is in %s: no new one before restarting %s", preRestartBackupFresh, layout.BackupDir, unit)
		return nil
	}
	cli, err := etcd.New(etcdconn.OptionsFromConfig(c.Root, c.Config))
	if err == nil {
		defer cli.Close()
		var res *backup.Result
		res, err = backup.Create(c, backup.Options{Root: c.Root, Dir: layout.BackupDir, Cluster: InstalledVersions(c.Root, c.Config),
			Version: version.Version, Snapshots: backup.EtcdSnapshotter(cli)})
		if err == nil {
			c.Printf("backup before restarting %s: %s (restore with k8s-single restore)", unit, res.Path)
			_, err = backup.Prune(dir, keepPreRestartBackups)
		}
	}
	switch {
	case err != nil && required:
		return fmt.Errorf("no backup before upgrading %s, so nothing was restarted: %w; "+
			"make etcd healthy (k8s-single doctor) or take one with k8s-single backup, then run up again", unit, err)
	case err != nil:
		c.Printf("WARNING: no backup before restarting %s: %v", unit, err)
	}
	return nil
}

// InstalledVersions is the config with the versions of the etcd and
// kube-apiserver binaries installed now, which wrote etcd's data (the
// config's own where a binary cannot tell): what a backup records.
func InstalledVersions(root host.Root, c *config.Cluster) *config.Cluster {
	cfg := *c
	if v, err := binaries.Installed(root, c, "etcd"); err == nil && v != "" {
		cfg.EtcdVersion = v
	}
	if v, err := binaries.Installed(root, c, "kube-apiserver"); err == nil && v != "" {
		cfg.KubernetesVersion = v
	}
	return &cfg
}

// recent reports whether the newest archive in dir is younger than preRestartBackupFresh.
func recent(dir string) bool {
	archives, err := backup.List(dir)
	if err != nil || len(archives) == 0 {
		return false
	}
	st, err := os.Stat(archives[len(archives)-1])
	return err == nil && time.Since(st.ModTime()) < preRestartBackupFresh
}

package install

import (
	"os"
	"time"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/units"
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
// preRestartBackupFresh, and keeps the newest keepPreRestartBackups. A
// backup that fails (etcd unhealthy: perhaps what this run repairs) is
// reported and does not stop the run.
func backupBeforeRestart(c *phases.Context, unit string) {
	m, err := units.NewManager(c)
	if err != nil {
		return
	}
	state, err := m.ActiveState(c, unit)
	m.Close()
	if err != nil || state != "active" {
		return
	}
	dir := c.Root.Path(layout.BackupDir)
	if recent(dir) {
		c.Printf("a backup from the last %s is in %s: no new one before restarting %s", preRestartBackupFresh, layout.BackupDir, unit)
		return
	}
	cli, err := etcd.New(etcd.OptionsFromConfig(c.Root, c.Config))
	if err == nil {
		defer cli.Close()
		var res *backup.Result
		res, err = backup.Create(c, backup.Options{Root: c.Root, Dir: layout.BackupDir, Cluster: c.Config,
			Version: Version, Snapshots: backup.EtcdSnapshotter(cli)})
		if err == nil {
			c.Printf("backup before restarting %s: %s (restore with k8s-single restore)", unit, res.Path)
			_, err = backup.Prune(dir, keepPreRestartBackups)
		}
	}
	if err != nil {
		c.Printf("WARNING: no backup before restarting %s: %v", unit, err)
	}
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

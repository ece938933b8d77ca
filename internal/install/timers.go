package install

import (
	"fmt"
	"os"
	"path"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/units"
)

// The units the timers phase enables: the renewal timer and the boot check.
// The boot check is only enabled (it runs at the next boot), never started
// here: it would run up from within up.
var (
	timerUnit       = units.CertsRenewalUnit + ".timer"
	bootCheckUnit   = units.BootCheckUnit + ".service"
	backupTimerUnit = units.BackupUnit + ".timer"
)

// removeBackupTimer stops the scheduled backups an earlier config set up,
// once backup.schedule is gone from the config, and deletes their units.
func removeBackupTimer(c *phases.Context) error {
	paths := []string{path.Join(layout.UnitDir, backupTimerUnit), path.Join(layout.UnitDir, units.BackupUnit+".service")}
	if _, err := os.Stat(c.Root.Path(paths[0])); err != nil {
		return nil
	}
	if err := stopUnits(c, backupTimerUnit); err != nil {
		return err
	}
	for _, p := range paths {
		if err := os.Remove(c.Root.Path(p)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	c.Printf("scheduled backups stopped: backup.schedule is no longer set")
	return nil
}

// Timers installs k8s-single itself next to the binaries, the daily timer
// that renews the certificates before they expire, the boot-time check that
// re-applies the install when the node's address changed, and the backup
// timer when backup.schedule is set.
func Timers() phases.Phase {
	return phases.Phase{
		Name:  PhaseTimers,
		Short: "install k8s-single, its boot-time address check and its daily certificate-renewal timer",
		// It reads no other phase's files; it runs last so that only a
		// verified cluster gets the boot check and the timers.
		After:  []phases.Name{PhaseVerify, PhaseMetrics},
		Inputs: func(c *phases.Context) (any, error) { return digestsOf(timerFiles(c)) },
		Render: func(c *phases.Context) error {
			fs, err := timerFiles(c)
			if err != nil {
				return err
			}
			return fs.write(c)
		},
		Start: func(c *phases.Context) error {
			if err := installSelf(c); err != nil {
				return err
			}
			if err := enableUnits(c, bootCheckUnit); err != nil {
				return err
			}
			if c.Config.Backup.Schedule == "" {
				if err := removeBackupTimer(c); err != nil {
					return err
				}
				return startUnits(c, timerUnit)
			}
			return startUnits(c, timerUnit, backupTimerUnit)
		},
		Undo: func(c *phases.Context) error { return stopUnits(c, bootCheckUnit, timerUnit, backupTimerUnit) },
		Plan: func(c *phases.Context) []string {
			return []string{"copy k8s-single to " + selfPath(c), "enable " + bootCheckUnit + " (runs up at every boot)",
				"enable and start " + timerUnit}
		},
	}
}

func timerFiles(c *phases.Context) (files, error) {
	return units.RenderTimers(c.Config)
}

func selfPath(c *phases.Context) string { return path.Join(c.Config.Binaries.InstallDir, units.Self) }

// installSelf copies the running k8s-single to the install dir (0755), where
// the timers run it; a copy that is already the running binary stays.
func installSelf(c *phases.Context) error {
	// /proc/self/exe opens the running binary even when its file is gone:
	// upgrade rollback's reset --purge deletes the installed copy, which
	// may be the one running.
	exe := "/proc/self/exe"
	if _, err := os.Stat(exe); err != nil {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find k8s-single's own binary: %w", err)
		}
	}
	dst := c.Root.Path(selfPath(c))
	c.Track(selfPath(c))
	if same, _ := sameFile(exe, dst); same {
		return nil
	}
	src, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := host.CopyAtomic(dst, src, 0o755, layout.ModeDir); err != nil {
		return err
	}
	c.Printf("k8s-single copied to %s", selfPath(c))
	return nil
}

// sameFile reports whether two paths hold the same bytes (by digest).
func sameFile(a, b string) (bool, error) {
	da, _, err := host.FileDigest(a)
	if err != nil {
		return false, err
	}
	db, _, err := host.FileDigest(b)
	return err == nil && da == db, err
}

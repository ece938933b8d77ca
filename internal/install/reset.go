package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/runtime"
	"github.com/k8s-single/k8s-single/internal/units"
)

// BackupDir keeps what k8s-single replaced on the host and reset puts back:
// a containerd config that was not ours, and whether containerd.service was
// enabled before the runtime phase enabled it.
const BackupDir = layout.StateDir + "/backup"

// Files of BackupDir.
const (
	containerdConfigBackup = BackupDir + "/containerd-config.toml"
	containerdUnitState    = BackupDir + "/containerd.service.state"
)

// containerdUnit is containerd's unit, which the runtime phase enables and
// starts: k8s-single's own, or Debian's with runtime.source debian.
const containerdUnit = units.ContainerdUnit + ".service"

// printer is what the cleanup steps say their progress with (*phases.Context).
type printer interface {
	Printf(format string, args ...any)
}

// Reset undoes the install (the runner's Reset over every phase), then puts
// back the containerd config the runtime phase replaced and, on a host run by
// systemd, reloads systemd and clears the failed state of the removed units,
// so that none is left loaded.
func Reset(ctx context.Context, root host.Root, out io.Writer, verbose bool, cfg *config.Cluster, opts phases.ResetOptions) error {
	err := NewRunner(root, out, verbose).Reset(ctx, cfg, opts)
	j, jerr := phases.LoadJournal(root)
	if jerr != nil {
		return errors.Join(err, jerr)
	}
	var restoredEnabled bool
	if rec, ok := j.Phases[PhaseRuntime]; !ok || rec.Status == phases.Pending {
		var rerr error
		restoredEnabled, rerr = restoreRuntime(root, out)
		err = errors.Join(err, rerr)
	}
	if root.IsSystem() && exists("/run/systemd/system") {
		err = errors.Join(err, reloadSystemd(ctx, cfg, out, restoredEnabled))
	}
	return err
}

// reloadSystemd makes systemd forget the unit files reset removed
// (daemon-reload, reset-failed). restartContainerd restarts a containerd
// that was enabled before k8s-single, on its restored config.
func reloadSystemd(ctx context.Context, cfg *config.Cluster, out io.Writer, restartContainerd bool) error {
	m, err := units.NewManager(ctx)
	if err != nil {
		return err
	}
	defer m.Close()
	return reloadUnits(ctx, m, cfg, out, restartContainerd)
}

// reloadUnits is reloadSystemd over any units.Systemd.
func reloadUnits(ctx context.Context, m units.Systemd, cfg *config.Cluster, out io.Writer, restartContainerd bool) error {
	if err := m.DaemonReload(ctx); err != nil {
		return err
	}
	names := []string{containerdUnit}
	if us, err := units.RenderUnits(cfg, HostFacts(cfg)); err == nil {
		names = names[:0]
		for _, f := range us {
			names = append(names, path.Base(f.Path))
		}
		names = append(names, containerdUnit)
	}
	var errs []error
	for _, u := range names {
		if err := m.ResetFailed(ctx, u); err != nil {
			errs = append(errs, err)
		}
	}
	fmt.Fprintf(out, "reset: systemd reloaded (daemon-reload, reset-failed %s)\n", strings.Join(names, " "))
	if restartContainerd {
		fmt.Fprintf(out, "reset: restarting %s on its restored config (it was enabled before k8s-single)\n", containerdUnit)
		if err := m.EnableAndStart(ctx, containerdUnit); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// backupContainerdConfig keeps a copy of a config.toml that is not ours,
// before the runtime phase writes its own over it the first time. A backup
// already there is the original and stays.
func backupContainerdConfig(root host.Root) (bool, error) {
	data, err := root.ReadFile(runtime.ContainerdConfig)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && runtime.IsOurContainerdConfig(data)) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := os.Stat(root.Path(containerdConfigBackup)); err == nil {
		return false, nil
	}
	mode := os.FileMode(layout.ModePublic)
	if st, err := os.Stat(root.Path(runtime.ContainerdConfig)); err == nil {
		mode = st.Mode().Perm()
	}
	return true, root.WriteFile(containerdConfigBackup, data, mode, layout.ModePrivateDir)
}

// restoreRuntime runs after reset removed the runtime phase's files: it puts
// the backed-up containerd config back (reset removed ours; with no backup
// there was none) and forgets the backups. It returns whether containerd
// was enabled before k8s-single.
func restoreRuntime(root host.Root, out io.Writer) (bool, error) {
	enabled := wasEnabled(root)
	var errs []error
	data, err := root.ReadFile(containerdConfigBackup)
	switch {
	case err == nil:
		cur, cerr := root.ReadFile(runtime.ContainerdConfig)
		if cerr == nil && !runtime.IsOurContainerdConfig(cur) {
			fmt.Fprintf(out, "reset: %s was rewritten by someone else: keeping it, the original is in %s\n",
				runtime.ContainerdConfig, root.Path(containerdConfigBackup))
			return enabled, nil
		}
		mode := os.FileMode(layout.ModePublic)
		if st, err := os.Stat(root.Path(containerdConfigBackup)); err == nil {
			mode = st.Mode().Perm()
		}
		if err := root.WriteFile(runtime.ContainerdConfig, data, mode, layout.ModeDir); err != nil {
			return enabled, err
		}
		fmt.Fprintf(out, "reset: restored %s as it was before k8s-single\n", runtime.ContainerdConfig)
	case !errors.Is(err, fs.ErrNotExist):
		return enabled, err
	}
	for _, p := range []string{containerdConfigBackup, containerdUnitState} {
		if err := os.Remove(root.Path(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	_ = os.Remove(root.Path(BackupDir)) // only when empty
	return enabled, errors.Join(errs...)
}

// wasEnabled reads whether containerd.service was enabled before the
// runtime phase enabled it. Without a record, k8s-single enabled it.
func wasEnabled(root host.Root) bool {
	data, err := root.ReadFile(containerdUnitState)
	return err == nil && strings.TrimSpace(string(data)) == "enabled"
}

// recordContainerdState remembers containerd.service's UnitFileState
// before the runtime phase first enables it; a record there stays.
func recordContainerdState(root host.Root, state string) error {
	if _, err := os.Stat(root.Path(containerdUnitState)); err == nil {
		return nil
	}
	return root.WriteFile(containerdUnitState, []byte(state+"\n"), layout.ModePublic, layout.ModePrivateDir)
}

package units

import (
	"path"
	"strconv"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/k8s-single/k8s-single/internal/config"
)

// Self is k8s-single's own binary's name in the install dir, where the
// timers run it from.
const Self = "k8s-single"

// CertsRenewalUnit is the timer that renews the certificates before they
// expire, daily; its service has the same name.
const CertsRenewalUnit = "k8s-single-certs"

// RenewWithin is what the timer passes to `certs renew --expiring-within`.
const RenewWithin = "30d"

// BootCheckUnit runs `k8s-single up` once at every boot, after the network
// is up: a no-op (milliseconds) when nothing changed; when the node's address
// changed (DHCP, a cloned VM) it re-signs what carries the address, rewrites
// what embeds it and restarts what uses it. It cannot be ordered before etcd:
// a unit that etcd waits for could not start etcd itself.
const BootCheckUnit = "k8s-single-ip"

// BackupUnit is the timer (and its service) that runs `k8s-single backup`
// on backup.schedule, when the config sets one.
const BackupUnit = "k8s-single-backup"

// RenderTimers returns the certificate-renewal service and timer, the
// boot-time check and, when backup.schedule is set, the backup service and
// timer, 0600 like every unit of the install. The renewal service runs
// k8s-single from the install dir (one-shot, after the control plane); its
// timer fires daily at a random time of the day's first hour and, with
// Persistent=true, at boot when a run was missed while the machine was off.
// The backup timer fires on the schedule, Persistent too, keeping
// backup.keep archives in backup.dir.
func RenderTimers(c *config.Cluster) ([]File, error) {
	installDir := c.Binaries.InstallDir
	service := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "Renew k8s-single's certificates that expire within "+RenewWithin),
		unit.NewUnitOption("Unit", "Documentation", "man:k8s-single(1) https://github.com/k8s-single/k8s-single"),
		unit.NewUnitOption("Unit", "After", "network-online.target kube-apiserver.service"),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "ExecStart", execStart([]string{path.Join(installDir, Self),
			"certs", "renew", "--expiring-within", RenewWithin})),
	}
	timer := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "Daily renewal of k8s-single's certificates"),
		unit.NewUnitOption("Timer", "OnCalendar", "daily"),
		unit.NewUnitOption("Timer", "RandomizedDelaySec", "1h"),
		unit.NewUnitOption("Timer", "Persistent", "true"),
		unit.NewUnitOption("Install", "WantedBy", "timers.target"),
	}
	boot := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "Re-apply k8s-single at boot when the node's address (or its config) changed"),
		unit.NewUnitOption("Unit", "Documentation", "man:k8s-single(1) https://github.com/k8s-single/k8s-single"),
		unit.NewUnitOption("Unit", "After", "network-online.target"),
		unit.NewUnitOption("Unit", "Wants", "network-online.target"),
		unit.NewUnitOption("Service", "Type", "oneshot"),
		unit.NewUnitOption("Service", "ExecStart", execStart([]string{path.Join(installDir, Self), "up"})),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	}
	all := []namedUnit{{CertsRenewalUnit + ".service", service}, {CertsRenewalUnit + ".timer", timer}, {BootCheckUnit + ".service", boot}}
	if c.Backup.Schedule != "" {
		backupService := []*unit.UnitOption{
			unit.NewUnitOption("Unit", "Description", "Back up k8s-single's etcd, PKI and keys"),
			unit.NewUnitOption("Unit", "Documentation", "man:k8s-single(1) https://github.com/k8s-single/k8s-single"),
			unit.NewUnitOption("Unit", "After", "etcd.service"),
			unit.NewUnitOption("Service", "Type", "oneshot"),
			unit.NewUnitOption("Service", "ExecStart", execStart([]string{path.Join(installDir, Self),
				"backup", "--dir", c.Backup.Dir, "--keep", strconv.Itoa(c.Backup.Keep)})),
		}
		backupTimer := []*unit.UnitOption{
			unit.NewUnitOption("Unit", "Description", "Scheduled backups of k8s-single ("+c.Backup.Schedule+")"),
			unit.NewUnitOption("Timer", "OnCalendar", c.Backup.Schedule),
			unit.NewUnitOption("Timer", "RandomizedDelaySec", "5m"),
			unit.NewUnitOption("Timer", "Persistent", "true"),
			unit.NewUnitOption("Install", "WantedBy", "timers.target"),
		}
		all = append(all, namedUnit{BackupUnit + ".service", backupService}, namedUnit{BackupUnit + ".timer", backupTimer})
	}
	var files []File
	for _, u := range all {
		f, err := render(u)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// namedUnit is a unit file's name and options, before serializing.
type namedUnit struct {
	name string
	opts []*unit.UnitOption
}

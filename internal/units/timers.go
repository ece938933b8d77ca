package units

import (
	"bytes"
	"fmt"
	"io"
	"path"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/k8s-single/k8s-single/internal/layout"
)

// Self is k8s-single's own binary's name in the install dir, where the
// timers run it from.
const Self = "k8s-single"

// CertsRenewalUnit is the timer that renews the certificates before they
// expire, daily; its service has the same name.
const CertsRenewalUnit = "k8s-single-certs"

// RenewWithin is what the timer passes to `certs renew --expiring-within`.
const RenewWithin = "30d"

// RenderTimers returns the certificate-renewal service and timer, 0600 like
// every unit of the install: the service runs k8s-single from installDir
// (one-shot, after the control plane), the timer fires daily at a random time
// of the day's first hour and, with Persistent=true, at boot when a run was
// missed while the machine was off.
func RenderTimers(installDir string) ([]File, error) {
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
	var files []File
	for _, u := range []struct {
		name string
		opts []*unit.UnitOption
	}{{CertsRenewalUnit + ".service", service}, {CertsRenewalUnit + ".timer", timer}} {
		data, err := io.ReadAll(unit.Serialize(u.opts))
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", u.name, err)
		}
		if _, err := unit.DeserializeOptions(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("render %s: systemd could not read it: %w", u.name, err)
		}
		files = append(files, File{Path: path.Join(layout.UnitDir, u.name), Data: data, Mode: layout.ModePrivate})
	}
	return files, nil
}

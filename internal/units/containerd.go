package units

import (
	"bytes"
	"fmt"
	"io"
	"path"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// ContainerdUnit is the runtime's unit. k8s-single's own, in /etc/systemd/system,
// takes precedence over a Debian package's /lib/systemd/system/containerd.service
// of the same name, so the kubelet's ordering after it holds either way.
const ContainerdUnit = "containerd"

// RenderContainerd renders containerd.service for the containerd k8s-single
// installs in binaries.installDir, as containerd's own unit lays it out:
// KillMode=process, so a restart (an upgrade) leaves the containers' shims
// and so the pods running; Delegate=yes for the cgroups of the pods; the
// runtime's directory first on PATH, so containerd finds its shim and the
// shim its runc.
func RenderContainerd(c *config.Cluster) (File, error) {
	installDir := c.Binaries.InstallDir
	return render(namedUnit{ContainerdUnit + ".service", []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", "containerd container runtime (installed by k8s-single)"),
		unit.NewUnitOption("Unit", "Documentation", "https://containerd.io https://github.com/k8s-single/k8s-single"),
		unit.NewUnitOption("Unit", "After", "network.target local-fs.target dbus.service"),
		unit.NewUnitOption("Service", "ExecStartPre", "-/sbin/modprobe overlay"),
		unit.NewUnitOption("Service", "ExecStart", execStart([]string{path.Join(installDir, "containerd")})),
		unit.NewUnitOption("Service", "Environment", "PATH="+installDir+":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
		unit.NewUnitOption("Service", "Type", "notify"),
		unit.NewUnitOption("Service", "Delegate", "yes"),
		unit.NewUnitOption("Service", "KillMode", "process"),
		unit.NewUnitOption("Service", "Restart", "always"),
		unit.NewUnitOption("Service", "RestartSec", "5"),
		unit.NewUnitOption("Service", "LimitNPROC", "infinity"),
		unit.NewUnitOption("Service", "LimitCORE", "infinity"),
		unit.NewUnitOption("Service", "TasksMax", "infinity"),
		unit.NewUnitOption("Service", "OOMScoreAdjust", "-999"),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	}})
}

// render serializes a unit, checks that systemd's parser reads it back and
// returns it as a 0600 file in the unit directory.
func render(u namedUnit) (File, error) {
	data, err := io.ReadAll(unit.Serialize(u.opts))
	if err != nil {
		return File{}, fmt.Errorf("render %s: %w", u.name, err)
	}
	if _, err := unit.DeserializeOptions(bytes.NewReader(data)); err != nil {
		return File{}, fmt.Errorf("render %s: systemd could not read it: %w", u.name, err)
	}
	return File{Path: path.Join(layout.UnitDir, u.name), Data: data, Mode: layout.ModePrivate}, nil
}

// Package units owns the systemd side of the install: the unit files of etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
// kube-proxy (built as go-systemd unit options, never as text templates), the
// daemons' command lines, reading a rendered unit back into argv and
// environment, and starting and stopping units over D-Bus.
//
// It must not write files (callers write the returned Files through
// host.Root), generate certificates or component config files, or decide when
// a unit needs (re)starting: the phases do that. containerd runs under
// Debian's own unit and is not rendered here.
package units

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Host holds the facts about the machine that rendered files depend on;
// preflight detects them, the renderers only read them.
type Host struct {
	// CgroupDriver is the resolved cgroup driver, systemd or cgroupfs
	// (config's "auto" already decided).
	CgroupDriver string
	// CgroupV1 is true when the machine runs cgroup v1 (or hybrid)
	// hierarchies; the kubelet then needs failCgroupV1: false.
	CgroupV1 bool
	// SystemdResolved is true when /run/systemd/resolve/resolv.conf exists:
	// pods must get that file, not the 127.0.0.53 stub in /etc/resolv.conf.
	SystemdResolved bool
	// ConntrackReadOnly is true when nf_conntrack_max cannot be written
	// (outside the host's network namespace, e.g. in a container); kube-proxy
	// must then leave the conntrack table size alone.
	ConntrackReadOnly bool
	// Hostname is the machine's host name, lower-cased: the kubelet and
	// kube-proxy get --hostname-override only when the node name differs.
	Hostname string
}

// File is one rendered file: where it goes on the host, its bytes, its mode.
type File struct {
	// Path is a host path ("/etc/systemd/system/etcd.service"); host.Root maps it.
	Path string
	Data []byte
	Mode os.FileMode
}

// Component is one daemon k8s-single runs under systemd.
type Component struct {
	// Name is the daemon's binary name: etcd, kube-apiserver, ...
	Name string
	// Unit is the systemd unit name: etcd.service, kube-apiserver.service, ...
	Unit string
	// Args is the ExecStart argv: the binary's path, then its flags sorted by name.
	Args []string
}

// Components returns the daemons in start order: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler, kubelet, kube-proxy.
func Components(c *config.Cluster, h Host) []Component {
	comps := make([]Component, len(daemons))
	for i, d := range daemons {
		comps[i] = Component{Name: d.name, Unit: d.name + ".service", Args: argv(c, h, d)}
	}
	return comps
}

// RenderUnits returns the unit file of every component, mode 0600 (CIS asks
// it of component specs) at layout.Unit(name). Each file is checked to parse
// back as systemd would read it.
func RenderUnits(c *config.Cluster, h Host) ([]File, error) {
	files := make([]File, len(daemons))
	for i, d := range daemons {
		data, err := io.ReadAll(unit.Serialize(unitOptions(c, d, argv(c, h, d))))
		if err != nil {
			return nil, fmt.Errorf("render %s.service: %w", d.name, err)
		}
		if _, err := unit.DeserializeOptions(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("render %s.service: systemd could not read it: %w", d.name, err)
		}
		files[i] = File{Path: layout.Unit(d.name), Data: data, Mode: layout.ModePrivate}
	}
	return files, nil
}

// argv is the binary's path and its flags as --name=value, sorted by name so
// the rendered units are stable.
func argv(c *config.Cluster, h Host, d daemon) []string {
	flags := d.flags(c, h)
	args := []string{path.Join(c.Binaries.InstallDir, d.name)}
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		args = append(args, "--"+name+"="+flags[name])
	}
	return args
}

// apiserverStopTimeout is kube-apiserver.service's TimeoutStopSec, seconds.
const apiserverStopTimeout = 5

// unitOptions lays out one daemon's unit. StartLimitIntervalSec=0 keeps
// Restart=always retrying forever: a controller-manager that crash-loops while
// the apiserver is down must come back once it is up, not stay "failed".
func unitOptions(c *config.Cluster, d daemon, args []string) []*unit.UnitOption {
	opts := []*unit.UnitOption{
		unit.NewUnitOption("Unit", "Description", d.description),
		unit.NewUnitOption("Unit", "Documentation", d.documentation),
	}
	opts = appendList(opts, "Unit", "After", d.after)
	opts = appendList(opts, "Unit", "Wants", d.wants)
	opts = appendList(opts, "Unit", "Requires", d.requires)
	opts = append(opts, unit.NewUnitOption("Unit", "StartLimitIntervalSec", "0"))
	if d.notify {
		// Type=notify waits for READY=1, which a first apiserver start on a
		// slow (emulated) VM can take minutes to send.
		opts = append(opts,
			unit.NewUnitOption("Service", "Type", "notify"),
			unit.NewUnitOption("Service", "TimeoutStartSec", "300"))
	}
	if d.name == "kube-apiserver" {
		// After SIGTERM the apiserver drains its short requests and stops
		// listening within ~2 s (measured on v1.36.3 and v1.37.2), then
		// waits on the watches clients hold open until killed
		// (kubernetes/kubernetes#131052): every second of that is a second
		// with no apiserver during an upgrade, a renewal or an address
		// change. Clients re-establish their watches either way.
		opts = append(opts, unit.NewUnitOption("Service", "TimeoutStopSec", strconv.Itoa(apiserverStopTimeout)))
	}
	if d.successExitStatus != "" {
		opts = append(opts, unit.NewUnitOption("Service", "SuccessExitStatus", d.successExitStatus))
	}
	if d.user != "" {
		opts = append(opts, unit.NewUnitOption("Service", "User", d.user), unit.NewUnitOption("Service", "Group", d.user))
	}
	for _, cred := range d.credentials {
		opts = append(opts, unit.NewUnitOption("Service", "LoadCredential", cred.ID+":"+cred.Path))
	}
	if d.sandbox {
		var writable []string
		if d.writable != nil {
			writable = d.writable(c)
		}
		opts = append(opts, sandboxOptions(d.user != "", writable)...)
	}
	if d.ipAllow != nil {
		opts = append(opts, unit.NewUnitOption("Service", "IPAddressDeny", "any"),
			unit.NewUnitOption("Service", "IPAddressAllow", strings.Join(d.ipAllow(c), " ")))
	}
	return append(opts,
		unit.NewUnitOption("Service", "ExecStart", execStart(args)),
		unit.NewUnitOption("Service", "Restart", "always"),
		unit.NewUnitOption("Service", "RestartSec", "2"),
		unit.NewUnitOption("Service", "LimitNOFILE", "1048576"),
		unit.NewUnitOption("Install", "WantedBy", "multi-user.target"),
	)
}

// appendList adds one space-separated option when values is not empty.
func appendList(opts []*unit.UnitOption, section, name string, values []string) []*unit.UnitOption {
	if len(values) == 0 {
		return opts
	}
	return append(opts, unit.NewUnitOption(section, name, strings.Join(values, " ")))
}

// sandboxOptions confine a daemon that needs no host access beyond its own
// files and the network: no new privileges, the OS and /etc read-only
// (writable excepted), no home dirs, its own /tmp and /dev, kernel
// tunables, modules, logs and cgroups out of reach, no SUID, realtime or
// personality changes, only IP and Unix sockets, native system calls. A
// daemon that runs as its own user also gets no capabilities at all.
// kubelet and kube-proxy are not sandboxed: they manage the host's
// containers, mounts and netfilter.
func sandboxOptions(unprivileged bool, writable []string) []*unit.UnitOption {
	var opts []*unit.UnitOption
	for _, kv := range [][2]string{
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"ProtectKernelTunables", "yes"},
		{"ProtectKernelModules", "yes"},
		{"ProtectKernelLogs", "yes"},
		{"ProtectControlGroups", "yes"},
		{"ProtectClock", "yes"},
		{"ProtectHostname", "yes"},
		{"RestrictSUIDSGID", "yes"},
		{"RestrictRealtime", "yes"},
		{"RestrictNamespaces", "yes"},
		{"LockPersonality", "yes"},
		{"RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"},
		{"SystemCallArchitectures", "native"},
	} {
		opts = append(opts, unit.NewUnitOption("Service", kv[0], kv[1]))
	}
	if len(writable) > 0 {
		opts = append(opts, unit.NewUnitOption("Service", "ReadWritePaths", strings.Join(writable, " ")))
	}
	if unprivileged {
		opts = append(opts, unit.NewUnitOption("Service", "CapabilityBoundingSet", ""))
	}
	return opts
}

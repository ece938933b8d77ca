package machine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
)

// Where the machine sees its inputs and where its `up` reports.
const (
	mountBinaries = "/opt/k8s-single/binaries"
	mountImages   = "/opt/k8s-single/images"
	clusterConfig = "/etc/k8s-single/cluster.yaml"
	upLog         = "/var/log/k8s-single-machine/up.log"
	upResult      = "/var/log/k8s-single-machine/up.rc"
	initPath      = "/usr/local/sbin/k8s-single-machine-init"
	upUnit        = "k8s-single-machine-up.service"
	netUnit       = "k8s-single-machine-net.service"
	binDir        = "/usr/local/bin"
)

// initScript is the machine's PID 1 until it execs systemd. systemd-nspawn
// (no user namespace) bind-remounts the cgroup-v1 hierarchies read-only, and
// runc and the kubelet must create cgroups in them: they are made writable
// first. The kubelet insists on a few host-global sysctls and /proc/sys is
// read-only here: each that differs is shadowed, in this mount namespace
// only, by a file holding the wanted value; the host's are never changed.
const initScript = `#!/bin/sh
for d in /sys/fs/cgroup/*; do
	[ -L "$d" ] && continue
	mountpoint -q "$d" && mount -o remount,bind,rw "$d"
done
mkdir -p /run/fake-sysctl
for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
	kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
	k=${kv%=*} v=${kv#*=}
	if [ "$(cat "/proc/sys/$k")" != "$v" ]; then
		f=/run/fake-sysctl/$(echo "$k" | tr / _)
		echo "$v" >"$f" && mount --bind "$f" "/proc/sys/$k"
	fi
done
exec /lib/systemd/systemd "$@"
`

// netUnitText puts the node address on node0 inside the machine's private
// network: a veth pair (some kernels have no dummy driver), with the
// default route through it.
func netUnitText(address string) string {
	return fmt.Sprintf(`[Unit]
Description=Node address %[1]s on node0 (k8s-single machine)
DefaultDependencies=no
Before=network-pre.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'ip link show node0 >/dev/null 2>&1 || ip link add node0 type dummy 2>/dev/null || ip link add node0 type veth peer name node0p; ip link set node0p up 2>/dev/null; ip addr replace %[1]s/24 dev node0 && ip link set node0 up && ip route replace default dev node0'

[Install]
WantedBy=multi-user.target
`, address)
}

// upUnitText runs `k8s-single up` once the machine booted, its output and
// exit code where the host reads them.
const upUnitText = `[Unit]
Description=k8s-single up (the machine's cluster; output in ` + upLog + `)
After=multi-user.target ` + netUnit + `
Wants=` + netUnit + `

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutStartSec=infinity
Environment=HOME=/root
ExecStartPre=/bin/rm -f ` + upResult + `
ExecStart=/bin/sh -c '/usr/local/bin/k8s-single up -c ` + clusterConfig + ` >` + upLog + ` 2>&1; echo $? >` + upResult + `.tmp; mv ` + upResult + `.tmp ` + upResult + `'

[Install]
WantedBy=multi-user.target
`

// prepare makes the machine's rootfs from the given one and writes
// k8s-single (self, and front when given), its config and the machine's
// units into it (the up unit only when the machine runs `k8s-single up` at
// boot).
func prepare(m *Machine, rootfs, self, front string, config []byte) error {
	if err := os.MkdirAll(m.Dir(), 0o700); err != nil {
		return err
	}
	if out, err := exec.Command("cp", "-a", "--reflink=auto", rootfs, m.Rootfs()).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the rootfs %s to %s: %v: %s", rootfs, m.Rootfs(), err, out)
	}
	full, err := os.ReadFile(self)
	if err != nil {
		return fmt.Errorf("read k8s-single itself (%s): %w", self, err)
	}
	type file struct {
		path string
		data []byte
		mode os.FileMode
	}
	files := []file{
		{filepath.Join(binDir, layout.FullBinary), full, 0o755},
		{initPath, []byte(initScript), 0o755},
		{clusterConfig, config, 0o600},
		{"/etc/hostname", []byte(m.Name + "\n"), 0o644},
		{"/etc/hosts", []byte(fmt.Sprintf("127.0.0.1 localhost\n%s %s\n", m.NodeAddress, m.Name)), 0o644},
		{"/etc/systemd/system/" + netUnit, []byte(netUnitText(m.NodeAddress)), 0o644},
		// /dev/kmsg is the host's kernel log (bound for the kubelet):
		// journald neither reads it nor writes to it.
		{"/etc/systemd/journald.conf.d/k8s-single-machine.conf", []byte("[Journal]\nReadKMsg=no\n"), 0o644},
		{"/etc/systemd/system/systemd-journald.service.d/k8s-single-machine.conf", []byte("[Service]\nEnvironment=SYSTEMD_LOG_TARGET=console\n"), 0o644},
	}
	if front != "" {
		data, err := os.ReadFile(front)
		if err != nil {
			return fmt.Errorf("read k8s-single's front (%s): %w", front, err)
		}
		files = append(files, file{filepath.Join(binDir, "k8s-single"), data, 0o755})
	}
	units := []string{netUnit}
	if !m.NoUp {
		files = append(files, file{"/etc/systemd/system/" + upUnit, []byte(upUnitText), 0o644})
		units = append(units, upUnit)
	}
	for _, f := range files {
		p := m.Path(f.path)
		if err := host.WriteFileAtomic(p, f.data, f.mode, 0o755); err != nil {
			return err
		}
	}
	if front == "" {
		link := m.Path(filepath.Join(binDir, "k8s-single"))
		os.Remove(link)
		if err := os.Symlink(layout.FullBinary, link); err != nil {
			return err
		}
	}
	for _, u := range units {
		link := m.Path("/etc/systemd/system/multi-user.target.wants/" + u)
		if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
			return err
		}
		os.Remove(link)
		if err := os.Symlink("/etc/systemd/system/"+u, link); err != nil {
			return err
		}
	}
	return os.MkdirAll(m.Path(filepath.Dir(upLog)), 0o755)
}

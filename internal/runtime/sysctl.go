package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Host paths the kernel settings are applied through.
const (
	ProcSys  = "/proc/sys"
	Modprobe = "/sbin/modprobe"
)

// Sysctl is one kernel setting, by its sysctl(8) name.
type Sysctl struct {
	Key   string
	Value string
}

// Sysctls are the settings pods need: forwarding between the bridge and the
// node, and bridged pod traffic through iptables so Services work between
// pods on the same bridge.
var Sysctls = []Sysctl{
	{"net.ipv4.ip_forward", "1"},
	{"net.bridge.bridge-nf-call-iptables", "1"},
	{"net.bridge.bridge-nf-call-ip6tables", "1"},
}

// bridgeModule provides the net.bridge.bridge-nf-call-* settings.
const bridgeModule = "br_netfilter"

// sysctlConf is the drop-in that makes Sysctls hold after a reboot.
func sysctlConf() []byte {
	var b strings.Builder
	b.WriteString("# Written by k8s-single: the kernel settings its pods need.\n")
	for _, s := range Sysctls {
		fmt.Fprintf(&b, "%s = %s\n", s.Key, s.Value)
	}
	return []byte(b.String())
}

// SysctlResult is what applying one setting found.
type SysctlResult struct {
	Sysctl
	// Was is the value found before, empty when it could not be read.
	Was string
	// Err says why the setting does not hold and how to fix it; nil when it holds.
	Err error
}

// String is one line of the report: "net.ipv4.ip_forward = 1 (was 0)" or
// "... not set: <why>".
func (r SysctlResult) String() string {
	switch {
	case r.Err != nil:
		return fmt.Sprintf("%s = %s not set: %v", r.Key, r.Value, r.Err)
	case r.Was != r.Value:
		return fmt.Sprintf("%s = %s (was %s)", r.Key, r.Value, r.Was)
	}
	return fmt.Sprintf("%s = %s (already)", r.Key, r.Value)
}

// ApplySysctls writes each of Sysctls that differs into procSys (ProcSys on
// a node) and reports every setting instead of failing: in a container
// /proc/sys is read-only and the host decides. When the net.bridge settings
// are missing and modprobe (a path; Modprobe on a node) exists, it loads
// br_netfilter through run first; on a kernel with the module built in there
// is nothing to load.
func ApplySysctls(procSys, modprobe string, run Run) []SysctlResult {
	var modprobeErr error
	if !exists(filepath.Join(procSys, "net/bridge")) && exists(modprobe) {
		_, modprobeErr = run(modprobe, bridgeModule)
	}
	out := make([]SysctlResult, len(Sysctls))
	for i, s := range Sysctls {
		out[i] = applySysctl(procSys, s)
		if out[i].Err != nil && modprobeErr != nil && strings.HasPrefix(s.Key, "net.bridge.") {
			out[i].Err = fmt.Errorf("%w (%v)", out[i].Err, modprobeErr)
		}
	}
	return out
}

func applySysctl(procSys string, s Sysctl) SysctlResult {
	r := SysctlResult{Sysctl: s}
	p := filepath.Join(procSys, strings.ReplaceAll(s.Key, ".", "/"))
	was, err := os.ReadFile(p)
	if err != nil {
		r.Err = sysctlError(s, p, err)
		return r
	}
	r.Was = strings.TrimSpace(string(was))
	if r.Was == s.Value {
		return r
	}
	if err := os.WriteFile(p, []byte(s.Value+"\n"), 0o644); err != nil {
		r.Err = sysctlError(s, p, err)
	}
	return r
}

// sysctlError names why a setting cannot be read or written, and the fix.
func sysctlError(s Sysctl, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(s.Key, "net.bridge."):
		return fmt.Errorf("no %s: the %s module is not loaded; run modprobe %s (or use a kernel with it built in)", path, bridgeModule, bridgeModule)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no %s: this kernel does not have the setting", path)
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("%s is read-only here (a container?): set %s=%s on the host", path, s.Key, s.Value)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied: run k8s-single as root", path)
	}
	return fmt.Errorf("%s: %w", path, err)
}

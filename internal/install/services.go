package install

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/componentconfig"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/poll"
	"github.com/k8s-single/k8s-single/internal/units"
)

// files is what a phase renders: the unit files and configs it owns.
type files []units.File

// digests maps each file's host path to its sha256: the phase's Inputs, so a
// phase re-runs exactly when a file it would write changes.
func (fs files) digests() map[string]string {
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		sum := sha256.Sum256(f.Data)
		m[f.Path] = hex.EncodeToString(sum[:]) + fmt.Sprintf(" %04o", f.Mode)
	}
	return m
}

// digestsOf makes a phase's Inputs from what renders its files.
func digestsOf(fs files, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return fs.digests(), nil
}

// fileOf is one rendered file.
func fileOf(path string, data []byte, mode os.FileMode) units.File {
	return units.File{Path: path, Data: data, Mode: mode}
}

// write writes every file through the phase context (atomic, tracked).
func (fs files) write(c *phases.Context) error {
	for _, f := range fs {
		if err := c.WriteFile(f.Path, f.Data, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// unitFiles renders the unit files of the named components.
func unitFiles(c *config.Cluster, names ...string) (files, error) {
	all, err := units.RenderUnits(c, HostFacts(c))
	if err != nil {
		return nil, err
	}
	var out files
	for _, f := range all {
		if slices.Contains(names, strings.TrimSuffix(pathBase(f.Path), ".service")) {
			out = append(out, f)
		}
	}
	return out, nil
}

func pathBase(p string) string { return p[strings.LastIndex(p, "/")+1:] }

// HostFacts reads what rendering depends on from the running machine.
func HostFacts(c *config.Cluster) units.Host {
	h := units.Host{CgroupDriver: c.Runtime.CgroupDriver}
	if h.CgroupDriver == "auto" {
		h.CgroupDriver = "cgroupfs"
		if exists("/run/systemd/system") {
			h.CgroupDriver = "systemd"
		}
	}
	h.CgroupV1 = !exists("/sys/fs/cgroup/cgroup.controllers")
	h.SystemdResolved = exists("/run/systemd/resolve/resolv.conf")
	// A missing file means nf_conntrack is not loaded yet (kube-proxy loads
	// it), not read-only: treating it as read-only would render a different
	// kube-proxy config on the next run and re-run the node phase.
	const conntrackMax = "/proc/sys/net/netfilter/nf_conntrack_max"
	h.ConntrackReadOnly = exists(conntrackMax) && !writable(conntrackMax)
	if name, err := os.Hostname(); err == nil {
		h.Hostname = strings.ToLower(name)
	}
	return h
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func writable(p string) bool {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// unitTimeout bounds how long a unit may take to become active.
const unitTimeout = 2 * time.Minute

// startUnits reloads systemd, then enables and (re)starts each unit and waits
// for it to be active; a failure carries the unit's last journal lines.
func startUnits(c *phases.Context, unitNames ...string) error {
	return afterReload(c, func(m *units.Manager) error {
		for _, u := range unitNames {
			start := time.Now()
			c.Waitf("%s to be active", u)
			err := m.EnableAndStart(c, u)
			if err == nil {
				err = m.WaitActive(c, u, unitTimeout)
			}
			if err != nil {
				return withJournalTail(m, u, err)
			}
			c.Printf("%s active after %s", u, time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
}

// enableUnits reloads systemd and enables units for the next boot without
// starting them.
func enableUnits(c *phases.Context, unitNames ...string) error {
	return afterReload(c, func(m *units.Manager) error {
		for _, u := range unitNames {
			if err := m.Enable(c, u); err != nil {
				return err
			}
			c.Printf("%s enabled (runs at boot)", u)
		}
		return nil
	})
}

// afterReload connects to systemd, makes it re-read the unit files, then
// runs do.
func afterReload(c *phases.Context, do func(m *units.Manager) error) error {
	m, err := units.NewManager(c)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.DaemonReload(c); err != nil {
		return err
	}
	return do(m)
}

// planStart is the dry run's plan of a phase that starts units.
func planStart(unitNames ...string) func(*phases.Context) []string {
	return func(*phases.Context) []string {
		out := make([]string, len(unitNames))
		for i, u := range unitNames {
			out[i] = "enable and start " + u
		}
		return out
	}
}

// stopUnits stops and disables units in reverse start order (reset).
func stopUnits(c *phases.Context, unitNames ...string) error {
	m, err := units.NewManager(c)
	if err != nil {
		return err
	}
	defer m.Close()
	for _, u := range slices.Backward(unitNames) {
		c.Printf("stopping %s", u)
		if err := m.StopAndDisable(c, u); err != nil {
			return err
		}
	}
	return nil
}

// purgeDir removes a data directory, only on reset --purge.
func purgeDir(c *phases.Context, hostPath string) error {
	if !c.Purge {
		c.Printf("keeping %s (use --purge to delete it)", hostPath)
		return nil
	}
	c.Printf("deleting %s", hostPath)
	return os.RemoveAll(c.Root.Path(hostPath))
}

// withJournalTail adds a unit's last log lines to err.
func withJournalTail(m units.Systemd, unit string, err error) error {
	return fmt.Errorf("%w\nlast log lines of %s:\n%s", err, unit, m.JournalTail(unit, 30))
}

// journalOf adds a unit's last log lines to err; without systemd's D-Bus it
// says where to look instead.
func journalOf(c *phases.Context, unit string, err error) error {
	m, merr := units.NewManager(c)
	if merr != nil {
		return fmt.Errorf("%w (see journalctl -u %s)", err, unit)
	}
	defer m.Close()
	return withJournalTail(m, unit, err)
}

// progressEvery is how often a long wait tells the user it is still waiting.
const progressEvery = 10 * time.Second

// waitContext is what a wait needs from a running phase (*phases.Context).
type waitContext interface {
	context.Context
	Waitf(format string, args ...any)
	Printf(format string, args ...any)
}

// wait is a phase's wait (see package poll), its lines printed as the
// phase's progress.
type wait struct {
	// what completes "waiting for ...": "node node-1 to be Ready".
	what    string
	timeout time.Duration
}

// waitUpTo is a wait that checks twice a second and reports every 10 s.
func waitUpTo(what string, timeout time.Duration) wait {
	return wait{what: what, timeout: timeout}
}

// until runs check until it reports done, fails, the timeout passes or c
// ends, and returns how long that took (poll.Wait.Until).
func (w wait) until(c waitContext, check poll.Check) (time.Duration, error) {
	return poll.Wait{What: w.what, Timeout: w.timeout, Interval: 500 * time.Millisecond, Say: c.Printf, Report: progressEvery}.Until(c, check)
}

// componentFiles renders the component configs, keeps those at configPaths,
// and adds the units of the named components.
func componentFiles(c *config.Cluster, existingEncryption []byte, components []string, configPaths ...string) (files, error) {
	configs, err := componentconfig.Render(c, HostFacts(c), existingEncryption, rand.Reader)
	if err != nil {
		return nil, err
	}
	var out files
	for _, f := range configs {
		if slices.Contains(configPaths, f.Path) {
			out = append(out, f)
		}
	}
	us, err := unitFiles(c, components...)
	return append(out, us...), err
}

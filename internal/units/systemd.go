package units

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/dbus"

	"github.com/k8s-single/k8s-single/internal/poll"
)

// Systemd is what the phases need from the service manager; Manager is the
// real one, tests pass a fake.
type Systemd interface {
	// DaemonReload makes systemd re-read unit files after they were written.
	DaemonReload(ctx context.Context) error
	// EnableAndStart enables a unit for boot and (re)starts it.
	EnableAndStart(ctx context.Context, unit string) error
	// WaitActive waits until a unit is active, failing fast when it failed.
	WaitActive(ctx context.Context, unit string, timeout time.Duration) error
	// StopAndDisable stops a unit and removes it from boot.
	StopAndDisable(ctx context.Context, unit string) error
	// ResetFailed clears a unit's "failed" state, so systemd forgets a unit
	// whose file is gone; a unit systemd does not know is not an error.
	ResetFailed(ctx context.Context, unit string) error
	// JournalTail returns a unit's last log lines, for error messages.
	JournalTail(unit string, lines int) string
}

// Manager drives systemd (PID 1) over D-Bus. It needs a running systemd and
// root; nothing here works in a container whose PID 1 is something else.
type Manager struct {
	conn *dbus.Conn
	// poll is how often WaitActive reads a unit's state.
	poll time.Duration
}

var _ Systemd = (*Manager)(nil)

// NewManager connects to the system's systemd. Close it when done.
func NewManager(ctx context.Context) (*Manager, error) {
	conn, err := dbus.NewSystemConnectionContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to systemd over D-Bus (is systemd PID 1, and are you root?): %w", err)
	}
	return &Manager{conn: conn, poll: 500 * time.Millisecond}, nil
}

// Close ends the D-Bus connection.
func (m *Manager) Close() { m.conn.Close() }

// DaemonReload is `systemctl daemon-reload`.
func (m *Manager) DaemonReload(ctx context.Context) error {
	if err := m.conn.ReloadContext(ctx); err != nil {
		return fmt.Errorf("systemctl daemon-reload: %w", err)
	}
	return nil
}

// Enable is `systemctl enable unit`: the unit starts at the next boot.
func (m *Manager) Enable(ctx context.Context, unit string) error {
	if _, _, err := m.conn.EnableUnitFilesContext(ctx, []string{unit}, false, true); err != nil {
		return fmt.Errorf("systemctl enable %s: %w", unit, err)
	}
	return nil
}

// EnableAndStart is `systemctl enable unit` then `systemctl restart unit`:
// a unit already running is restarted so a rewritten unit file (new flags)
// takes effect. It returns when systemd's start job finishes, which for
// Type=notify units means the daemon said READY=1.
func (m *Manager) EnableAndStart(ctx context.Context, unit string) error {
	if err := m.Enable(ctx, unit); err != nil {
		return err
	}
	done := make(chan string, 1)
	if _, err := m.conn.RestartUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("systemctl restart %s: %w", unit, err)
	}
	return waitJob(ctx, "start", unit, done)
}

// StopAndDisable is `systemctl stop unit` then `systemctl disable unit`. A
// unit systemd does not know is already stopped and disabled: reset may run
// twice.
func (m *Manager) StopAndDisable(ctx context.Context, unit string) error {
	load, err := m.property(ctx, unit, "LoadState")
	if err != nil {
		return err
	}
	if load == "not-found" {
		return nil
	}
	done := make(chan string, 1)
	if _, err := m.conn.StopUnitContext(ctx, unit, "replace", done); err != nil {
		return fmt.Errorf("systemctl stop %s: %w", unit, err)
	}
	if err := waitJob(ctx, "stop", unit, done); err != nil {
		return err
	}
	if _, err := m.conn.DisableUnitFilesContext(ctx, []string{unit}, false); err != nil {
		return fmt.Errorf("systemctl disable %s: %w", unit, err)
	}
	return nil
}

// WaitActive polls the unit's ActiveState until it is "active". It fails at
// once on "failed", and after timeout otherwise. A Type=simple unit is active
// as soon as it was forked, and a crash-looping one is "activating" between
// restarts: callers confirm health with the component's own check.
func (m *Manager) WaitActive(ctx context.Context, unit string, timeout time.Duration) error {
	_, err := poll.Wait{What: unit + " to be active", Timeout: timeout, Interval: m.poll,
		Expired: func(state string) error {
			return unitError(unit, fmt.Sprintf("not active after %s (state %s)", timeout, state))
		},
	}.Until(ctx, func(ctx context.Context) (bool, string, error) {
		state, err := m.property(ctx, unit, "ActiveState")
		switch {
		case err != nil:
			return false, "", err
		case state == "failed":
			return false, state, unitError(unit, "failed")
		}
		return state == "active", state, nil
	})
	return err
}

// ResetFailed is `systemctl reset-failed unit`. A unit systemd has not
// loaded has no failed state to clear.
func (m *Manager) ResetFailed(ctx context.Context, unit string) error {
	if load, err := m.property(ctx, unit, "LoadState"); err == nil && load == "not-found" {
		if state, err := m.property(ctx, unit, "ActiveState"); err == nil && state != "failed" {
			return nil
		}
	}
	if err := m.conn.ResetFailedUnitContext(ctx, unit); err != nil {
		// org.freedesktop.systemd1.NoSuchUnit: "Unit x.service not loaded."
		if strings.Contains(err.Error(), "not loaded") {
			return nil
		}
		return fmt.Errorf("systemctl reset-failed %s: %w", unit, err)
	}
	return nil
}

// UnitFileState is the unit's UnitFileState: enabled, disabled, static...
// (empty for a unit systemd does not know).
func (m *Manager) UnitFileState(ctx context.Context, unit string) (string, error) {
	return m.property(ctx, unit, "UnitFileState")
}

// ActiveState is the unit's ActiveState: active, activating, failed,
// inactive... ("inactive" also for a unit systemd does not know).
func (m *Manager) ActiveState(ctx context.Context, unit string) (string, error) {
	return m.property(ctx, unit, "ActiveState")
}

// JournalTail runs `journalctl -u unit -n lines --no-pager`; on failure it
// returns what journalctl printed and why it failed.
func (m *Manager) JournalTail(unit string, lines int) string {
	out, err := exec.Command("journalctl", "-u", unit, "-n", strconv.Itoa(lines), "--no-pager").CombinedOutput()
	if err != nil {
		return strings.TrimSpace(string(out) + "\n(journalctl: " + err.Error() + ")")
	}
	return strings.TrimSpace(string(out))
}

// waitJob waits for a systemd job's result ("done" is success).
func waitJob(ctx context.Context, verb, unit string, done <-chan string) error {
	select {
	case result := <-done:
		if result != "done" {
			return unitError(unit, verb+" job "+result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s %s: %w", verb, unit, ctx.Err())
	}
}

func (m *Manager) property(ctx context.Context, unit, name string) (string, error) {
	p, err := m.conn.GetUnitPropertyContext(ctx, unit, name)
	if err != nil {
		return "", fmt.Errorf("read %s of %s: %w", name, unit, err)
	}
	v, ok := p.Value.Value().(string)
	if !ok {
		return "", fmt.Errorf("read %s of %s: not a string: %v", name, unit, p.Value)
	}
	return v, nil
}

// unitError names the unit, what went wrong and where to look; callers add
// JournalTail's lines where they print errors.
func unitError(unit, what string) error {
	return fmt.Errorf("%s %s (see journalctl -u %s)", unit, what, unit)
}

// Restarts is the unit's NRestarts: how many times systemd restarted it
// since it was last started by hand (a crash loop counts up every RestartSec).
func (m *Manager) Restarts(ctx context.Context, unit string) (uint32, error) {
	p, err := m.conn.GetServicePropertyContext(ctx, unit, "NRestarts")
	if err != nil {
		return 0, fmt.Errorf("read NRestarts of %s: %w", unit, err)
	}
	n, ok := p.Value.Value().(uint32)
	if !ok {
		return 0, fmt.Errorf("read NRestarts of %s: not a number: %v", unit, p.Value)
	}
	return n, nil
}

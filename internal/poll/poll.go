// Package poll is k8s-single's one wait loop. A check runs every Interval
// until it reports done, returns an error that waiting cannot cure, the
// Timeout passes or the context ends. The user sees a "waiting for" line
// when the wait starts and, every Report, a "still waiting" line with the
// latest state and the time left. The clock is injectable
// (k8s.io/utils/clock), so tests of timeouts do not sleep.
package poll

import (
	"context"
	"fmt"
	"io"
	"time"

	"k8s.io/utils/clock"
)

// DefaultReport is how often a wait that prints says it still waits.
const DefaultReport = 10 * time.Second

// Check reports whether what a wait waits for holds; while it does not, the
// state to show the user. An error stops the wait: waiting cannot cure it.
type Check func(ctx context.Context) (done bool, state string, err error)

// Wait describes one wait.
type Wait struct {
	// What completes "waiting for ...": "node node-1 to be Ready".
	What     string
	Timeout  time.Duration
	Interval time.Duration
	// Say prints a progress line (format and args, no newline); nil waits
	// silently. Report is the pause between "still waiting" lines
	// (default DefaultReport).
	Say    func(format string, args ...any)
	Report time.Duration
	// Expired makes the error of a wait that timed out from the check's last
	// state; nil: "gave up waiting for What after Timeout: state".
	Expired func(state string) error
	// Clock is the real one when nil.
	Clock clock.Clock
}

// Until runs check until it reports done (nil), fails (its error), the
// timeout passes (Expired's error) or ctx ends (ctx's error), and returns
// how long that took. The check runs at once, then every Interval.
func (w Wait) Until(ctx context.Context, check Check) (time.Duration, error) {
	clk := w.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	report := w.Report
	if report == 0 {
		report = DefaultReport
	}
	start := clk.Now()
	deadline := start.Add(w.Timeout)
	lastReport := start
	if w.Say != nil {
		w.Say("waiting for %s, up to %s", w.What, w.Timeout)
	}
	for {
		done, state, err := check(ctx)
		switch {
		case err != nil:
			return clk.Since(start), err
		case done:
			return clk.Since(start), nil
		case !clk.Now().Before(deadline):
			if w.Expired != nil {
				return clk.Since(start), w.Expired(state)
			}
			return clk.Since(start), fmt.Errorf("gave up waiting for %s after %s: %s", w.What, w.Timeout, state)
		}
		if w.Say != nil && clk.Since(lastReport) >= report {
			w.Say("still waiting for %s: %s (%s left)", w.What, state, deadline.Sub(clk.Now()).Round(time.Second))
			lastReport = clk.Now()
		}
		select {
		case <-ctx.Done():
			return clk.Since(start), ctx.Err()
		case <-clk.After(w.Interval):
		}
	}
}

// Lines is a Say that writes each line to out after indent.
func Lines(out io.Writer, indent string) func(format string, args ...any) {
	return func(format string, args ...any) {
		fmt.Fprintf(out, indent+format+"\n", args...)
	}
}

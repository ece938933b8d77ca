package poll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// run starts w.Until in the background on a fake clock and steps the clock
// by w.Interval each time the wait sleeps, until it returns.
func run(t *testing.T, w Wait, check Check) (time.Duration, error, []string) {
	t.Helper()
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))
	var lines []string
	w.Clock = clk
	w.Say = func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	type result struct {
		took time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		took, err := w.Until(context.Background(), check)
		done <- result{took, err}
	}()
	for {
		select {
		case r := <-done:
			return r.took, r.err, lines
		default:
		}
		if clk.HasWaiters() {
			clk.Step(w.Interval)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestUntilDone(t *testing.T) {
	calls := 0
	took, err, lines := run(t, Wait{What: "x to be up", Timeout: time.Minute, Interval: time.Second}, func(context.Context) (bool, string, error) {
		calls++
		return calls == 4, "still down", nil
	})
	if err != nil || took != 3*time.Second || calls != 4 {
		t.Fatalf("took %s, err %v, %d checks; want 3s, nil, 4", took, err, calls)
	}
	if len(lines) != 1 || lines[0] != "waiting for x to be up, up to 1m0s" {
		t.Errorf("lines = %q", lines)
	}
}

func TestUntilTimeoutReportsProgress(t *testing.T) {
	took, err, lines := run(t, Wait{What: "x to be up", Timeout: 25 * time.Second, Interval: time.Second}, func(context.Context) (bool, string, error) {
		return false, "HTTP 503", nil
	})
	if err == nil || err.Error() != "gave up waiting for x to be up after 25s: HTTP 503" || took != 25*time.Second {
		t.Fatalf("took %s, err %v", took, err)
	}
	want := []string{"waiting for x to be up, up to 25s", "still waiting for x to be up: HTTP 503 (15s left)", "still waiting for x to be up: HTTP 503 (5s left)"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestUntilExpiredAndFailure(t *testing.T) {
	_, err, _ := run(t, Wait{Timeout: 3 * time.Second, Interval: time.Second, Expired: func(state string) error {
		return fmt.Errorf("etcd not healthy within 3s: %s", state)
	}}, func(context.Context) (bool, string, error) { return false, "no leader", nil })
	if err == nil || err.Error() != "etcd not healthy within 3s: no leader" {
		t.Errorf("Expired: err = %v", err)
	}
	stop := errors.New("unit failed")
	calls := 0
	took, err, _ := run(t, Wait{Timeout: time.Minute, Interval: time.Second}, func(context.Context) (bool, string, error) {
		calls++
		if calls == 2 {
			return false, "", stop
		}
		return false, "activating", nil
	})
	if !errors.Is(err, stop) || took != time.Second {
		t.Errorf("a check's error: took %s, err %v; want 1s, %v", took, err, stop)
	}
}

func TestUntilContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := Wait{Timeout: time.Hour, Interval: time.Hour, Clock: clocktesting.NewFakeClock(time.Now())}
	if _, err := w.Until(ctx, func(context.Context) (bool, string, error) { return false, "", nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

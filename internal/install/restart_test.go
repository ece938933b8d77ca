package install

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRestarts counts up by one at every read, as systemd's NRestarts does
// for a unit that exits at once (RestartSec apart).
type fakeRestarts struct{ n atomic.Uint32 }

func (f *fakeRestarts) Restarts(context.Context, string) (uint32, error) { return f.n.Add(1) - 1, nil }

// TestWatchCrashLoop: a unit systemd keeps restarting ends the wait with
// a cause that says so; a unit that stays up does not.
func TestWatchCrashLoop(t *testing.T) {
	defer func(p time.Duration) { crashLoopPoll = p }(crashLoopPoll)
	crashLoopPoll = time.Millisecond

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go watchCrashLoop(ctx, cancel, &fakeRestarts{}, "kube-apiserver.service")
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a crash-looping unit did not end the wait")
	}
	if cause := context.Cause(ctx); cause == nil || !strings.Contains(cause.Error(), "kube-apiserver.service is crash-looping: systemd restarted it 3 times") {
		t.Errorf("cause %v, want the unit named as crash-looping", cause)
	}

	steady, stop := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go func() { watchCrashLoop(steady, stop, steadyUnit{}, "etcd.service"); close(done) }()
	time.Sleep(50 * time.Millisecond)
	if steady.Err() != nil {
		t.Errorf("a unit that was not restarted ended the wait: %v", context.Cause(steady))
	}
	stop(nil)
	<-done
}

// steadyUnit is a unit systemd never restarts.
type steadyUnit struct{}

func (steadyUnit) Restarts(context.Context, string) (uint32, error) { return 7, nil }

package machine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Route is one forward: a port on the host's loopback to an address inside
// the machine's private network.
type Route struct {
	Listen, Target string
}

// Routes are the machine's forwards: the apiserver, and the dashboard
// when it has one.
func (m *Machine) Routes() []Route {
	rs := []Route{{loopback(m.APIPort), net.JoinHostPort(m.NodeAddress, strconv.Itoa(m.APIServerPort))}}
	if m.DashboardNodePort != 0 {
		rs = append(rs, Route{loopback(m.DashboardPort), net.JoinHostPort(m.NodeAddress, strconv.Itoa(m.DashboardNodePort))})
	}
	return rs
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Forward serves the machine's routes until ctx ends or the machine stops:
// each connection to a host port is dialled from inside the machine's
// network namespace, so the host gets no route or address of the machine's.
func Forward(ctx context.Context, m *Machine, logw io.Writer) error {
	if m.Leader() == 0 {
		return fmt.Errorf("machine %s does not run", m.Name)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range m.Routes() {
		l, err := net.Listen("tcp", r.Listen)
		if err != nil {
			return fmt.Errorf("listen on %s for %s: %w (another program or machine holds the port)", r.Listen, r.Target, err)
		}
		defer l.Close()
		fmt.Fprintf(logw, "forwarding %s to %s in machine %s\n", r.Listen, r.Target, m.Name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(ctx, l, m, r.Target, logw)
		}()
	}
	for ctx.Err() == nil && m.Running() {
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	cancel()
	return nil
}

// serve accepts on l and joins each connection to target, dialled in the
// network namespace the machine's PID 1 has now (a new one after a reboot).
func serve(ctx context.Context, l net.Listener, m *Machine, target string, logw io.Writer) {
	go func() { <-ctx.Done(); l.Close() }()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			t, err := dialIn(m, target)
			if err != nil {
				fmt.Fprintf(logw, "%s -> %s: %v\n", c.RemoteAddr(), target, err)
				return
			}
			defer t.Close()
			done := make(chan struct{}, 2)
			pipe := func(dst, src net.Conn) {
				io.Copy(dst, src)
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
				done <- struct{}{}
			}
			go pipe(t, c)
			go pipe(c, t)
			<-done
			<-done
		}()
	}
}

// dialIn connects to target from inside the machine's network namespace:
// the socket is made while this goroutine's thread is in it, and stays there.
func dialIn(m *Machine, target string) (net.Conn, error) {
	leader := m.Leader()
	if leader == 0 {
		return nil, fmt.Errorf("machine %s has no PID 1 now (stopped, or booting again)", m.Name)
	}
	netns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", leader))
	if err != nil {
		return nil, fmt.Errorf("open the machine's network namespace: %w", err)
	}
	defer netns.Close()
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer self.Close()
	if err := unix.Setns(int(netns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter the machine's network namespace: %w", err)
	}
	c, dialErr := net.DialTimeout("tcp", target, 5*time.Second)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays in the machine's namespace: never unlocked, Go
		// ends it with this goroutine.
		return c, errors.Join(dialErr, fmt.Errorf("return to the host's network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return c, dialErr
}

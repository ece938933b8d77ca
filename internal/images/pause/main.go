// Command pause is the pod sandbox's process: PID 1 of the pod's PID
// namespace, holding the pod's namespaces open while its containers come and
// go. It reaps every child that exits (orphans are re-parented to it) and exits
// 0 on SIGTERM or SIGINT. It uses the standard library only, so k8s-single
// builds it from its embedded copy of this file in a module of its own.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 16)
	signal.Notify(signals, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT)
	reap() // children that exited before SIGCHLD was caught
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "pause: warning: not PID 1: orphans are reaped only by PID 1 of a PID namespace")
	}
	for s := range signals {
		if s == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: shutting down, got %v\n", s)
		os.Exit(0)
	}
}

// reap waits for every child that has exited, without blocking on the ones
// still running; SIGCHLDs that arrive together are delivered as one.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/layout"
)

// Quick reports whether the front's command tree, root, runs args itself: it
// has the command, and no help is asked for (the full binary's help lists
// every command).
func Quick(root *cobra.Command, args []string) bool {
	flags := args
	if i := slices.Index(args, "--"); i >= 0 {
		flags = args[:i]
	}
	if slices.Contains(flags, "-h") || slices.Contains(flags, "--help") {
		return false
	}
	cmd, _, err := root.Find(args)
	return err == nil && cmd != root && cmd.Runnable()
}

// HandOff replaces this process with layout.FullBinary from the directory of the
// running executable, with the same arguments, environment and standard
// streams. It returns only when that binary could not be started.
func HandOff(args []string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find k8s-single's own binary, to start %s beside it: %w", layout.FullBinary, err)
	}
	full := filepath.Join(filepath.Dir(self), layout.FullBinary)
	if err := syscall.Exec(full, append([]string{os.Args[0]}, args...), os.Environ()); err != nil {
		return fmt.Errorf("k8s-single runs this command in %s, which could not be started: %w (install both binaries side by side: `make build` puts k8s-single and %s in bin/)", full, err, layout.FullBinary)
	}
	return nil
}

// FrontBeside returns the quick front, k8s-single, from the directory of
// full (k8s-single-full), or "" when there is none: whoever copies
// k8s-single elsewhere copies both.
func FrontBeside(full string) string {
	front := filepath.Join(filepath.Dir(full), "k8s-single")
	a, errA := os.Stat(front)
	b, errB := os.Stat(full)
	if errA != nil || errB != nil || !a.Mode().IsRegular() || os.SameFile(a, b) {
		return ""
	}
	return front
}

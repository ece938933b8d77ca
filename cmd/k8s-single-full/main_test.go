package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/config"
)

// TestEveryCommandHasAnExample walks the whole command tree.
func TestEveryCommandHasAnExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != "help" && c.Example == "" && !c.Hidden {
			t.Errorf("%q has no example in its --help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			if sub.Parent() == c && !strings.HasPrefix(sub.Name(), "__") && sub.Parent().Name() != "completion" {
				walk(sub)
			}
		}
	}
	walk(newRootCommand())
}

func TestConfigErrorsExitTwo(t *testing.T) {
	if cli.ExitCode(config.Errors{{Field: "x"}}) != 2 || cli.ExitCode(errors.New("other")) != 1 {
		t.Errorf("exit codes: config errors must be 2, others 1")
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("network:\n  podCIDR: nope\n"), 0o644)
	cmd := newRootCommand()
	cmd.SetArgs([]string{"config", "validate", "-f", bad})
	cmd.SetOut(&bytes.Buffer{})
	err := cmd.Execute()
	if cli.ExitCode(err) != 2 || !strings.Contains(err.Error(), "network.podCIDR") {
		t.Errorf("validate of a bad file: %v (exit %d)", err, cli.ExitCode(err))
	}
}

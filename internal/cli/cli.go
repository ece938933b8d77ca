// Package cli is what both k8s-single binaries share: the root command with
// its global flags, the commands the quick front runs itself (version, etcd
// health), and the front's hand-off of every other command to
// k8s-single-full, the binary with the whole installer.
//
// It must stay light: cmd/k8s-single links it, and Go initialises every
// package a binary links before main runs, whatever the command. Nothing
// here may import client-go, etcd's gRPC client or server packages, or the
// install phases (TestFrontStaysLight in cmd/k8s-single keeps it so).
package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/version"
)

// Globals are the flags every command shares.
type Globals struct {
	// Root prefixes every host path (--root).
	Root string
	// ConfigPath is the config file (-c); empty means the copy up kept.
	ConfigPath string
	// Verbose asks for every check and detail (-v).
	Verbose bool
}

// HostRoot is --root as a host.Root.
func (g *Globals) HostRoot() host.Root { return host.Root(g.Root) }

// LoadConfig reads the config: the file given, else the copy up kept under
// --root (layout.KeptConfig), else the built-in defaults for this host.
func (g *Globals) LoadConfig() (*config.Cluster, error) {
	path := g.ConfigPath
	if path == "" {
		kept := g.HostRoot().Path(layout.KeptConfig)
		if _, err := os.Stat(kept); err == nil {
			path = kept
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return config.Load(path, config.DetectHost())
}

// NewRootCommand returns the k8s-single command, its global flags bound to
// g, without subcommands.
func NewRootCommand(g *Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "k8s-single",
		Short: "Turn one Linux machine into a secure single-node Kubernetes cluster",
		Long: `k8s-single installs etcd, the Kubernetes control plane and a node on one machine,
from binaries built from source, with its own PKI and systemd units. Every step is a
phase recorded in a journal, so a failed or interrupted run resumes where it stopped.`,
		Example:       "  k8s-single up\n  k8s-single up --dry-run --root /tmp/stage\n  k8s-single phase list",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.PersistentFlags().StringVar(&g.Root, "root", "/", "prefix for every host path (render into a staging dir)")
	cmd.PersistentFlags().StringVarP(&g.ConfigPath, "config", "c", "", "config file (default: "+layout.KeptConfig+" under --root, else built-in defaults)")
	cmd.PersistentFlags().BoolVarP(&g.Verbose, "verbose", "v", false, "print every check and detail")
	return cmd
}

// ExitCode maps errors to exit codes: 2 for a bad config, 1 otherwise.
func ExitCode(err error) int {
	var cerr config.Errors
	if errors.As(err, &cerr) {
		return 2
	}
	return 1
}

// NewVersionCommand returns `version`.
func NewVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print k8s-single's version",
		Example: "  k8s-single version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), version.String())
		},
	}
}

// Command k8s-single turns one Linux machine into a single-node Kubernetes
// cluster from source-built binaries, phase by phase, resuming where it stopped.
// This package only parses flags and calls internal packages.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/startgc"
)

// globals are the flags every command shares.
type globals struct {
	root       string
	configPath string
	verbose    bool
}

func (g *globals) hostRoot() host.Root { return host.Root(g.root) }

func (g *globals) loadConfig() (*config.Cluster, error) {
	return install.LoadConfig(g.hostRoot(), g.configPath)
}

// loadConfigWithCache is loadConfig with binaries.cacheDir replaced by a
// command's --cache-dir, when given.
func (g *globals) loadConfigWithCache(cacheDir string) (*config.Cluster, error) {
	cfg, err := g.loadConfig()
	if err == nil && cacheDir != "" {
		cfg.Binaries.CacheDir = cacheDir
	}
	return cfg, err
}

func newRootCommand() *cobra.Command {
	g := &globals{}
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
	cmd.PersistentFlags().StringVar(&g.root, "root", "/", "prefix for every host path (render into a staging dir)")
	cmd.PersistentFlags().StringVarP(&g.configPath, "config", "c", "", "config file (default: "+install.ConfigPath+" under --root, else built-in defaults)")
	cmd.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "print every check and detail")
	cmd.AddCommand(
		newVersionCommand(),
		newConfigCommand(),
		newUpCommand(g),
		newUpgradeCommand(g),
		newPhaseCommand(g),
		newCertsCommand(g),
		newEtcdCommand(g),
		newBuildCommand(g),
		newImagesCommand(g),
		newResetCommand(g),
		newBackupCommand(g),
		newRestoreCommand(g),
		newStatusCommand(g),
		newDashboardCommand(g),
		newDoctorCommand(g),
		newMachineCommand(g),
	)
	cmd.InitDefaultCompletionCmd()
	for _, c := range cmd.Commands() {
		if c.Name() == "completion" {
			c.Example = "  source <(k8s-single completion bash)\n  k8s-single completion zsh > \"${fpath[1]}/_k8s-single\""
		}
	}
	return cmd
}

// exitCode maps errors to exit codes: 2 for a bad config, 1 otherwise.
func exitCode(err error) int {
	var cerr config.Errors
	if errors.As(err, &cerr) {
		return 2
	}
	return 1
}

func main() {
	startgc.Done()
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(exitCode(err))
	}
}

// Command k8s-single-full is k8s-single with every command: it turns one
// Linux machine into a single-node Kubernetes cluster from source-built
// binaries, phase by phase, resuming where it stopped. cmd/k8s-single, the
// quick front, hands it every command but version and etcd health; it also
// runs alone under any name. This package only parses flags and calls
// internal packages.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/startgc"
)

// loadConfigWithCache is g.LoadConfig with binaries.cacheDir replaced by a
// command's --cache-dir, when given.
func loadConfigWithCache(g *cli.Globals, cacheDir string) (*config.Cluster, error) {
	cfg, err := g.LoadConfig()
	if err == nil && cacheDir != "" {
		cfg.Binaries.CacheDir = cacheDir
	}
	return cfg, err
}

func newRootCommand() *cobra.Command {
	g := &cli.Globals{}
	cmd := cli.NewRootCommand(g)
	cmd.AddCommand(
		cli.NewVersionCommand(),
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

func main() {
	startgc.Done()
	if err := newRootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(cli.ExitCode(err))
	}
}

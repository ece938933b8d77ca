package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/printer"
	"github.com/k8s-single/k8s-single/internal/skew"
)

func newUpgradeCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "upgrade",
		Short: "Plan a move to the versions in the config (up carries it out)",
		Long: `An upgrade is a changed kubernetesVersion or etcdVersion in the config, then
k8s-single up. upgrade plan shows, before anything is touched, each binary's
running, installed and configured version, whether the version rules allow the
step (one minor version at a time, no downgrade), and what up will restart in
which order.`,
		Example: "  k8s-single upgrade plan          # after changing kubernetesVersion in the config\n  k8s-single up                    # carries the upgrade out",
	}
	cmd.AddCommand(newUpgradePlanCommand(g), newUpgradeRollbackCommand(g))
	return cmd
}

func newUpgradePlanCommand(g *cli.Globals) *cobra.Command {
	var opts skew.Options
	var output string
	cmd := &cobra.Command{
		Use:     "plan",
		Short:   "Show what up would upgrade, whether it is allowed, and the restart order",
		Example: "  k8s-single upgrade plan -c cluster.yaml\n  k8s-single upgrade plan -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			plan, err := install.PlanUpgrade(cmd.Context(), g.HostRoot(), cfg, opts)
			if err != nil {
				return err
			}
			if output == printer.FormatTable {
				plan.Write(cmd.OutOrStdout())
			} else if err := printer.Print(cmd.OutOrStdout(), output, plan); err != nil {
				return err
			}
			if plan.Refused != "" {
				return fmt.Errorf("the upgrade is refused: %s", plan.Refused)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&opts.AllowDowngrade, "allow-downgrade", false, "allow an older patch release of the same minor version")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

func newUpgradeRollbackCommand(g *cli.Globals) *cobra.Command {
	var archive, dir string
	var yes bool
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Return to the backup taken before the last upgrade, on the versions that wrote it",
		Long: `A failed component of an upgrade is rolled back by up itself. rollback is for
the case where the upgrade went through but the cluster must go back: etcd's data
may have moved forward, so an older binary cannot simply run on it. rollback picks
the newest backup taken on other versions than the installed ones (the one up took
before the upgrade's first restart; --backup names another), then does what a
restore does on a reset node: reset --purge (the archives are kept), restore the
archive, and up on the archive's config, whose versions wrote its data. Every change
made to the cluster since that backup is lost, which is why it asks for --yes.
Set your own config file back to the archive's versions afterwards.`,
		Example: `  k8s-single upgrade rollback --yes
  k8s-single upgrade rollback --yes --backup /var/lib/k8s-single/backups/k8s-single-backup-20261201T160313.123Z.tar.gz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var a *backup.Archive
			if archive != "" {
				a, err = backup.Open(archive)
			} else {
				a, err = install.PreUpgradeBackup(g.HostRoot(), cfg, dir)
			}
			if err != nil {
				return err
			}
			m := a.Manifest
			fmt.Fprintf(out, "rolling back to %s: Kubernetes %s, etcd %s, taken %s\n", a.Path, m.KubernetesVersion, m.EtcdVersion, m.Created.Format(time.RFC3339))
			if !yes {
				return fmt.Errorf("this replaces the cluster's data with the backup's (every change since %s is lost): run again with --yes", m.Created.Format(time.RFC3339))
			}
			if err := install.Reset(cmd.Context(), g.HostRoot(), out, g.Verbose, cfg, phases.ResetOptions{Purge: true}); err != nil {
				return fmt.Errorf("reset before the rollback: %w", err)
			}
			// The archive's config names the versions that wrote its data.
			g.ConfigPath = ""
			return runRestore(cmd, g, a.Path, true)
		},
	}
	cmd.Flags().StringVar(&archive, "backup", "", "the archive to return to (default: the newest taken on other versions than the installed ones)")
	cmd.Flags().StringVar(&dir, "dir", layout.BackupDir, "where to look for the archive (a host path, under --root)")
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that the cluster's data goes back to the backup's")
	return cmd
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/printer"
	"github.com/k8s-single/k8s-single/internal/skew"
)

func newUpgradeCommand(g *globals) *cobra.Command {
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
	cmd.AddCommand(newUpgradePlanCommand(g))
	return cmd
}

func newUpgradePlanCommand(g *globals) *cobra.Command {
	var opts skew.Options
	var output string
	cmd := &cobra.Command{
		Use:     "plan",
		Short:   "Show what up would upgrade, whether it is allowed, and the restart order",
		Example: "  k8s-single upgrade plan -c cluster.yaml\n  k8s-single upgrade plan -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			plan, err := install.PlanUpgrade(cmd.Context(), g.hostRoot(), cfg, opts)
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

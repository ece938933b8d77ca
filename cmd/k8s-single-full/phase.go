package main

import (
	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/printer"
	"github.com/k8s-single/k8s-single/internal/skew"
)

func newPhaseCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "phase",
		Short:   "List the phases or run one on its own",
		Example: "  k8s-single phase list\n  k8s-single phase run certs",
	}
	var output string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the phases in order with their state and last duration",
		Example: "  k8s-single phase list\n  k8s-single phase list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			states, err := install.NewRunner(g.HostRoot(), cmd.OutOrStdout(), g.Verbose).States()
			if err != nil {
				return err
			}
			return printer.Print(cmd.OutOrStdout(), output, states)
		},
	}
	list.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	var dryRun bool
	run := &cobra.Command{
		Use:       "run PHASE",
		Short:     "Run one phase on its own (its dependencies must have run)",
		Example:   "  k8s-single phase run certs\n  k8s-single phase run etcd",
		Args:      cobra.ExactArgs(1),
		ValidArgs: phaseNames(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUp(cmd, g, phases.Options{Only: phases.Name(args[0]), DryRun: dryRun}, skew.Options{})
		},
	}
	run.Flags().BoolVar(&dryRun, "dry-run", false, "render the phase's files but start nothing")
	cmd.AddCommand(list, run)
	return cmd
}

func phaseNames() []string {
	var names []string
	for _, p := range install.Phases() {
		names = append(names, string(p.Name))
	}
	return names
}

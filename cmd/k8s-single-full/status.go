package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/printer"
)

func newStatusCommand(g *cli.Globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show the journal and the live health of every installed component",
		Example: "  k8s-single status\n  k8s-single status -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			report, err := install.Status(cmd.Context(), g.HostRoot(), cfg)
			if err != nil {
				return err
			}
			if output == printer.FormatTable {
				if err := printer.Print(cmd.OutOrStdout(), output, report.Phases); err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout())
			}
			if err := printer.Print(cmd.OutOrStdout(), output, report); err != nil {
				return err
			}
			if output == printer.FormatTable {
				for _, w := range report.Warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: "+w)
				}
			}
			if bad := report.Unhealthy(); len(bad) > 0 {
				return fmt.Errorf("unhealthy: %s", strings.Join(bad, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

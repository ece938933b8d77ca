package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/printer"
)

func newDoctorCommand(g *cli.Globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Explain what is wrong with the node and how to fix it",
		Long: `doctor looks at every installed part: each unhealthy component with its unit
state, its last log lines and the fix; each certificate that is not what it should
be (not signed by its CA, a SAN without the node's address, expired) or that expires
within 30 days; files that drifted from the journal; the free space of etcd's and
containerd's disks, the memory, and the Node's pressure conditions. It changes
nothing. Exit code 0 when all is well, 1 when it found a problem.`,
		Example: "  k8s-single doctor\n  k8s-single doctor -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			report, err := install.Doctor(cmd.Context(), g.HostRoot(), cfg)
			if err != nil {
				return err
			}
			if output == printer.FormatTable {
				for _, l := range report.Lines() {
					fmt.Fprintln(cmd.OutOrStdout(), l)
				}
			} else if err := printer.Print(cmd.OutOrStdout(), output, report); err != nil {
				return err
			}
			if n := len(report.Findings); n > 0 {
				return fmt.Errorf("doctor found %d problem(s)", n)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table (plain lines) or json")
	return cmd
}

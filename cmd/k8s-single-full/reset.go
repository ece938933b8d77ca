package main

import (
	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/phases"
)

func newResetCommand(g *cli.Globals) *cobra.Command {
	var opts phases.ResetOptions
	cmd := &cobra.Command{
		Use:   "reset",
		Short: "Undo exactly what the journal says was done",
		Long: `reset walks the phases backwards: it stops and disables the units a phase
started, then deletes the files the journal recorded for it. The PKI and the
binaries are kept, and so are etcd's data and the audit log, so that reset + up
brings back the same cluster identity; --purge deletes them too.`,
		Example: "  k8s-single reset\n  k8s-single reset --purge",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			return install.Reset(cmd.Context(), g.HostRoot(), cmd.OutOrStdout(), g.Verbose, cfg, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Purge, "purge", false, "also delete the PKI, the binaries, etcd's data and the journal")
	return cmd
}

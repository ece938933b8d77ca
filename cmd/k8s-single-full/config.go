package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/config"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "config",
		Short:   "Print or check the cluster configuration",
		Example: "  k8s-single config defaults > cluster.yaml\n  k8s-single config validate -f cluster.yaml",
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "defaults",
		Short:   "Print the full configuration with every default filled in for this host",
		Example: "  k8s-single config defaults > cluster.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(config.Default(config.DetectHost()).Marshal())
			return err
		},
	})
	var file string
	validate := &cobra.Command{
		Use:     "validate",
		Short:   "Check a configuration file; exit code 2 names every bad field",
		Example: "  k8s-single config validate -f cluster.yaml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := config.Load(file, config.DetectHost())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", file)
			for _, n := range c.Notices() {
				fmt.Fprintln(cmd.ErrOrStderr(), "NOTE: "+n)
			}
			return nil
		},
	}
	validate.Flags().StringVarP(&file, "file", "f", "", "the config file to check")
	_ = validate.MarkFlagRequired("file")
	cmd.AddCommand(validate)
	return cmd
}

package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/install"
)

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print k8s-single's version",
		Example: "  k8s-single version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "k8s-single %s (%s, %s/%s)\n", install.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		},
	}
}

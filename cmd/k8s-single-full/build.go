package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/cli"
)

func newBuildCommand(g *cli.Globals) *cobra.Command {
	var cacheDir string
	var printDir bool
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build the 8 binaries (and containerd, runc, the CNI plugins) from source with the Go toolchain (cached)",
		Long: `build generates wrapper modules for the configured Kubernetes and etcd versions,
builds etcd, etcdctl and the six Kubernetes binaries with CGO_ENABLED=0 and -trimpath,
and keeps the Go module and build caches under the cache dir: cold ~20 minutes on
2 cores, warm a few seconds. With runtime.source build (the default) it also builds
containerd, its shim and ctr, runc (cgo, libseccomp) and the CNI plugins (cold ~5
minutes) into the same directory, cni/ holding the plugins: the layout binaries.dir
takes with runtime.source dir. It prints the directory that holds the binaries.`,
		Example: "  k8s-single build\n  k8s-single build --cache-dir /var/cache/k8s-single --print-dir",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfigWithCache(g, cacheDir)
			if err != nil {
				return err
			}
			progress := cmd.OutOrStdout()
			if printDir {
				progress = cmd.ErrOrStderr()
			}
			dir, err := binaries.Build(cmd.Context(), cfg, progress)
			if err != nil {
				return err
			}
			if printDir {
				fmt.Fprintln(cmd.OutOrStdout(), dir)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "binaries ready in %s\n", dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cacheDir, "cache-dir", "", "cache dir for Go modules, builds and outputs (default: binaries.cacheDir)")
	cmd.Flags().BoolVar(&printDir, "print-dir", false, "print only the output directory (progress goes to stderr)")
	return cmd
}

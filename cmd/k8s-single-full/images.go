package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/printer"
)

func newImagesCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "images",
		Short:   "List or build the container images the cluster runs (pause, CoreDNS, metrics-server, the verify agent)",
		Example: "  k8s-single images list\n  k8s-single images build --out /var/cache/k8s-single/images",
	}
	var output string
	list := &cobra.Command{
		Use:     "list",
		Short:   "Print the image references the config needs, one a line",
		Example: "  k8s-single images list\n  k8s-single images list -c cluster.yaml -o table",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			return printer.Print(cmd.OutOrStdout(), output, images.List(images.Required(cfg)))
		},
	}
	list.Flags().StringVarP(&output, "output", "o", printer.FormatSimple, "output format: simple, table or json")

	var outDir, cacheDir string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build the images from source into a bundle of tarballs for ctr import (cached)",
		Long: `build builds pause (from k8s-single's own source), CoreDNS ` + images.CoreDNSVersion + ` and metrics-server
` + images.MetricsServerVersion + ` as static Go binaries, puts each on an empty base as a one-layer image tagged
with its upstream reference, and writes one docker-archive tarball per image into the
output directory, with an index (` + images.IndexFile + `). The Go caches live under the cache dir
like those of k8s-single build; images already in the directory at the same recipe
are not rebuilt. Import a bundle with: ctr -n k8s.io images import --all-platforms FILE.`,
		Example: "  k8s-single images build\n  k8s-single images build --out /srv/bundle --cache-dir /var/cache/k8s-single",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bundle, dir, err := buildImages(cmd, g, outDir, cacheDir, images.Required)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "image bundle ready in %s\n", dir)
			return printer.Print(cmd.OutOrStdout(), printer.FormatTable, bundle)
		},
	}
	bundleFlags(build, &outDir, &cacheDir)
	cmd.AddCommand(list, build)
	return cmd
}

// bundleFlags adds --out and --cache-dir to a command that builds images.
func bundleFlags(cmd *cobra.Command, outDir, cacheDir *string) {
	cmd.Flags().StringVar(outDir, "out", "", "bundle directory for the tarballs (default: <cache-dir>/images)")
	cmd.Flags().StringVar(cacheDir, "cache-dir", "", "cache dir for Go modules, builds and wrapper modules (default: binaries.cacheDir)")
}

// buildImages builds the images which() picks for the config into the bundle
// directory (default <cache-dir>/images) and returns the bundle and its dir.
func buildImages(cmd *cobra.Command, g *cli.Globals, outDir, cacheDir string, which func(*config.Cluster) []images.Image) (images.Bundle, string, error) {
	cfg, err := g.LoadConfig()
	if err != nil {
		return images.Bundle{}, "", err
	}
	if cacheDir == "" {
		cacheDir = cfg.Binaries.CacheDir
	}
	if outDir == "" {
		outDir = filepath.Join(cacheDir, "images")
	}
	bundle, err := images.Build(cmd.Context(), which(cfg), outDir, cacheDir, cmd.ErrOrStderr())
	return bundle, outDir, err
}

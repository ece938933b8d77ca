package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/dashboard"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/install"
)

func newDashboardCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dashboard",
		Short:   "Print the dashboard's URL or mint a login token for it",
		Example: "  k8s-single dashboard url\n  k8s-single dashboard token --duration 2h",
	}
	cmd.AddCommand(newDashboardURLCommand(g), newDashboardTokenCommand(g), newDashboardStandInCommand(g))
	return cmd
}

func newDashboardURLCommand(g *cli.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "url",
		Short: "Print the dashboard's HTTPS URL (first line) and the CA a browser must trust",
		Long: `url prints the URL of the dashboard on the node's address, read from its Service,
then the cluster CA that signed the dashboard's certificate: import it into the
browser (or the system's trust store) and check its fingerprint, and the browser
opens the URL without a warning. Log in with a token from k8s-single dashboard token.`,
		Example: "  k8s-single dashboard url\n  chromium \"$(k8s-single dashboard url | head -n1)\"",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			a, err := install.DashboardURL(cmd.Context(), g.HostRoot(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\ntrust the cluster CA: %s (SHA-256 %s)\nlog in with a token from: k8s-single dashboard token\n",
				a.URL, a.CA, a.CAFingerprint)
			return nil
		},
	}
}

func newDashboardTokenCommand(g *cli.Globals) *cobra.Command {
	var duration time.Duration
	var longLived bool
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint a dashboard-admin login token (TokenRequest API; --long-lived for a Secret-bound one)",
		Long: `token prints a token of the dashboard-admin ServiceAccount, bound to
dashboard.adminClusterRole, to paste into the dashboard's login page. By default it
is minted with the TokenRequest API and expires after --duration; nothing stores it.
--long-lived instead creates a kubernetes.io/service-account-token Secret whose
token never expires until the Secret is deleted: use it only where a short-lived
token cannot work.`,
		Example: "  k8s-single dashboard token\n  k8s-single dashboard token --duration 8h\n  k8s-single dashboard token --long-lived",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			token, expires, err := install.DashboardToken(cmd.Context(), g.HostRoot(), cfg, duration, longLived)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			if longLived {
				ui, _, _ := dashboard.Of(cfg.Dashboard.Kind)
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: this token never expires; revoke it with: kubectl -n %s delete secret %s\n",
					ui.Namespace, dashboard.LongLivedSecret)
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "expires %s\n", expires.Local().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().DurationVar(&duration, "duration", time.Hour, "how long the token lives (at least 10m; the apiserver may cap it)")
	cmd.Flags().BoolVar(&longLived, "long-lived", false, "create a never-expiring Secret-bound token instead (warns)")
	cmd.MarkFlagsMutuallyExclusive("duration", "long-lived")
	return cmd
}

// newDashboardStandInCommand builds the test-only stand-in image; hidden,
// since users deploy the real UIs.
func newDashboardStandInCommand(g *cli.Globals) *cobra.Command {
	var outDir, cacheDir string
	cmd := &cobra.Command{
		Use:    "standin",
		Short:  "TEST ONLY: build the dashboard stand-in image into a bundle and print its reference",
		Hidden: true,
		Long: `standin builds the TEST-ONLY dashboard stand-in (a static HTTPS server that takes
the real UIs' TLS flags and calls the apiserver with a user's token) into the image
bundle, and prints its reference last, for dashboard.image. Tests use it where the
real dashboard images cannot be pulled.`,
		Example: "  k8s-single dashboard standin --out /var/cache/k8s-single/images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			img := images.DashboardStandIn()
			if _, _, err := buildImages(cmd, g, outDir, cacheDir, func(*config.Cluster) []images.Image { return []images.Image{img} }); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), img.Ref)
			return nil
		},
	}
	bundleFlags(cmd, &outDir, &cacheDir)
	return cmd
}

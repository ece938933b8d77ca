package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/printer"
)

func newCertsCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "certs",
		Short:   "Report certificate expiry and renew certificates",
		Example: "  k8s-single certs check-expiration\n  k8s-single certs renew all",
	}
	var output string
	check := &cobra.Command{
		Use:     "check-expiration",
		Short:   "List every certificate with its expiry, residual time and CA",
		Example: "  k8s-single certs check-expiration\n  k8s-single certs check-expiration -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			report, err := certs.CheckExpiration(g.HostRoot(), time.Now())
			if err != nil {
				return err
			}
			if err := printer.Print(cmd.OutOrStdout(), output, certs.ExpiryReport(report)); err != nil {
				return err
			}
			if output == "table" {
				for _, w := range certs.Warnings(report, certs.WarnWithin) {
					fmt.Fprintln(cmd.ErrOrStderr(), "WARNING: "+w)
				}
			}
			return nil
		},
	}
	check.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	var expiringWithin string
	renew := &cobra.Command{
		Use:   "renew NAME...|all|--expiring-within DURATION",
		Short: "Re-sign leaf certificates and restart what reads them; the CAs are kept",
		Long: `renew re-signs the named leaf certificates (or all of them, or those with less
than --expiring-within left) from their CA with the same subject and usages, and
rewrites the kubeconfigs that embed them. On an installed node it then runs up, which
restarts exactly the phases whose files changed, in order (etcd, the control plane,
the kubelet and kube-proxy), waits for each to be healthy and re-applies the
dashboard-tls and metrics-server-tls Secrets. The daily k8s-single-certs.timer runs
"renew --expiring-within 30d". CAs are never renewed.`,
		Example: "  k8s-single certs renew all\n  k8s-single certs renew apiserver etcd/server\n" +
			"  k8s-single certs renew --expiring-within 30d",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := install.RenewOptions{Names: args}
			switch {
			case expiringWithin != "" && len(args) > 0:
				return fmt.Errorf("name certificates or give --expiring-within, not both")
			case expiringWithin != "":
				d, err := config.ParseDuration(expiringWithin)
				if err != nil {
					return fmt.Errorf("--expiring-within %q: %w", expiringWithin, err)
				}
				opts.ExpiringWithin = d
			case len(args) == 0:
				return fmt.Errorf("name the certificates to renew, \"all\", or --expiring-within 30d")
			}
			cfg, err := g.LoadConfig()
			if err != nil {
				return err
			}
			_, err = install.RenewCertificates(cmd.Context(), g.HostRoot(), cmd.OutOrStdout(), g.Verbose, cfg, opts)
			return err
		},
	}
	renew.Flags().StringVar(&expiringWithin, "expiring-within", "", "renew only the leaves with less than this left (30d, 720h)")
	cmd.AddCommand(check, renew)
	return cmd
}

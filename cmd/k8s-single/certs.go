package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/kubeconfig"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/printer"
)

func newCertsCommand(g *globals) *cobra.Command {
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
			report, err := certs.CheckExpiration(g.hostRoot(), time.Now())
			if err != nil {
				return err
			}
			return printer.Print(cmd.OutOrStdout(), output, certs.ExpiryReport(report))
		},
	}
	check.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	renew := &cobra.Command{
		Use:   "renew NAME...|all",
		Short: "Re-sign leaf certificates with the same subject and usages; the CAs are kept",
		Long: `renew re-signs the named leaf certificates (or all of them) from their CA and
rewrites the kubeconfigs that embed them. The in-cluster serving certificates
(dashboard, metrics-server) are re-signed with the names they carry; "all"
renews those that exist. Restart the components afterwards (k8s-single up
--from etcd) so they load the new certificates; that run also re-applies the
dashboard-tls and metrics-server-tls Secrets, which rolls those pods.`,
		Example: "  k8s-single certs renew all\n  k8s-single certs renew apiserver etcd/server\n  k8s-single certs renew metrics-server",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			unlock, err := phases.Lock(g.hostRoot())
			if err != nil {
				return err
			}
			defer unlock()
			res, err := certs.Renew(g.hostRoot(), install.CertParams(cfg), args, time.Now())
			if err != nil {
				return err
			}
			if _, err := kubeconfig.Ensure(g.hostRoot(), cfg); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "renewed %d certificates; restart the components to load them: k8s-single up --from etcd\n", len(res.Actions))
			return nil
		},
	}
	cmd.AddCommand(check, renew)
	return cmd
}

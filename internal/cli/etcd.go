package cli

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/printer"
)

// EtcdFlags are the flags every etcd verb shares; by default the endpoint and
// the certificates come from the config and the PKI.
type EtcdFlags struct {
	G *Globals
	// Output is -w: table, json or simple.
	Output string
	// Endpoints replaces the config's client URL (--endpoints).
	Endpoints []string
}

// Options are the endpoints and the healthcheck-client certificate from the
// config, or the --endpoints given.
func (f *EtcdFlags) Options() (etcdconn.Options, error) {
	cfg, err := f.G.LoadConfig()
	if err != nil {
		return etcdconn.Options{}, err
	}
	opts := etcdconn.OptionsFromConfig(f.G.HostRoot(), cfg)
	if len(f.Endpoints) > 0 {
		opts.Endpoints = f.Endpoints
	}
	return opts, nil
}

// NewEtcdCommand returns `etcd` with its shared flags and the `health` verb;
// the full binary adds the verbs that need etcd's gRPC client.
func NewEtcdCommand(g *Globals) (*cobra.Command, *EtcdFlags) {
	f := &EtcdFlags{G: g}
	cmd := &cobra.Command{
		Use:     "etcd",
		Short:   "Talk to the node's etcd over mTLS, like etcdctl, with no flags to type",
		Example: "  k8s-single etcd health\n  k8s-single etcd get /registry/namespaces --prefix --keys-only -w simple",
		Long: `etcd verbs use the endpoints and the healthcheck-client certificate from the
config and the PKI, so they work as root on the node without any flag.`,
	}
	cmd.PersistentFlags().StringVarP(&f.Output, "write-out", "w", "table", "output format: table, json or simple")
	cmd.PersistentFlags().StringSliceVar(&f.Endpoints, "endpoints", nil, "etcd client URLs (default: https://127.0.0.1:<etcd.clientPort>)")
	cmd.AddCommand(&cobra.Command{
		Use:   "health",
		Short: "Check every endpoint's health, like etcdctl endpoint health",
		Long: `health asks each endpoint's own GET /health over mutual TLS: etcd answers healthy
when no alarm is active, it has a leader and a linearizable read went through
consensus (what etcdctl endpoint health checks with a get and an alarm list).`,
		Example: "  k8s-single etcd health\n  k8s-single etcd health -w json", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := f.Options()
			if err != nil {
				return err
			}
			opts = opts.WithDefaults()
			if err := opts.Validate(); err != nil {
				return err
			}
			tlsConfig, err := etcdconn.LoadTLS(opts)
			if err != nil {
				return err
			}
			report := etcdconn.Health(cmd.Context(), opts, tlsConfig)
			if err := printer.Print(cmd.OutOrStdout(), f.Output, report); err != nil {
				return err
			}
			if !report.Healthy() {
				return errors.New("etcd is unhealthy")
			}
			return nil
		},
	})
	return cmd, f
}

package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/skew"
)

// serialEnv set to 1 makes up run one phase at a time, as --serial does.
const serialEnv = "K8S_SINGLE_SERIAL"

func newUpCommand(g *cli.Globals) *cobra.Command {
	var opts phases.Options
	var upgrade skew.Options
	var from, only string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Install or resume the cluster: every phase, skipping what is done",
		Long: `up runs every phase, each once the phases it depends on are done, up to 3 at
once (the runtime beside etcd and the control plane, the dashboard beside the
add-ons); --serial (or K8S_SINGLE_SERIAL=1) runs them one at a time in the order
of phase list. A phase whose inputs (its part of the config and the outputs of the
phases it depends on) are unchanged and whose files are intact is skipped, so up on
an installed node is a quick no-op and up after a failure resumes.

A changed kubernetesVersion or etcdVersion is an upgrade: checked against the
version rules before anything is touched (see k8s-single upgrade plan), then the
new binaries are staged while the cluster runs, a backup is taken, and etcd, the
control plane, the kubelet and kube-proxy are switched and restarted one at a
time, each healthy before the next; one that fails goes back to its old binary.`,
		Example: `  k8s-single up
  k8s-single up -c cluster.yaml
  k8s-single up --dry-run --root /tmp/stage     # render every file, start nothing
  k8s-single up --from control-plane            # re-run a phase and all after it
  k8s-single up --serial                        # one phase at a time, in order`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.From, opts.Only = phases.Name(from), phases.Name(only)
			return runUp(cmd, g, opts, upgrade)
		},
	}
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "render every file under --root but start nothing (needs no root)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "re-run phases even when their inputs are unchanged (the CA is still kept)")
	cmd.Flags().StringVar(&from, "from", "", "re-run this phase and every phase after it")
	cmd.Flags().StringVar(&only, "only", "", "run only this phase")
	cmd.Flags().BoolVar(&upgrade.AllowDowngrade, "allow-downgrade", false,
		"allow moving to an older patch release of the installed minor version")
	cmd.Flags().BoolVar(&opts.Serial, "serial", os.Getenv(serialEnv) == "1",
		"run one phase at a time in the order of phase list, not every phase whose dependencies are done (default from "+serialEnv+"=1)")
	return cmd
}

// runUp loads the config, checks a change of versions against the upgrade
// rules, runs the phases and prints a one-line count and the summary
// (versions, endpoints, kubeconfig, time per phase). When only a phase that
// fails alone failed (the dashboard), the summary is printed before its error.
func runUp(cmd *cobra.Command, g *cli.Globals, opts phases.Options, upgrade skew.Options) error {
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	plan, err := install.CheckUpgrade(g.HostRoot(), cfg, upgrade)
	if plan.Steps != nil && (err != nil || plan.Changes()) {
		plan.Write(cmd.OutOrStdout())
	}
	if err != nil {
		return err
	}
	for _, n := range cfg.Notices() {
		fmt.Fprintln(cmd.ErrOrStderr(), "NOTE: "+n)
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	out := cmd.OutOrStdout()
	outcomes, upErr := install.NewRunner(g.HostRoot(), out, g.Verbose).Up(ctx, cfg, opts)
	if upErr != nil && !install.FailedAlone(upErr, outcomes) {
		return install.WithResumeHint(upErr, outcomes)
	}
	if err := install.KeepConfig(g.HostRoot(), g.ConfigPath); err != nil {
		return fmt.Errorf("keep config: %w", err)
	}
	ran := 0
	for _, o := range outcomes {
		if o.Action != "skipped" {
			ran++
		}
	}
	total := time.Since(start)
	fmt.Fprintf(out, "up: %d phases, %d ran, %d skipped, in %s\n", len(outcomes), ran, len(outcomes)-ran, total.Round(time.Millisecond))
	states, err := install.NewRunner(g.HostRoot(), nil, false).States()
	if err != nil {
		return err
	}
	summary := install.NewSummary(g.HostRoot(), cfg, outcomes, states, total, opts.DryRun, install.RuntimeVersions(g.HostRoot()))
	if !opts.DryRun {
		summary.SetRunning(install.RunningVersions(ctx, g.HostRoot(), cfg))
	}
	if err := summary.Write(out); err != nil {
		return err
	}
	return install.WithResumeHint(upErr, outcomes)
}

package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/machine"
	"github.com/k8s-single/k8s-single/internal/printer"
)

func newMachineCommand(g *cli.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "machine",
		Short: "Run a whole cluster in a systemd-nspawn machine (any Linux host with root; no systemd as PID 1 needed)",
		Long: `machine runs a real single-node k8s-single cluster inside a systemd-nspawn machine:
a Debian 12 rootfs (debootstrap once, cached), k8s-single, the binaries and the image
bundle inside, and ` + "`k8s-single up`" + ` run by the machine's own systemd. The apiserver (and the
dashboard) are forwarded to the host's loopback, and a host kubeconfig is written, so
the host's kubectl works. Nothing is configured on the host's own network.`,
		Example: "  k8s-single machine up\n  k8s-single machine status\n  k8s-single machine shell -- kubectl get pods -A\n  k8s-single machine down --purge",
	}
	cmd.AddCommand(newMachineUpCommand(g), newMachineStatusCommand(), newMachineShellCommand(),
		newMachineDownCommand(), newMachineForwardCommand())
	return cmd
}

func newMachineUpCommand(g *cli.Globals) *cobra.Command {
	var name, binDir, imagesDir, cacheDir, rootfs string
	var binds, bindsRO []string
	var noUp bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Make and boot a machine and bring its cluster up (or boot a stopped one again)",
		Long: `up builds (or takes) the binaries and the image bundle on the host, makes the machine
from the cached rootfs, boots it, follows its ` + "`k8s-single up`" + ` and prints how to reach the
cluster. The cluster config is the one -c names (or the defaults), with the machine's node,
binaries and bundle. Each machine gets its own node address (10.201.N.2 inside its private
network) and host ports (127.0.0.1:1644N for the apiserver, 1844N for the dashboard).`,
		Example: "  k8s-single machine up\n  k8s-single machine up --name dev --images /srv/bundle\n  k8s-single machine up --name dev --bind-ro /srv/manifests:/mnt/manifests\n  k8s-single machine up --name lab --no-up && k8s-single machine shell --name lab -- k8s-single up",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfigWithCache(g, cacheDir)
			if err != nil {
				return err
			}
			var bs []machine.Bind
			for _, f := range []struct {
				name     string
				values   []string
				readOnly bool
			}{{"--bind", binds, false}, {"--bind-ro", bindsRO, true}} {
				for _, v := range f.values {
					b, err := machine.ParseBind(f.name, v, f.readOnly)
					if err != nil {
						return err
					}
					bs = append(bs, b)
				}
			}
			out := cmd.OutOrStdout()
			if binDir == "" && cfg.Binaries.Source == "dir" {
				binDir = cfg.Binaries.Dir
			}
			if binDir == "" {
				if binDir, err = binaries.Build(cmd.Context(), cfg, out); err != nil {
					return err
				}
			}
			if imagesDir == "" {
				imagesDir = filepath.Join(cfg.Binaries.CacheDir, "images")
				if _, err := images.Build(cmd.Context(), images.Required(cfg), imagesDir, cfg.Binaries.CacheDir, out); err != nil {
					return err
				}
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			m, err := machine.Up(cmd.Context(), machine.Options{Name: name, Config: cfg, BinariesDir: binDir,
				ImagesDir: imagesDir, Binds: bs, CacheDir: cfg.Binaries.CacheDir, BaseRootfs: rootfs, NoUp: noUp, Self: self, Front: cli.FrontBeside(self), Timeout: timeout}, out)
			if err != nil {
				return err
			}
			fmt.Fprint(out, machine.Summary(m))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", machine.DefaultName, "the machine's name (its Node's too)")
	cmd.Flags().StringVar(&binDir, "binaries-dir", "", "the binaries, as k8s-single build makes them (default: build them, cached)")
	cmd.Flags().StringVar(&imagesDir, "images", "", "the image bundle (default: <cache-dir>/images, built from source when it lacks one)")
	cmd.Flags().StringVar(&cacheDir, "cache-dir", "", "cache for builds, the image bundle and the machine rootfs (default: binaries.cacheDir)")
	cmd.Flags().DurationVar(&timeout, "timeout", 20*time.Minute, "how long the machine's up may take")
	cmd.Flags().StringArrayVar(&binds, "bind", nil, "a host path the new machine sees, SRC[:DST] (repeatable)")
	cmd.Flags().StringArrayVar(&bindsRO, "bind-ro", nil, "a host path the new machine sees read-only, SRC[:DST] (repeatable)")
	cmd.Flags().StringVar(&rootfs, "rootfs", "", "a new machine's root file system is a copy of this dir (default: the cached debootstrap one)")
	cmd.Flags().BoolVar(&noUp, "no-up", false, "a new machine boots without running k8s-single up inside (run it with machine shell); up returns once it booted")
	return cmd
}

func newMachineStatusCommand() *cobra.Command {
	var name, output string
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show the machines (with --name, also the cluster's k8s-single status inside)",
		Example: "  k8s-single machine status\n  k8s-single machine status --name dev\n  k8s-single machine status -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				ms, err := machine.List()
				if err != nil {
					return err
				}
				var ss machine.Statuses
				for _, m := range ms {
					ss = append(ss, machine.StatusOf(m))
				}
				return printer.Print(cmd.OutOrStdout(), output, ss)
			}
			m, err := machine.Load(name)
			if err != nil {
				return err
			}
			if err := printer.Print(cmd.OutOrStdout(), output, machine.Statuses{machine.StatusOf(m)}); err != nil || !m.Running() || output != printer.FormatTable {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout())
			inside, err := m.Command("k8s-single", "status")
			if err != nil {
				return err
			}
			inside.Stdout, inside.Stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return inside.Run()
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "one machine (default: list them all)")
	cmd.Flags().StringVarP(&output, "output", "o", printer.FormatTable, "output format: table, json or simple")
	return cmd
}

func newMachineShellCommand() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:     "shell [-- COMMAND...]",
		Short:   "A root shell (or a command) inside a running machine, kubectl set up",
		Example: "  k8s-single machine shell\n  k8s-single machine shell -- kubectl get pods -A",
		RunE: func(_ *cobra.Command, args []string) error {
			m, err := machine.Load(name)
			if err != nil {
				return err
			}
			return m.Shell(args...)
		},
	}
	cmd.Flags().StringVar(&name, "name", machine.DefaultName, "the machine")
	return cmd
}

func newMachineDownCommand() *cobra.Command {
	var name string
	var purge bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:     "down",
		Short:   "Power a machine off, leaving nothing of it running on the host (--purge: remove its disk too)",
		Example: "  k8s-single machine down\n  k8s-single machine down --name dev --purge",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return machine.Down(name, purge, wait, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&name, "name", machine.DefaultName, "the machine")
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the machine's disk (its rootfs and cluster) and its host kubeconfig")
	cmd.Flags().DurationVar(&wait, "wait", time.Minute, "how long a clean poweroff may take before the machine is killed")
	return cmd
}

// newMachineForwardCommand is the port forwarder `machine up` starts on the
// host, one per machine; it ends with the machine.
func newMachineForwardCommand() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:    "forward",
		Short:  "Forward the host's loopback ports into a running machine (machine up starts it)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := machine.Load(name)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			return machine.Forward(ctx, m, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&name, "name", machine.DefaultName, "the machine")
	return cmd
}

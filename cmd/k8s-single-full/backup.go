package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/install"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/printer"
	"github.com/k8s-single/k8s-single/internal/version"
)

func newBackupCommand(g *cli.Globals) *cobra.Command {
	var dir string
	var keep int
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write one verified archive: etcd snapshot, PKI, encryption key, config and journal",
		Long: `backup saves a snapshot of etcd (verified like etcd snapshot save) and writes one
archive, mode 0600, atomically: the snapshot, the whole PKI dir, the key that encrypts
the Secrets, the config k8s-single keeps and the journal, led by a manifest with the
size and sha256 of every member. k8s-single restore brings it back on a reset node.
--keep N then removes the oldest archives of the dir beyond the newest N.`,
		Example: `  k8s-single backup
  k8s-single backup --dir /root/backups
  k8s-single backup --keep 7          # and remove all but the 7 newest archives`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBackup(cmd, g, dir, keep) },
	}
	cmd.Flags().StringVar(&dir, "dir", layout.BackupDir, "directory for the archive (a host path, under --root; created 0700)")
	cmd.Flags().IntVar(&keep, "keep", 0, "after writing, remove the oldest archives in --dir beyond the newest N (0: keep all)")
	return cmd
}

func runBackup(cmd *cobra.Command, g *cli.Globals, dir string, keep int) error {
	if keep < 0 {
		return fmt.Errorf("--keep %d: want 0 (keep all) or the number of archives to keep", keep)
	}
	cfg, err := g.LoadConfig()
	if err != nil {
		return err
	}
	unlock, err := phases.Lock(g.HostRoot())
	if err != nil {
		return err
	}
	defer unlock()
	cli, err := etcd.New(etcdconn.OptionsFromConfig(g.HostRoot(), cfg))
	if err != nil {
		return err
	}
	defer cli.Close()
	res, err := backup.Create(cmd.Context(), backup.Options{Root: g.HostRoot(), Dir: dir, Cluster: install.InstalledVersions(g.HostRoot(), cfg),
		Version: version.Version, Snapshots: backup.EtcdSnapshotter(cli)})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "backup: %s (%s, mode 0600, %d members verified against the manifest)\n",
		res.Path, printer.Bytes(res.Size), len(res.Manifest.Members))
	fmt.Fprintln(out, strings.Join(res.Manifest.Lines(), "\n"))
	if keep > 0 {
		removed, err := backup.Prune(g.HostRoot().Path(dir), keep)
		for _, p := range removed {
			fmt.Fprintf(out, "removed %s (keeping the newest %d)\n", p, keep)
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "restore it on a reset node with: k8s-single restore %s\n", res.Path)
	return nil
}

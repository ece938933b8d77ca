package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/skew"
)

func newRestoreCommand(g *cli.Globals) *cobra.Command {
	var up bool
	cmd := &cobra.Command{
		Use:   "restore ARCHIVE",
		Short: "Bring a cluster back from a backup archive onto a reset node",
		Long: `restore first verifies every member of the archive against its manifest and
refuses, writing nothing, an archive that does not match (a changed, added or missing
member, a path outside the PKI and k8s-single's own files). It refuses a node where a
cluster is installed or etcd's data dir holds data (run k8s-single reset --purge first).
It then writes the PKI, the encryption key and the config, and restores etcd's snapshot
into the configured data dir as this node's member; the journal is not restored. The
next k8s-single up (or --up) starts the cluster on the restored data. The config is the
archive's unless -c names another; a new node address is fine: up re-signs the
certificates that carry it.`,
		Example: `  k8s-single restore /var/lib/k8s-single/backups/k8s-single-backup-20261201T160313.123Z.tar.gz
  k8s-single restore --up /root/backups/k8s-single-backup-20261201T160313.123Z.tar.gz
  k8s-single restore -c cluster.yaml --up backup.tar.gz   # with another config`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runRestore(cmd, g, args[0], up) },
	}
	cmd.Flags().BoolVar(&up, "up", false, "run k8s-single up once restored")
	return cmd
}

func runRestore(cmd *cobra.Command, g *cli.Globals, archive string, up bool) error {
	start := time.Now()
	out := cmd.OutOrStdout()
	a, err := backup.Open(archive)
	if err != nil {
		return fmt.Errorf("%w; nothing was written", err)
	}
	m := a.Manifest
	fmt.Fprintf(out, "verified %s: %d members match the manifest\n%s\n", archive, len(m.Members), strings.Join(m.Lines(), "\n"))
	cfg, configFile, err := restoreConfig(g, a)
	if err != nil {
		return err
	}
	unlock, err := phases.Lock(g.HostRoot())
	if err != nil {
		return err
	}
	opts := backup.RestoreOptions{Root: g.HostRoot(), Cluster: cfg, ConfigFile: configFile}
	if g.HostRoot().IsSystem() {
		opts.HostAddrs = net.InterfaceAddrs
	}
	r, err := a.Restore(opts)
	unlock()
	if err != nil {
		return err
	}
	var pki int
	var others []string
	for _, f := range r.Files {
		if strings.HasPrefix(f, layout.PKIDir+"/") {
			pki++
		} else {
			others = append(others, f)
		}
	}
	fmt.Fprintf(out, "restored %d PKI files into %s (keys 0600, certificates 0644, dirs 0700) and %s\n", pki, layout.PKIDir, strings.Join(others, ", "))
	fmt.Fprintf(out, "restored etcd's data into %s as member %s, peer URL %s, at revision %d\n", r.DataDir, r.Member, r.PeerURL, m.Snapshot.Revision)
	if cfg.Node.Address != m.Node.Address {
		fmt.Fprintf(out, "note: the backup was taken at node address %s; this node's is %s: the next up re-signs the certificates that carry the address, and etcd's member already has the peer URL above\n",
			m.Node.Address, cfg.Node.Address)
	}
	if cfg.Node.Name != m.Node.Name {
		fmt.Fprintf(out, "note: the backup was taken on node %s; this node is %s: once up, remove the old Node with kubectl delete node %s\n",
			m.Node.Name, cfg.Node.Name, m.Node.Name)
	}
	fmt.Fprintf(out, "restore took %s\n", time.Since(start).Round(time.Millisecond))
	if !up {
		next := "k8s-single up"
		if g.ConfigPath != "" {
			next += " -c " + g.ConfigPath
		}
		fmt.Fprintf(out, "next: run %s to start the cluster on the restored data\n", next)
		return nil
	}
	upStart := time.Now()
	fmt.Fprintln(out, "running k8s-single up")
	if err := runUp(cmd, g, phases.Options{}, skew.Options{}); err != nil {
		return err
	}
	fmt.Fprintf(out, "restore + up took %s (up %s)\n", time.Since(start).Round(time.Millisecond), time.Since(upStart).Round(time.Millisecond))
	return nil
}

// restoreConfig is the config the restored node runs with: -c when given
// (its bytes become the kept config), else the archive's, else the usual
// default (the kept config under --root, or the built-in defaults).
func restoreConfig(g *cli.Globals, a *backup.Archive) (*config.Cluster, []byte, error) {
	if g.ConfigPath != "" {
		cfg, err := g.LoadConfig()
		if err != nil {
			return nil, nil, err
		}
		data, err := os.ReadFile(g.ConfigPath)
		return cfg, data, err
	}
	cfg, ok, err := a.Cluster(config.DetectHost())
	if ok || err != nil {
		return cfg, nil, err
	}
	cfg, err = g.LoadConfig()
	return cfg, nil, err
}

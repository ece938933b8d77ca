package main

import (
	"fmt"
	"net"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/k8s-single/k8s-single/internal/cli"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/printer"
)

// etcdClient connects with f's endpoints and certificates.
func etcdClient(f *cli.EtcdFlags) (*etcd.Client, error) {
	opts, err := f.Options()
	if err != nil {
		return nil, err
	}
	return etcd.New(opts)
}

// etcdDo runs one verb against a client and prints its result.
func etcdDo(f *cli.EtcdFlags, cmd *cobra.Command, verb func(*etcd.Client) (any, error)) error {
	client, err := etcdClient(f)
	if err != nil {
		return err
	}
	defer client.Close()
	v, err := verb(client)
	if err != nil {
		return err
	}
	return printer.Print(cmd.OutOrStdout(), f.Output, v)
}

// newEtcdCommand is the front's `etcd` (health) with the verbs that need
// etcd's gRPC client.
func newEtcdCommand(g *cli.Globals) *cobra.Command {
	cmd, f := cli.NewEtcdCommand(g)
	cmd.AddCommand(
		&cobra.Command{
			Use: "status", Short: "Show version, DB size, leader and raft term/index, like etcdctl endpoint status",
			Example: "  k8s-single etcd status -w table", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return etcdDo(f, cmd, func(c *etcd.Client) (any, error) { return c.Status(cmd.Context()) })
			},
		},
		&cobra.Command{
			Use: "members", Short: "List the cluster's members", Example: "  k8s-single etcd members", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return etcdDo(f, cmd, func(c *etcd.Client) (any, error) { return c.Members(cmd.Context()) })
			},
		},
		&cobra.Command{
			Use: "defrag", Short: "Give the space compaction freed back to the disk, like etcdctl defrag",
			Example: "  k8s-single etcd defrag", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return etcdDo(f, cmd, func(c *etcd.Client) (any, error) { return c.Defragment(cmd.Context()) })
			},
		},
		newEtcdGetCommand(f),
		&cobra.Command{
			Use: "put KEY VALUE", Short: "Write a key", Example: "  k8s-single etcd put /demo/greeting hello", Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return etcdDo(f, cmd, func(c *etcd.Client) (any, error) {
					return etcd.KVList{{Key: args[0], Value: args[1]}}, c.Put(cmd.Context(), args[0], args[1])
				})
			},
		},
		newEtcdDelCommand(f),
		newEtcdSnapshotCommand(f),
	)
	return cmd
}

func newEtcdGetCommand(f *cli.EtcdFlags) *cobra.Command {
	var prefix, keysOnly bool
	cmd := &cobra.Command{
		Use: "get KEY", Short: "Read a key, or every key under a prefix",
		Example: "  k8s-single etcd get /registry/namespaces --prefix --keys-only -w simple", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return etcdDo(f, cmd, func(c *etcd.Client) (any, error) { return c.Get(cmd.Context(), args[0], prefix, keysOnly) })
		},
	}
	cmd.Flags().BoolVar(&prefix, "prefix", false, "read every key that starts with KEY")
	cmd.Flags().BoolVar(&keysOnly, "keys-only", false, "print keys without values")
	return cmd
}

// deleted is the result of etcd del.
type deleted struct {
	Deleted int64 `json:"deleted"`
}

// Table prints the count.
func (d deleted) Table() ([]string, [][]string) {
	return []string{"DELETED"}, [][]string{{strconv.FormatInt(d.Deleted, 10)}}
}

func newEtcdDelCommand(f *cli.EtcdFlags) *cobra.Command {
	var prefix bool
	cmd := &cobra.Command{
		Use: "del KEY", Short: "Delete a key, or every key under a prefix",
		Example: "  k8s-single etcd del /demo --prefix", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return etcdDo(f, cmd, func(c *etcd.Client) (any, error) {
				n, err := c.Delete(cmd.Context(), args[0], prefix)
				return deleted{n}, err
			})
		},
	}
	cmd.Flags().BoolVar(&prefix, "prefix", false, "delete every key that starts with KEY")
	return cmd
}

func newEtcdSnapshotCommand(f *cli.EtcdFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "snapshot", Short: "Save, inspect and restore etcd snapshots",
		Example: "  k8s-single etcd snapshot save /var/lib/k8s-single/backup.db"}
	save := &cobra.Command{
		Use: "save FILE", Short: "Save a snapshot and verify it (hash, revision, keys)",
		Example: "  k8s-single etcd snapshot save /var/lib/k8s-single/backup.db", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return etcdDo(f, cmd, func(c *etcd.Client) (any, error) { return c.SnapshotSave(cmd.Context(), args[0]) })
		},
	}
	status := &cobra.Command{
		Use: "status FILE", Short: "Show a snapshot's hash, revision, key count and size",
		Example: "  k8s-single etcd snapshot status backup.db", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := etcd.SnapshotStatus(args[0])
			if err != nil {
				return err
			}
			return printer.Print(cmd.OutOrStdout(), f.Output, info)
		},
	}
	var dataDir string
	restore := &cobra.Command{
		Use:   "restore FILE --data-dir DIR",
		Short: "Restore a snapshot into a new data dir (never over a live one)",
		Long: `restore writes a new etcd data dir from a snapshot. It refuses a directory that
exists and is not empty. To switch to it: stop etcd, set etcd.dataDir in the config
to DIR and run k8s-single up.`,
		Example: "  k8s-single etcd snapshot restore backup.db --data-dir /var/lib/etcd-restored", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.G.LoadConfig()
			if err != nil {
				return err
			}
			peer := "https://" + net.JoinHostPort(cfg.Node.Address, strconv.Itoa(cfg.Etcd.PeerPort))
			if err := etcd.SnapshotRestore(args[0], f.G.HostRoot().Path(dataDir), cfg.Node.Name, peer); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s; to use it: set etcd.dataDir: %s in the config and run k8s-single up\n", args[0], dataDir, dataDir)
			return nil
		},
	}
	restore.Flags().StringVar(&dataDir, "data-dir", "", "the new data dir to create (must not exist or be empty)")
	_ = restore.MarkFlagRequired("data-dir")
	cmd.AddCommand(save, status, restore)
	return cmd
}

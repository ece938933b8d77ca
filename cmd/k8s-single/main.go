// Command k8s-single is the quick front of k8s-single. It runs `version` and
// `etcd health` itself and hands every other command, and every --help, to
// k8s-single-full, the binary beside it with the whole installer (see
// internal/cli). The split exists because Go initialises every package a
// binary links before main runs, whatever the command: the installer's
// client-go, etcd server and Prometheus packages cost a quick command more
// than its own work. This package only parses flags and calls internal
// packages.
package main

import (
	"fmt"
	"os"

	"github.com/k8s-single/k8s-single/internal/cli"
)

func main() {
	g := &cli.Globals{}
	root := cli.NewRootCommand(g)
	etcdCommand, _ := cli.NewEtcdCommand(g)
	root.AddCommand(cli.NewVersionCommand(), etcdCommand)
	if args := os.Args[1:]; !cli.Quick(root, args) {
		fmt.Fprintln(os.Stderr, "error:", cli.HandOff(args))
		os.Exit(1)
	}
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(cli.ExitCode(err))
	}
}

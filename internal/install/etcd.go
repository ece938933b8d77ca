package install

import (
	"context"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/poll"
	"github.com/k8s-single/k8s-single/internal/units"
)

// etcdHealthTimeout bounds the wait for a started etcd to answer.
const etcdHealthTimeout = 60 * time.Second

// Etcd installs etcd's unit, starts it and proves it with our own client.
func Etcd() phases.Phase {
	return phases.Phase{
		Name:      PhaseEtcd,
		Short:     "install, start and verify etcd (mTLS with its own CA)",
		DependsOn: []phases.Name{PhaseCerts},
		After:     []phases.Name{PhaseBinaries},
		Inputs:    unitInputs("etcd"),
		Render:    renderUnits("etcd"),
		Start: func(c *phases.Context) error {
			if err := prepareEtcdDataDir(c); err != nil {
				return err
			}
			if err := backupBeforeRestart(c, "etcd.service", components["etcd"].binaries...); err != nil {
				return err
			}
			return restartComponents(c, "etcd")
		},
		Verify: verifyEtcd,
		Undo: func(c *phases.Context) error {
			if err := stopUnits(c, "etcd.service"); err != nil {
				return err
			}
			return purgeDir(c, c.Config.Etcd.DataDir)
		},
		Plan: planStart("etcd.service"),
	}
}

// prepareEtcdDataDir makes sure the etcd system user exists and owns the
// data dir, mode 0700 (CIS 1.1.11/1.1.12): a dir an earlier k8s-single left
// to root, or a restored one, is handed over whole. The dir is an artifact
// of the phase, so a chmod or chown of it is drift that the next run repairs.
func prepareEtcdDataDir(c *phases.Context) error {
	dir := c.Config.Etcd.DataDir
	uid, gid, err := ensureSystemUser(c, units.EtcdUser, dir)
	if err != nil {
		return err
	}
	if err := c.Root.MkdirAll(dir, layout.ModePrivateDir); err != nil {
		return fmt.Errorf("create etcd data dir: %w", err)
	}
	if err := c.Root.ChownAll(dir, uid, gid); err != nil {
		return fmt.Errorf("give etcd data dir %s to the %s user: %w", dir, units.EtcdUser, err)
	}
	c.Track(dir)
	return nil
}

// ensureSystemUser returns the uid and gid of a system user, creating it
// (with a group of the same name, no login shell, no home created) when the
// host has none.
func ensureSystemUser(ctx context.Context, name, home string) (int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, ok := err.(user.UnknownUserError); !ok {
			return 0, 0, fmt.Errorf("look up user %s: %w", name, err)
		}
		out, err := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", home, "--shell", "/usr/sbin/nologin", "--comment", name+" (k8s-single)", name).CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("create system user %s: %w: %s", name, err, strings.TrimSpace(string(out)))
		}
		if u, err = user.Lookup(name); err != nil {
			return 0, 0, fmt.Errorf("look up user %s after creating it: %w", name, err)
		}
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, 0, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return 0, 0, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	return uid, gid, nil
}

// unitInputs makes a phase's Inputs the digests of the units it renders
// and the identity of the binaries of those components (withBinaries).
func unitInputs(names ...string) func(*phases.Context) (any, error) {
	return func(c *phases.Context) (any, error) {
		fs, err := unitFiles(c.Config, names...)
		if err != nil {
			return nil, err
		}
		var bins []string
		for _, n := range names {
			bins = append(bins, components[n].binaries...)
		}
		return withBinaries(fs.digests(), c, bins...), nil
	}
}

// renderUnits makes a phase's Render write the units of its components.
func renderUnits(components ...string) func(*phases.Context) error {
	return func(c *phases.Context) error {
		fs, err := unitFiles(c.Config, components...)
		if err != nil {
			return err
		}
		return fs.write(c)
	}
}

// verifyEtcd waits for etcd to be healthy, then runs the full check: health,
// status, members, a sentinel put/get/delete, and a certless client refused.
func verifyEtcd(c *phases.Context) error {
	cli, err := etcd.New(etcdconn.OptionsFromConfig(c.Root, c.Config))
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := waitEtcdHealthy(c, cli, etcdHealthTimeout); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c, 30*time.Second)
	defer cancel()
	// After the node's address changed, the member still advertises the old one.
	peer := units.EtcdPeerURL(c.Config)
	if changed, err := cli.EnsurePeerURLs(ctx, c.Config.Node.Name, []string{peer}); err != nil {
		return err
	} else if changed {
		c.Printf("etcd member %s now advertises %s (the node's address changed)", c.Config.Node.Name, peer)
	}
	if err := cli.Verify(ctx); err != nil {
		return err
	}
	c.Printf("etcd verified: health, status, members, sentinel put/get/delete, certless client refused")
	return nil
}

func waitEtcdHealthy(ctx context.Context, cli *etcd.Client, timeout time.Duration) error {
	_, err := poll.Wait{What: "etcd to be healthy", Timeout: timeout, Interval: 500 * time.Millisecond,
		Expired: func(state string) error { return fmt.Errorf("etcd not healthy within %s: %s", timeout, state) },
	}.Until(ctx, func(ctx context.Context) (bool, string, error) {
		report := cli.Health(ctx)
		return report.Healthy(), strings.Join(report.Lines(), "; "), nil
	})
	return err
}

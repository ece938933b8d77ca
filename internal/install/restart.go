package install

import (
	"context"
	"fmt"
	"os"
	"path"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/units"
)

// crashLoopRestarts is how many restarts by systemd, while a switched binary
// is waited for, prove it cannot start (RestartSec=2: about 6 s).
const crashLoopRestarts = 3

// A component is one daemon as its phase (re)starts it: its unit, the
// binaries switched to the config's release with it, the files of its that
// a rollback puts back, and the wait for its health.
type component struct {
	name     string
	binaries []string
	files    []string
	// healthy waits for the component's health; want is the Kubernetes
	// version it must report where it reports one ("" after a rollback).
	healthy func(w waitContext, c *phases.Context, want string) error
}

func (comp component) unit() string { return comp.name + ".service" }

// components are the daemons in the order an upgrade restarts them
// (kubeadm's): etcd, the control plane, then the node. kubectl moves with
// the apiserver and etcdctl with etcd.
var components = map[string]component{
	"etcd": {name: "etcd", binaries: []string{"etcd", "etcdctl"}, files: []string{layout.Unit("etcd")},
		healthy: func(w waitContext, c *phases.Context, _ string) error {
			cli, err := etcd.New(etcdconn.OptionsFromConfig(c.Root, c.Config))
			if err != nil {
				return err
			}
			defer cli.Close()
			w.Waitf("etcd to answer over mTLS on 127.0.0.1:%d, up to %s", c.Config.Etcd.ClientPort, etcdHealthTimeout)
			return waitEtcdHealthy(w, cli, etcdHealthTimeout)
		}},
	"kube-apiserver": {name: "kube-apiserver", binaries: []string{"kube-apiserver", "kubectl"},
		files: []string{layout.Unit("kube-apiserver")}, healthy: endpointHealthy(0)},
	"kube-controller-manager": {name: "kube-controller-manager", binaries: []string{"kube-controller-manager"},
		files: []string{layout.Unit("kube-controller-manager")}, healthy: endpointHealthy(1)},
	"kube-scheduler": {name: "kube-scheduler", binaries: []string{"kube-scheduler"},
		files: []string{layout.Unit("kube-scheduler")}, healthy: endpointHealthy(2)},
	"kubelet": {name: "kubelet", binaries: []string{"kubelet"},
		files: []string{layout.Unit("kubelet"), layout.KubeletConfig}, healthy: kubeletHealthy},
	"kube-proxy": {name: "kube-proxy", binaries: []string{"kube-proxy"},
		files: []string{layout.Unit("kube-proxy"), layout.KubeProxyConfig},
		healthy: func(w waitContext, c *phases.Context, _ string) error {
			_, err := kubeProxyHealthz.WaitOK(w, healthTimeout, c.Out())
			return err
		}},
}

// withBinaries adds to a phase's input digests the identity of the named
// binaries in the config's release dir (size and modification time, as the
// journal trusts them for large files): a phase re-runs, and restarts its
// components, when its own binaries change, not when another component's
// do (a Kubernetes upgrade does not restart etcd).
func withBinaries(digests map[string]string, c *phases.Context, names ...string) map[string]string {
	for _, n := range names {
		p := path.Join(binaries.ReleaseDir(c.Config), n)
		id := "missing"
		if st, err := os.Stat(c.Root.Path(p)); err == nil {
			id = fmt.Sprintf("%d %s", st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano))
		}
		digests[p] = id
	}
	return digests
}

// endpointHealthy waits for the control-plane endpoint at index i of
// ControlPlaneEndpoints to answer 200.
func endpointHealthy(i int) func(w waitContext, c *phases.Context, want string) error {
	return func(w waitContext, c *phases.Context, _ string) error {
		_, err := ControlPlaneEndpoints(c.Root, c.Config)[i].WaitOK(w, healthTimeout, c.Out())
		return err
	}
}

// kubeletHealthy waits for the Node to be Ready with the kubelet version
// want in its status (any when want is ""): the kubelet that runs is the
// one just started.
func kubeletHealthy(w waitContext, c *phases.Context, want string) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	name := c.Config.Node.Name
	nodes := func(ctx context.Context) (*corev1.Node, string, error) { return getNode(ctx, cs, name) }
	readyOn := func(n *corev1.Node) (bool, string, error) {
		if got := n.Status.NodeInfo.KubeletVersion; want != "" && got != want {
			return false, "kubelet " + got + " reported", nil
		}
		return nodeReady(n)
	}
	what := "node " + name + " to be Ready"
	if want != "" {
		what += " on kubelet " + want
	}
	_, err = waitUpTo(what, nodeReadyTimeout).until(w, checkNode(nodes, readyOn))
	return err
}

// restartComponents brings each named component up on the config's
// release, one after another: it switches the component's binaries
// (binaries.Activate), restarts its unit, and waits for its health before
// the next. When a component whose binary was switched fails (its health
// wait ends, or systemd restarted it crashLoopRestarts times), the
// component goes back to the binary and files it ran with, is restarted
// and waited for again, and the error names it with its last log lines:
// the cluster stays up on the old version of that component, and the
// journal lets the next up resume here.
func restartComponents(c *phases.Context, names ...string) error {
	return afterReload(c, func(m *units.Manager) error {
		for _, name := range names {
			comp := components[name]
			switches, err := activate(c, comp)
			if err != nil {
				return err
			}
			switched := switchedAny(switches)
			if switched {
				c.Printf("%s: switched to %s", comp.name, binaries.ReleaseName(c.Config.KubernetesVersion, c.Config.EtcdVersion))
			}
			err = restartAndWait(c, m, comp, switched, c.Config.KubernetesVersion)
			if err == nil {
				continue
			}
			failure := withJournalTail(m, comp.unit(), err)
			if !switched {
				return failure
			}
			if rerr := rollBack(c, m, comp, switches); rerr != nil {
				return fmt.Errorf("%s on the new release failed: %w\nand rolling it back failed too: %v", comp.name, failure, rerr)
			}
			return fmt.Errorf("%s on %s failed, so it was rolled back to the binary and files it ran with and is healthy again; "+
				"fix the cause and run `k8s-single up` to resume the upgrade here: %w", comp.name, binaries.ReleaseName(c.Config.KubernetesVersion, c.Config.EtcdVersion), failure)
		}
		return nil
	})
}

// startComponents starts the named components at once and then waits for
// each to be active and healthy, in order: for components that need nothing
// of each other (the controller-manager and the scheduler, once the
// apiserver answers; the kubelet and kube-proxy), so that their starts
// overlap. When a binary of theirs would be switched (an upgrade), it is
// restartComponents instead: one at a time, each rolled back on failure.
func startComponents(c *phases.Context, names ...string) error {
	if binaries.WouldReplace(c.Root, c.Config, binariesOf(names...)...) {
		return restartComponents(c, names...)
	}
	return afterReload(c, func(m *units.Manager) error {
		start := time.Now()
		for _, name := range names {
			comp := components[name]
			if _, err := activate(c, comp); err != nil {
				return err
			}
			c.Waitf("%s to be active", comp.unit())
			if err := m.EnableAndStart(c, comp.unit()); err != nil {
				return withJournalTail(m, comp.unit(), err)
			}
		}
		w := watchedContext{c, c}
		for _, name := range names {
			comp := components[name]
			err := m.WaitActive(w, comp.unit(), unitTimeout)
			if err == nil {
				err = comp.healthy(w, c, c.Config.KubernetesVersion)
			}
			if err != nil {
				return withJournalTail(m, comp.unit(), err)
			}
			c.Printf("%s healthy after %s", comp.name, time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
}

// activate switches the component's binaries to the config's release
// (binaries.Activate), tracking the paths it writes as the phase's.
func activate(c *phases.Context, comp component) ([]binaries.Switch, error) {
	paths, switches, err := binaries.Activate(c.Root, c.Config, comp.binaries...)
	c.Track(paths...)
	return switches, err
}

// binariesOf lists the binaries of the named components.
func binariesOf(names ...string) []string {
	var bins []string
	for _, n := range names {
		bins = append(bins, components[n].binaries...)
	}
	return bins
}

func switchedAny(switches []binaries.Switch) bool {
	for _, s := range switches {
		if s.Replaced {
			return true
		}
	}
	return false
}

// restartAndWait restarts the component's unit and waits for it to be
// active and healthy. With watch, a crash loop ends the wait early.
func restartAndWait(c *phases.Context, m *units.Manager, comp component, watch bool, want string) error {
	start := time.Now()
	c.Waitf("%s to be active", comp.unit())
	if err := m.EnableAndStart(c, comp.unit()); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(c)
	defer cancel(nil)
	if watch {
		go watchCrashLoop(ctx, cancel, m, comp.unit())
	}
	w := watchedContext{ctx, c}
	err := m.WaitActive(w, comp.unit(), unitTimeout)
	if err == nil {
		err = comp.healthy(w, c, want)
	}
	if cause := context.Cause(ctx); err != nil && cause != nil && cause != context.Canceled {
		err = cause
	}
	if err != nil {
		return err
	}
	c.Printf("%s healthy after %s", comp.name, time.Since(start).Round(time.Millisecond))
	return nil
}

// watchedContext is a phase's output with a context that a crash loop ends.
type watchedContext struct {
	context.Context
	phase *phases.Context
}

// Waitf and Printf print as the phase does.
func (w watchedContext) Waitf(format string, args ...any)  { w.phase.Waitf(format, args...) }
func (w watchedContext) Printf(format string, args ...any) { w.phase.Printf(format, args...) }

// restartCounter reads how often systemd restarted a unit (units.Manager).
type restartCounter interface {
	Restarts(ctx context.Context, unit string) (uint32, error)
}

// crashLoopPoll is how often watchCrashLoop reads the restart count.
var crashLoopPoll = time.Second

// watchCrashLoop cancels ctx once systemd restarted unit crashLoopRestarts
// times since the watch began.
func watchCrashLoop(ctx context.Context, cancel context.CancelCauseFunc, m restartCounter, unit string) {
	base, err := m.Restarts(ctx, unit)
	if err != nil {
		return
	}
	tick := time.NewTicker(crashLoopPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := m.Restarts(ctx, unit); err == nil && n >= base+crashLoopRestarts {
			cancel(fmt.Errorf("%s is crash-looping: systemd restarted it %d times", unit, n-base))
			return
		}
	}
}

// rollBack puts the component's previous binaries and files back, restarts
// it and waits for its health.
func rollBack(c *phases.Context, m *units.Manager, comp component, switches []binaries.Switch) error {
	c.Printf("%s failed on the new release: rolling it back", comp.name)
	if err := binaries.Revert(c.Root, c.Config, switches); err != nil {
		return err
	}
	restored, err := c.Restore(comp.files...)
	if err != nil {
		return err
	}
	for _, f := range restored {
		c.Printf("restored %s", f)
	}
	if err := m.DaemonReload(c); err != nil {
		return err
	}
	if err := m.ResetFailed(c, comp.unit()); err != nil {
		return err
	}
	return restartAndWait(c, m, comp, false, "")
}

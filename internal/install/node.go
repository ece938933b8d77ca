package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/probe"
	"github.com/k8s-single/k8s-single/internal/runtime"
)

// nodeComponents start together (see startComponents); their health is
// waited for in this order.
var nodeComponents = []string{"kubelet", "kube-proxy"}

// Waits of the node phase: a kubelet on a TCG-emulated VM takes minutes.
const (
	nodeReadyTimeout   = 5 * time.Minute
	schedulableTimeout = 2 * time.Minute
	// requestTimeout bounds one read of the Node, so a hung apiserver
	// cannot outlast a wait.
	requestTimeout = 10 * time.Second
)

// Node installs the kubelet and kube-proxy (configs and units), starts them,
// waits for the Node to be Ready and lets workloads schedule on it.
func Node() phases.Phase {
	return phases.Phase{
		Name:      PhaseNode,
		Short:     "install and start the kubelet and kube-proxy; wait for the Node to be Ready",
		DependsOn: []phases.Name{PhaseCerts, PhaseKubeconfigs, PhaseControlPlane, PhaseRuntime},
		After:     []phases.Name{PhaseBinaries},
		Inputs: func(c *phases.Context) (any, error) {
			fs, err := nodeFiles(c.Config)
			if err != nil {
				return nil, err
			}
			return withBinaries(fs.digests(), c, "kubelet", "kube-proxy"), nil
		},
		Render: func(c *phases.Context) error {
			fs, err := nodeFiles(c.Config)
			if err != nil {
				return err
			}
			return fs.write(c)
		},
		Start: func(c *phases.Context) error {
			removed, err := certs.DropForeignKubeletCerts(c.Root)
			if err != nil {
				return err
			}
			if len(removed) > 0 {
				c.Printf("removed the kubelet's rotated client certificates %s: the cluster CA did not sign them (a previous install's); "+
					"the kubelet starts from kubelet.conf's certificate", strings.Join(removed, " "))
			}
			return startComponents(c, nodeComponents...)
		},
		Verify: verifyNode,
		// The pods themselves are the runtime phase's Undo (it runs next).
		Undo: undoNode,
		Plan: func(c *phases.Context) []string {
			return append(planStart(unitNames(nodeComponents)...)(c),
				"wait for Node "+c.Config.Node.Name+" to be Ready, remove its node-role NoSchedule taints, check kube-proxy's /healthz")
		},
	}
}

// nodeFiles are the kubelet's and kube-proxy's config files and units.
func nodeFiles(c *config.Cluster) (files, error) {
	// Render also returns the control plane's files; the encryption key it
	// may draw for them is dropped with them.
	return componentFiles(c, nil, nodeComponents, layout.KubeletConfig, layout.KubeProxyConfig)
}

// kubeProxyHealthz is kube-proxy's health endpoint (plain HTTP, its default
// healthzBindAddress 0.0.0.0:10256).
var kubeProxyHealthz = probe.Endpoint{Name: "kube-proxy /healthz", URL: "http://127.0.0.1:10256/healthz"}

// verifyNode waits for the Node to be Ready, removes the node-role taints
// that would keep workloads off the only node, waits for the controller's
// not-ready taints to go, and checks kube-proxy's health. A failure carries
// the log lines of the daemon at fault.
func verifyNode(c *phases.Context) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	name := c.Config.Node.Name
	nodes := func(ctx context.Context) (*corev1.Node, string, error) { return getNode(ctx, cs, name) }
	took, err := waitUpTo("node "+name+" to be Ready", nodeReadyTimeout).until(c, checkNode(nodes, nodeReady))
	if err != nil {
		return journalOf(c, kubeletUnit, err)
	}
	c.Printf("node %s Ready after %s", name, took.Round(time.Millisecond))
	removed, err := removeRoleTaints(c, cs, name)
	if err != nil {
		return err
	}
	for _, t := range removed {
		c.Printf("removed taint %s: the only node runs workloads", t)
	}
	// The node lifecycle controller removes the not-ready taints.
	var last *corev1.Node
	lastSchedulable := func(n *corev1.Node) (bool, string, error) { last = n; return schedulable(n) }
	took, err = waitUpTo("node "+name+" to take workloads", schedulableTimeout).until(c, checkNode(nodes, lastSchedulable))
	if err != nil {
		return journalOf(c, "kube-controller-manager.service", err)
	}
	c.Printf("node %s takes workloads after %s", name, took.Round(time.Millisecond))
	for _, t := range last.Spec.Taints {
		c.Printf("left taint %s in place (not k8s-single's)", t.ToString())
	}
	took, err = kubeProxyHealthz.WaitOK(c, healthTimeout, c.Out())
	if err != nil {
		return journalOf(c, "kube-proxy.service", err)
	}
	c.Printf("%s ok after %s", kubeProxyHealthz.Name, took.Round(time.Millisecond))
	return nil
}

// getNode reads the Node. While the apiserver does not have it (the kubelet
// registers it) or does not answer, it returns the state to show; a refusal
// is an error, since waiting will not grant the rights.
func getNode(ctx context.Context, cs kubernetes.Interface, name string) (*corev1.Node, string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		return node, "", nil
	case apierrors.IsNotFound(err):
		return nil, "not registered yet", nil
	case apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err):
		return nil, "", fmt.Errorf("read Node %s with %s: %w; did the control-plane phase apply bootstrap RBAC? run `k8s-single phase run control-plane`",
			name, layout.Kubeconfig("admin"), err)
	}
	return nil, err.Error(), nil
}

// checkNode makes a wait's check from a Node getter and a test of the Node.
func checkNode(get func(context.Context) (*corev1.Node, string, error), test func(*corev1.Node) (bool, string, error)) func(context.Context) (bool, string, error) {
	return func(ctx context.Context) (bool, string, error) {
		node, state, err := get(ctx)
		if node == nil || err != nil {
			return false, state, err
		}
		return test(node)
	}
}

// nodeReady tests the Node's Ready condition, showing why it is not.
func nodeReady(node *corev1.Node) (bool, string, error) {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			if cond.Status == corev1.ConditionTrue {
				return true, "", nil
			}
			return false, fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message), nil
		}
	}
	return false, "no Ready condition yet", nil
}

// roleTaintPrefix marks the taints kubeadm puts on control-plane nodes.
const roleTaintPrefix = "node-role.kubernetes.io/"

// controllerTaintPrefix marks the taints the node lifecycle controller adds
// and removes itself (not-ready, unreachable, pressure).
const controllerTaintPrefix = "node.kubernetes.io/"

// schedulable tests whether pods can land on the Node: not cordoned, and no
// taint of the node lifecycle controller left that keeps pods off. Taints
// others set are theirs to keep, and are reported by the caller.
func schedulable(node *corev1.Node) (bool, string, error) {
	if node.Spec.Unschedulable {
		return false, "", fmt.Errorf("node %s is cordoned (spec.unschedulable): run kubectl uncordon %s", node.Name, node.Name)
	}
	var blocking []string
	for _, t := range node.Spec.Taints {
		if strings.HasPrefix(t.Key, controllerTaintPrefix) && t.Effect != corev1.TaintEffectPreferNoSchedule {
			blocking = append(blocking, t.ToString())
		}
	}
	if len(blocking) > 0 {
		return false, "tainted " + strings.Join(blocking, ", "), nil
	}
	return true, "", nil
}

// withoutRoleTaints splits the Node's taints into those to keep and the
// node-role NoSchedule ones, which on a single node keep every workload off.
func withoutRoleTaints(taints []corev1.Taint) (keep []corev1.Taint, removed []string) {
	for _, t := range taints {
		if strings.HasPrefix(t.Key, roleTaintPrefix) && t.Effect == corev1.TaintEffectNoSchedule {
			removed = append(removed, t.ToString())
			continue
		}
		keep = append(keep, t)
	}
	return keep, removed
}

// removeRoleTaints removes the Node's node-role NoSchedule taints, if any,
// and returns them.
func removeRoleTaints(ctx context.Context, cs kubernetes.Interface, name string) ([]string, error) {
	var removed []string
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		node.Spec.Taints, removed = withoutRoleTaints(node.Spec.Taints)
		if len(removed) == 0 {
			return nil
		}
		_, err = cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{FieldManager: kube.FieldManager})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("remove the node-role NoSchedule taints from Node %s: %w", name, err)
	}
	return removed, nil
}

// undoNode stops the kubelet and kube-proxy, then removes what they left on
// the host (see cleanupNode).
func undoNode(c *phases.Context) error {
	if err := stopUnits(c, unitNames(nodeComponents)...); err != nil {
		return err
	}
	if !c.Root.IsSystem() {
		return nil
	}
	if err := cleanupNode(c, c.Root, c.Config, runtime.Exec(c, c.Config), mountInfo); err != nil || !c.Purge {
		return err
	}
	// The kubelet's rotated client certificates are the purged CA's.
	dir := path.Dir(certs.KubeletRotatedCert)
	if err := os.RemoveAll(c.Root.Path(dir)); err != nil {
		return err
	}
	c.Printf("removed %s (the kubelet's rotated client certificates)", dir)
	return nil
}

// cleanupNode removes kube-proxy's rules (`kube-proxy --cleanup`), the KUBE-*
// chains left after it (the kubelet's), and unmounts what the kubelet left
// mounted under /var/lib/kubelet (pod volumes), deepest first.
func cleanupNode(p printer, root host.Root, cfg *config.Cluster, run runtime.Run, mountinfo string) error {
	var errs []error
	proxy := path.Join(cfg.Binaries.InstallDir, "kube-proxy")
	if exists(root.Path(proxy)) {
		if _, err := run(root.Path(proxy), "--cleanup"); err != nil {
			p.Printf("warning: %v", err)
		} else {
			p.Printf("removed kube-proxy's iptables/nftables rules (kube-proxy --cleanup)")
		}
	}
	n, err := runtime.RemoveKubeChains(run)
	if n > 0 {
		p.Printf("removed %d KUBE-* iptables chains left by the kubelet and kube-proxy", n)
	}
	if err != nil {
		errs = append(errs, err)
	}
	points, err := mountsUnder(mountinfo, root.Path(layout.KubeletDir))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	n, err = unmountAll(points)
	if n > 0 {
		p.Printf("unmounted %d mounts under %s", n, layout.KubeletDir)
	}
	return errors.Join(append(errs, err)...)
}

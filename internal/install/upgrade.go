package install

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/k8s-single/k8s-single/internal/backup"
	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/probe"
	"github.com/k8s-single/k8s-single/internal/runtime"
	"github.com/k8s-single/k8s-single/internal/skew"
)

// upgradeOrder is the order an upgrade restarts the daemons in, each
// healthy before the next (kubeadm's order; the kubelet never runs newer
// than the apiserver).
var upgradeOrder = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"}

// UpgradePlan is what up would do to the installed versions.
type UpgradePlan struct {
	// Steps are the 8 binaries, installed and configured version.
	Steps []skew.Step `json:"steps"`
	// Running are the versions the daemons report now (by name; "" when one
	// does not answer).
	Running map[string]string `json:"running"`
	// Refused is why the rules refuse the change ("" when allowed).
	Refused string `json:"refused,omitempty"`
	// Runtime is containerd's move, if any.
	Runtime RuntimeStep `json:"runtime"`
}

// RuntimeStep is the containerd the node runs and the one the config names.
type RuntimeStep struct {
	// Running is what containerd answers ("" when it does not): "v2.4.2"
	// for k8s-single's, "1.6.20~ds1" for Debian's.
	Running string `json:"running"`
	// Configured is runtime.containerdVersion, or "debian" (Debian's package).
	Configured string `json:"configured"`
	// Restart says that up's runtime phase installs the configured containerd
	// and restarts it (the pods keep running).
	Restart bool `json:"restart"`
}

// planRuntimeStep compares the running containerd with the config's. Debian's
// containerd reports its package version (1.x, no v), k8s-single's its
// release (v2...).
func planRuntimeStep(c *config.Cluster, running string) RuntimeStep {
	step := RuntimeStep{Running: running, Configured: c.Runtime.ContainerdVersion}
	if runtime.FromDebian(c) {
		step.Configured = "debian"
		step.Restart = strings.HasPrefix(running, "v")
	} else {
		step.Restart = running != "" && running != c.Runtime.ContainerdVersion
	}
	return step
}

// PlanUpgrade reads the installed version of every binary and checks the
// change to the config's versions against the rules. It touches nothing.
func PlanUpgrade(ctx context.Context, root host.Root, c *config.Cluster, opts skew.Options) (UpgradePlan, error) {
	plan := UpgradePlan{Running: RunningVersions(ctx, root, c)}
	for _, name := range binaries.Names {
		from, err := binaries.Installed(root, c, name)
		if err != nil {
			return plan, fmt.Errorf("read the installed version of %s: %w", name, err)
		}
		to := c.KubernetesVersion
		if binaries.IsEtcd(name) {
			to = c.EtcdVersion
		}
		plan.Steps = append(plan.Steps, skew.Step{Binary: name, From: from, To: to})
	}
	if err := skew.Check(plan.Steps, opts); err != nil {
		plan.Refused = err.Error()
	}
	plan.Runtime = planRuntimeStep(c, plan.Running["containerd"])
	return plan, nil
}

// CheckUpgrade refuses, before anything is touched, a change of versions
// that the rules forbid; it returns the plan when allowed. It reads only
// the install dir, so a no-op up stays quick.
func CheckUpgrade(root host.Root, c *config.Cluster, opts skew.Options) (UpgradePlan, error) {
	if !binaries.WouldReplace(root, c, binaries.Names...) {
		return UpgradePlan{}, nil
	}
	plan, err := PlanUpgrade(context.Background(), root, c, opts)
	if err != nil {
		return plan, err
	}
	if plan.Refused != "" {
		return plan, fmt.Errorf("%s\nnothing was changed; `k8s-single upgrade plan` shows every component", plan.Refused)
	}
	return plan, nil
}

// Changes reports whether the plan replaces an installed binary.
func (p UpgradePlan) Changes() bool {
	for _, s := range p.Steps {
		if s.From != "" && s.Changes() {
			return true
		}
	}
	return false
}

// Write prints the plan: each binary's versions, then what up will do.
func (p UpgradePlan) Write(w io.Writer) {
	fmt.Fprintf(w, "%-24s %-12s %-12s %-12s %s\n", "BINARY", "RUNNING", "INSTALLED", "CONFIGURED", "STEP")
	for _, s := range p.Steps {
		running := p.Running[s.Binary]
		if running == "" {
			running = "-"
		}
		from := s.From
		if from == "" {
			from = "-"
		}
		fmt.Fprintf(w, "%-24s %-12s %-12s %-12s %s\n", s.Binary, running, from, s.To, s.Kind())
	}
	rt, step := p.Runtime, "none"
	if rt.Restart {
		step = "replace"
	}
	fmt.Fprintf(w, "%-24s %-12s %-12s %-12s %s\n", "containerd", cmp.Or(rt.Running, "-"), "-", rt.Configured, step)
	if rt.Restart {
		fmt.Fprintf(w, "\ncontainerd: `k8s-single up` installs %s and restarts containerd on it; the pods keep running\n", rt.Configured)
	}
	switch {
	case p.Refused != "":
		fmt.Fprintf(w, "\nREFUSED: %s\n", p.Refused)
	case !p.Changes():
		fmt.Fprintln(w, "\nnothing to upgrade: every installed binary is at the configured version")
	default:
		fmt.Fprintln(w, "\nallowed; `k8s-single up` will:")
		fmt.Fprintln(w, "  1. put the new binaries into their release dir while the cluster keeps running")
		fmt.Fprintln(w, "  2. take a backup (etcd snapshot, PKI, encryption key) before the first restart")
		n := 3
		for _, comp := range upgradeOrder {
			if p.changes(components[comp].binaries...) {
				fmt.Fprintf(w, "  %d. switch %s and restart it, waiting for its health (rolled back if it fails)\n", n, strings.Join(components[comp].binaries, ", "))
				n++
			}
		}
		fmt.Fprintf(w, "  %d. re-apply the add-ons whose manifests changed, then verify the cluster\n", n)
	}
}

// changes reports whether the plan replaces any of the named binaries.
func (p UpgradePlan) changes(names ...string) bool {
	for _, s := range p.Steps {
		for _, n := range names {
			if s.Binary == n && s.From != "" && s.Changes() {
				return true
			}
		}
	}
	return false
}

// buildInfoRE finds the version in a component's kubernetes_build_info metric.
var buildInfoRE = regexp.MustCompile(`git_version="([^"]+)"`)

// RunningVersions asks each daemon which version it runs: etcd its status,
// the apiserver /version, the controller-manager, scheduler and kube-proxy
// their kubernetes_build_info metric, the kubelet through its Node's status,
// containerd its version service (ctr version). A daemon that does not
// answer within a few seconds is left out.
func RunningVersions(ctx context.Context, root host.Root, c *config.Cluster) map[string]string {
	out := map[string]string{}
	// ask bounds each question, so one daemon that hangs costs its own
	// seconds only.
	ask := func(name string, q func(ctx context.Context) string) {
		qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if v := q(qctx); v != "" {
			out[name] = v
		}
	}
	ask("etcd", func(ctx context.Context) string {
		cli, err := etcd.New(etcdconn.OptionsFromConfig(root, c))
		if err != nil {
			return ""
		}
		defer cli.Close()
		if st, err := cli.Status(ctx); err == nil && len(st) > 0 {
			return "v" + st[0].Version
		}
		return ""
	})
	if cs, err := kube.NewClient(root.Path(layout.Kubeconfig("admin"))); err == nil {
		ask("kube-apiserver", func(ctx context.Context) string {
			var v struct {
				GitVersion string `json:"gitVersion"`
			}
			if body, err := cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw(); err == nil && json.Unmarshal(body, &v) == nil {
				return v.GitVersion
			}
			return ""
		})
		ask("kubelet", func(ctx context.Context) string {
			if n, _, err := getNode(ctx, cs, c.Node.Name); err == nil && n != nil {
				return n.Status.NodeInfo.KubeletVersion
			}
			return ""
		})
	}
	metric := func(e probe.Endpoint) func(ctx context.Context) string {
		return func(ctx context.Context) string {
			e.URL = e.URL[:strings.LastIndex(e.URL, "/")] + "/metrics"
			line, err := e.Line(ctx, "kubernetes_build_info{")
			if m := buildInfoRE.FindStringSubmatch(line); err == nil && m != nil {
				return m[1]
			}
			return ""
		}
	}
	endpoints := ControlPlaneEndpoints(root, c)
	ask("kube-controller-manager", metric(endpoints[1]))
	ask("kube-scheduler", metric(endpoints[2]))
	ask("kube-proxy", metric(probe.Endpoint{Name: "kube-proxy /metrics", URL: "http://127.0.0.1:10249/metrics"}))
	ask("containerd", func(ctx context.Context) string {
		v, _ := runtime.ServerVersion(runtime.Exec(ctx, c))
		return v
	})
	return out
}

// PreUpgradeBackup returns the newest backup in dir taken on other versions
// than the installed ones: the one up took before the upgrade that moved
// the data forward, which upgrade rollback returns to.
func PreUpgradeBackup(root host.Root, c *config.Cluster, dir string) (*backup.Archive, error) {
	installed := InstalledVersions(root, c)
	archives, err := backup.List(root.Path(dir))
	if err != nil {
		return nil, err
	}
	for i := len(archives) - 1; i >= 0; i-- {
		a, err := backup.Open(archives[i])
		if err != nil {
			continue // a damaged archive is not one to return to
		}
		m := a.Manifest
		if m.KubernetesVersion != installed.KubernetesVersion || m.EtcdVersion != installed.EtcdVersion {
			return a, nil
		}
	}
	return nil, fmt.Errorf("no backup in %s was taken on other versions than the installed Kubernetes %s, etcd %s: "+
		"nothing to roll back to (name an archive with --backup)", dir, installed.KubernetesVersion, installed.EtcdVersion)
}

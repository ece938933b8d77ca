package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/dashboard"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/version"
)

// Summary is what `up` prints when it finishes, kubeadm-init style: what is
// installed, where to reach it, and what each phase took.
type Summary struct {
	// Versions are "name version" pairs: Kubernetes, etcd, the runtime, k8s-single.
	Versions [][2]string
	// Running are "daemon version" pairs as each daemon reports it, in
	// upgrade order (none in a dry run).
	Running [][2]string
	// Access are "what where" pairs: endpoints, the kubeconfig, the CA.
	Access [][2]string
	// Phases is one row per phase: this run's action and duration, or the
	// journal's last duration for a phase that was skipped.
	Phases []PhaseTime
	Total  time.Duration
	// DryRun says nothing was started; the paths are under Root.
	DryRun bool
	Root   host.Root
	// Pending names the phases not done yet (after --only or --from ... runs).
	Pending []string
	// Failed names the phases that failed in this run: only phases that
	// fail alone (the dashboard), since up prints no summary otherwise.
	Failed []string
}

// PhaseTime is one phase's line in the summary.
type PhaseTime struct {
	Phase  phases.Name
	Action string
	// Took is this run's duration for a phase that ran, else the last one the
	// journal recorded (zero when the phase never finished).
	Took     time.Duration
	LastTime bool
}

// SetRunning records the versions the daemons report (RunningVersions),
// in upgrade order, containerd last.
func (s *Summary) SetRunning(running map[string]string) {
	for _, name := range append(slices.Clone(upgradeOrder), "containerd") {
		if v, ok := running[name]; ok {
			s.Running = append(s.Running, [2]string{name, v})
		}
	}
}

// NewSummary assembles the summary from the config, this run's outcomes and
// the journal's states. runtimeVersions are `containerd --version` and
// `runc --version` first lines (none in a dry run or before the runtime phase).
func NewSummary(root host.Root, c *config.Cluster, outcomes []phases.Outcome, states phases.States, total time.Duration, dryRun bool, runtimeVersions []string) Summary {
	s := Summary{Total: total, DryRun: dryRun, Root: root}
	s.Versions = [][2]string{{"Kubernetes", c.KubernetesVersion}, {"etcd", c.EtcdVersion}}
	for i, name := range []string{"containerd", "runc"} {
		if i < len(runtimeVersions) {
			s.Versions = append(s.Versions, [2]string{name, versionField(runtimeVersions[i])})
		}
	}
	s.Versions = append(s.Versions, [2]string{"k8s-single", version.Version})

	admin := root.Path(layout.Kubeconfig("admin"))
	s.Access = [][2]string{
		{"API server", "https://" + net.JoinHostPort(c.Node.Address, strconv.Itoa(c.APIServer.Port))},
		{"etcd", "https://" + net.JoinHostPort(c.Node.Address, strconv.Itoa(c.Etcd.ClientPort)) + " (client certificates only)"},
		{"kubeconfig", admin + "   export KUBECONFIG=" + admin},
		{"kubectl", path.Join(c.Binaries.InstallDir, "kubectl") + " get nodes"},
	}
	ca := root.Path(layout.Cert("ca"))
	if _, ok, err := dashboard.Of(c.Dashboard.Kind); ok && err == nil {
		s.Access = append(s.Access, [2]string{"dashboard", dashboard.URL(c.Node.Address, dashboard.NodePort) +
			"   log in with: k8s-single dashboard token"})
		ca += "   (trust it in the browser that opens the dashboard)"
	}
	s.Access = append(s.Access, [2]string{"CA", ca}, [2]string{"status", "k8s-single status"})

	ran := map[phases.Name]phases.Outcome{}
	for _, o := range outcomes {
		ran[o.Phase] = o
		if o.Action == "failed" {
			s.Failed = append(s.Failed, string(o.Phase))
		}
	}
	if i := slices.IndexFunc(s.Access, func(a [2]string) bool { return a[0] == "dashboard" }); i >= 0 && slices.Contains(s.Failed, string(PhaseDashboard)) {
		s.Access[i][1] = "not up: its phase failed (the error below says why and how to fix it)"
	}
	for _, st := range states {
		if st.Status != phases.Done && st.Status != phases.Rendered {
			s.Pending = append(s.Pending, string(st.Name))
		}
		if o, ok := ran[st.Name]; ok && o.Action != "skipped" {
			s.Phases = append(s.Phases, PhaseTime{Phase: st.Name, Action: o.Action, Took: o.Duration})
			continue
		}
		pt := PhaseTime{Phase: st.Name, Action: "skipped", LastTime: true}
		if _, ok := ran[st.Name]; !ok {
			pt.Action = "not run"
		}
		pt.Took = st.Took
		s.Phases = append(s.Phases, pt)
	}
	return s
}

// versionField picks the version out of a --version line: the first field
// that starts with a digit or v and a digit ("containerd
// github.com/containerd/containerd 1.6.20~ds1 ..." gives 1.6.20~ds1,
// "containerd github.com/containerd/containerd/v2 v2.4.2" v2.4.2), else the
// whole line.
func versionField(line string) string {
	for _, f := range strings.Fields(line) {
		if n := strings.TrimPrefix(f, "v"); n != "" && n[0] >= '0' && n[0] <= '9' {
			return f
		}
	}
	return line
}

// Write prints the summary: a headline, the versions, how to reach the
// cluster and the per-phase times.
func (s Summary) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	switch {
	case len(s.Failed) > 0 && len(s.Failed) == len(s.Pending):
		fmt.Fprintf(tw, "\nThe cluster is up and verified, without what phase %s brings: it failed (the error below says why and how to fix it); "+
			"`k8s-single up` runs it again.\n", strings.Join(s.Failed, " and phase "))
	case len(s.Pending) > 0:
		fmt.Fprintf(tw, "\nNot done yet: %s; `k8s-single up` runs what is left.\n", strings.Join(s.Pending, ", "))
	case s.DryRun:
		fmt.Fprintf(tw, "\nDry run: every file is rendered under %s, nothing was started.\n", s.Root.Path("/"))
	default:
		fmt.Fprintf(tw, "\nThe cluster is up and verified.\n")
	}
	versions := make([]string, len(s.Versions))
	for i, v := range s.Versions {
		versions[i] = v[0] + " " + v[1]
	}
	fmt.Fprintf(tw, "  versions\t%s\n", strings.Join(versions, ", "))
	if len(s.Running) > 0 {
		running := make([]string, len(s.Running))
		for i, v := range s.Running {
			running[i] = v[0] + " " + v[1]
		}
		fmt.Fprintf(tw, "  running\t%s\n", strings.Join(running, ", "))
	}
	for _, a := range s.Access {
		fmt.Fprintf(tw, "  %s\t%s\n", a[0], a[1])
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "  PHASE\tTHIS RUN\tTIME")
	for _, p := range s.Phases {
		took := "-"
		if p.Took > 0 || !p.LastTime {
			took = p.Took.Round(time.Millisecond).String()
			if p.LastTime {
				took += " (last run)"
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", p.Phase, p.Action, took)
	}
	fmt.Fprintf(tw, "  total\t\t%s\n", s.Total.Round(time.Millisecond))
	return tw.Flush()
}

// RuntimeVersions are containerd's and runc's version lines as the runtime
// phase recorded them (nil before it ran, and in a dry run).
func RuntimeVersions(root host.Root) []string {
	data, err := root.ReadFile(layout.RuntimeVersions)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// FailedAlone reports whether err is a run's failure of phases that fail
// alone only (the dashboard): the rest of the cluster came up and was
// verified, so up prints its summary before the error.
func FailedAlone(err error, outcomes []phases.Outcome) bool {
	failed := 0
	for _, o := range outcomes {
		if o.Action != "failed" {
			continue
		}
		failed++
		if i := slices.IndexFunc(Phases(), func(p phases.Phase) bool { return p.Name == o.Phase }); i < 0 || !Phases()[i].FailsAlone {
			return false
		}
	}
	return err != nil && failed > 0 && !errors.Is(err, context.Canceled)
}

// WithResumeHint adds to the error of a failed up where a re-run resumes,
// so the user knows nothing done is lost; other errors pass unchanged.
func WithResumeHint(err error, outcomes []phases.Outcome) error {
	var failed []string
	for _, o := range outcomes {
		if o.Action == "failed" {
			failed = append(failed, string(o.Phase))
		}
	}
	if err == nil || len(failed) == 0 {
		return err
	}
	return fmt.Errorf("%w\nthe journal keeps every phase that is done: fix the cause and run `k8s-single up` again; it resumes at phase %s (`k8s-single phase list` shows each phase's state)",
		err, strings.Join(failed, " and phase "))
}

package install

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/preflight"
	"github.com/k8s-single/k8s-single/internal/units"
)

// Finding is one thing doctor found wrong, with the evidence and the fix.
type Finding struct {
	// Part is what is wrong: a component, a certificate, a disk, the node.
	Part    string `json:"part"`
	Problem string `json:"problem"`
	// UnitState and Journal are the unit's state and last log lines, for a
	// component.
	UnitState string `json:"unitState,omitempty"`
	Journal   string `json:"journal,omitempty"`
	Fix       string `json:"fix"`
}

// DoctorReport is every finding; none means the node is well.
type DoctorReport struct {
	Findings []Finding `json:"findings"`
	// Checked names what doctor looked at, so "nothing found" means something.
	Checked []string `json:"checked"`
}

// Thresholds under which doctor reports a disk or memory as short.
const (
	doctorMinFreeBytes = 1 << 30
	doctorMinFreeShare = 0.10
	doctorMinMemKiB    = 200 * 1024
)

// Doctor looks at every part of an installed node and explains what is
// wrong: each unhealthy component with its unit state, its last log lines
// and the fix; each certificate that does not match what it should be (not
// signed by the CA, a SAN without the node's address, expired) or that
// expires within 30 days; the disks of etcd and containerd, the memory, and
// the Node's pressure conditions; files that drifted from the journal.
func Doctor(ctx context.Context, root host.Root, c *config.Cluster) (DoctorReport, error) {
	status, err := Status(ctx, root, c)
	if err != nil {
		return DoctorReport{}, err
	}
	var r DoctorReport
	var journal units.Systemd
	if m, err := units.NewManager(ctx); err == nil {
		defer m.Close()
		journal = m
	}
	r.Checked = append(r.Checked, "components")
	for _, h := range status.Components {
		if h.Healthy {
			continue
		}
		f := Finding{Part: h.Component, Problem: h.Detail, UnitState: h.UnitState, Fix: componentFix(h)}
		if journal != nil {
			f.Journal = journal.JournalTail(h.Unit, 15)
		}
		r.Findings = append(r.Findings, f)
	}
	r.Checked = append(r.Checked, "journal drift")
	for _, st := range status.Phases {
		if st.Drift != "" {
			r.Findings = append(r.Findings, Finding{Part: "phase " + string(st.Name), Problem: st.Drift,
				Fix: "k8s-single up (it puts the recorded file, mode and owner back and restarts what reads it)"})
		}
	}
	if phaseDone(status, PhaseCerts) {
		r.Checked = append(r.Checked, "certificates")
		if err := r.checkCertificates(root, c); err != nil {
			return r, err
		}
	}
	r.Checked = append(r.Checked, "disks", "memory")
	r.checkResources(root, c)
	if phaseDone(status, PhaseNode) {
		r.Checked = append(r.Checked, "node conditions")
		r.checkNode(ctx, root, c)
	}
	return r, nil
}

// componentFix is the one-line fix for an unhealthy component.
func componentFix(h ComponentHealth) string {
	switch h.UnitState {
	case "inactive", "failed":
		return fmt.Sprintf("start it: systemctl start %s; if it fails again, its log above says why", h.Unit)
	case "activating":
		return fmt.Sprintf("it keeps restarting: its log above says why (journalctl -u %s); fix that, then k8s-single up", h.Unit)
	}
	return fmt.Sprintf("it runs but does not answer: read its log (journalctl -u %s); k8s-single up repairs its files and restarts it", h.Unit)
}

func (r *DoctorReport) checkCertificates(root host.Root, c *config.Cluster) error {
	problems, err := certs.Check(root, CertParams(c), time.Now())
	if err != nil {
		return err
	}
	for _, p := range problems {
		r.Findings = append(r.Findings, Finding{Part: "certificate " + p.Name, Problem: p.What,
			Fix: "k8s-single up (the certs phase re-signs it from its CA, then the components that read it restart)"})
	}
	expiry, err := certs.CheckExpiration(root, time.Now())
	if err != nil {
		r.Findings = append(r.Findings, Finding{Part: "certificates", Problem: err.Error(), Fix: "k8s-single up"})
	}
	for _, w := range certs.Warnings(expiry, certs.WarnWithin) {
		r.Findings = append(r.Findings, Finding{Part: "certificate expiry", Problem: w,
			Fix: "k8s-single certs renew --expiring-within 30d (what the daily k8s-single-certs.timer runs)"})
	}
	return nil
}

func (r *DoctorReport) checkResources(root host.Root, c *config.Cluster) {
	for _, dir := range []string{c.Etcd.DataDir, "/var/lib/containerd"} {
		d := preflight.FreeSpace(root, dir)
		if d.Total == 0 || (d.Free >= doctorMinFreeBytes && float64(d.Free)/float64(d.Total) >= doctorMinFreeShare) {
			continue
		}
		r.Findings = append(r.Findings, Finding{Part: "disk " + dir,
			Problem: fmt.Sprintf("%d MiB free of %d MiB on the file system of %s", d.Free>>20, d.Total>>20, d.Dir),
			Fix:     "free space: unused images (the kubelet collects them above 80% use), old backups, logs; then k8s-single etcd defrag"})
	}
	if kib := preflight.MemAvailableKiB(root); kib > 0 && kib < doctorMinMemKiB {
		r.Findings = append(r.Findings, Finding{Part: "memory", Problem: fmt.Sprintf("%d MiB available", kib/1024),
			Fix: "stop what uses it or give the machine more memory; the kubelet evicts pods below 200 MiB"})
	}
}

func (r *DoctorReport) checkNode(ctx context.Context, root host.Root, c *config.Cluster) {
	cs, err := kube.NewClient(root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	node, err := cs.CoreV1().Nodes().Get(ctx, c.Node.Name, metav1.GetOptions{})
	if err != nil {
		r.Findings = append(r.Findings, Finding{Part: "node " + c.Node.Name, Problem: err.Error(),
			Fix: "if the apiserver is down, see its finding; if the Node is missing, restart the kubelet (systemctl restart kubelet)"})
		return
	}
	for _, cond := range node.Status.Conditions {
		bad := cond.Status == corev1.ConditionTrue
		if cond.Type == corev1.NodeReady {
			bad = cond.Status != corev1.ConditionTrue
		}
		if bad {
			r.Findings = append(r.Findings, Finding{Part: "node " + c.Node.Name, Problem: fmt.Sprintf("%s=%s: %s", cond.Type, cond.Status, cond.Message),
				Fix: nodeConditionFix(cond.Type)})
		}
	}
}

func nodeConditionFix(t corev1.NodeConditionType) string {
	switch t {
	case corev1.NodeDiskPressure:
		return "free disk space under /var/lib (images, logs); the kubelet evicts pods until it has"
	case corev1.NodeMemoryPressure:
		return "stop memory-hungry pods or give the machine more memory"
	case corev1.NodePIDPressure:
		return "a pod runs too many processes (podPidsLimit is 4096): find and fix it"
	}
	return "read the kubelet's log: journalctl -u kubelet"
}

// phaseDone reports whether the journal has the phase done.
func phaseDone(s StatusReport, phase phases.Name) bool {
	for _, st := range s.Phases {
		if st.Name == phase {
			return st.Status == phases.Done
		}
	}
	return false
}

// Lines renders the report for a terminal: one block per finding.
func (r DoctorReport) Lines() []string {
	if len(r.Findings) == 0 {
		return []string{"all well: checked " + strings.Join(r.Checked, ", ")}
	}
	var out []string
	for _, f := range r.Findings {
		out = append(out, fmt.Sprintf("PROBLEM %s: %s", f.Part, f.Problem))
		if f.UnitState != "" {
			out = append(out, "  unit state: "+f.UnitState)
		}
		if f.Journal != "" {
			out = append(out, "  last log lines:")
			for _, l := range strings.Split(f.Journal, "\n") {
				out = append(out, "    "+l)
			}
		}
		out = append(out, "  fix: "+f.Fix)
	}
	return append(out, fmt.Sprintf("%d problem(s); checked %s", len(r.Findings), strings.Join(r.Checked, ", ")))
}

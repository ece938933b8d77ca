package install

import (
	"context"
	"fmt"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/etcd"
	"github.com/k8s-single/k8s-single/internal/etcdconn"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/probe"
	"github.com/k8s-single/k8s-single/internal/runtime"
	"github.com/k8s-single/k8s-single/internal/units"
)

// ComponentHealth is one component's live state.
type ComponentHealth struct {
	Component string `json:"component"`
	Unit      string `json:"unit"`
	// UnitState is systemd's ActiveState, or "unknown" without systemd.
	UnitState string `json:"unitState"`
	Healthy   bool   `json:"healthy"`
	// Version is what the daemon reports it runs ("" when it does not say).
	Version string `json:"version,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// StatusReport is the journal and the live health of every component.
type StatusReport struct {
	Phases     phases.States     `json:"phases"`
	Components []ComponentHealth `json:"components"`
	// Warnings are the certificates with under 30 days left (the CAs
	// included), each with what happens or what to do.
	Warnings []string `json:"warnings,omitempty"`
}

// Table lays the component health out for the printer (phase list shows the phases).
func (r StatusReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r.Components))
	for i, c := range r.Components {
		health := "unhealthy"
		if c.Healthy {
			health = "healthy"
		}
		rows[i] = []string{c.Component, c.Unit, c.UnitState, health, c.Version, c.Detail}
	}
	return []string{"COMPONENT", "UNIT", "UNIT STATE", "HEALTH", "VERSION", "DETAIL"}, rows
}

// healthCheck is how one component proves it is alive.
type healthCheck struct {
	component string
	phase     phases.Name
	check     func(ctx context.Context, root host.Root, c *config.Cluster) error
}

func endpointCheck(i int) func(context.Context, host.Root, *config.Cluster) error {
	return func(ctx context.Context, root host.Root, c *config.Cluster) error {
		return probeOK(ctx, ControlPlaneEndpoints(root, c)[i])
	}
}

func probeOK(ctx context.Context, e probe.Endpoint) error {
	code, body, err := e.Get(ctx)
	if err == nil && code != 200 {
		return fmt.Errorf("HTTP %d %s", code, body)
	}
	return err
}

// healthChecks lists the components in start order with their checks.
var healthChecks = []healthCheck{
	{"etcd", PhaseEtcd, func(ctx context.Context, root host.Root, c *config.Cluster) error {
		cli, err := etcd.New(etcdconn.OptionsFromConfig(root, c))
		if err != nil {
			return err
		}
		defer cli.Close()
		if r := cli.Health(ctx); !r.Healthy() {
			return fmt.Errorf("%v", r.Lines())
		}
		return nil
	}},
	{"kube-apiserver", PhaseControlPlane, endpointCheck(0)},
	{"kube-controller-manager", PhaseControlPlane, endpointCheck(1)},
	{"kube-scheduler", PhaseControlPlane, endpointCheck(2)},
	{"containerd", PhaseRuntime, func(ctx context.Context, _ host.Root, c *config.Cluster) error {
		ok, detail, err := runtime.CRIReady(runtime.Exec(ctx, c))
		if err == nil && !ok {
			err = fmt.Errorf("CRI not ready: %s", detail)
		}
		return err
	}},
	{"kubelet", PhaseNode, localHealthz("kubelet", kubeletHealthz.URL)},
	{"kube-proxy", PhaseNode, localHealthz("kube-proxy", "http://127.0.0.1:10256/healthz")},
}

// localHealthz checks a plain-HTTP health endpoint bound to loopback.
func localHealthz(name, url string) func(context.Context, host.Root, *config.Cluster) error {
	return func(ctx context.Context, _ host.Root, _ *config.Cluster) error {
		return probeOK(ctx, probe.Endpoint{Name: name, URL: url})
	}
}

// Unhealthy lists the components that failed their check.
func (r StatusReport) Unhealthy() []string {
	var bad []string
	for _, c := range r.Components {
		if !c.Healthy {
			bad = append(bad, c.Component)
		}
	}
	return bad
}

// Status reads the journal and checks every component of a phase that is
// done or failed.
func Status(ctx context.Context, root host.Root, c *config.Cluster) (StatusReport, error) {
	states, err := NewRunner(root, nil, false).States()
	if err != nil {
		return StatusReport{}, err
	}
	done := map[phases.Name]bool{}
	for _, s := range states {
		// A failed phase's daemons may run (an upgrade rolled back): show them.
		done[s.Name] = s.Status == phases.Done || s.Status == phases.Failed
	}
	report := StatusReport{Phases: states}
	if done[PhaseCerts] {
		expiry, err := certs.CheckExpiration(root, time.Now())
		if err != nil {
			report.Warnings = append(report.Warnings, "certificates: "+err.Error())
		}
		report.Warnings = append(report.Warnings, certs.Warnings(expiry, certs.WarnWithin)...)
	}
	running := RunningVersions(ctx, root, c)
	mgr, mgrErr := units.NewManager(ctx)
	if mgrErr == nil {
		defer mgr.Close()
	}
	for _, hc := range healthChecks {
		if !done[hc.phase] {
			continue
		}
		h := ComponentHealth{Component: hc.component, Unit: hc.component + ".service", UnitState: "unknown", Version: running[hc.component]}
		if mgrErr == nil {
			if st, err := mgr.ActiveState(ctx, h.Unit); err == nil {
				h.UnitState = st
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := hc.check(cctx, root, c)
		cancel()
		h.Healthy = err == nil
		if err != nil {
			h.Detail = err.Error()
		}
		report.Components = append(report.Components, h)
	}
	return report, nil
}

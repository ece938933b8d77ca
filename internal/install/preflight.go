package install

import (
	"fmt"
	"strings"

	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/preflight"
)

// Preflight checks the host; a dry run reports failures without stopping.
func Preflight() phases.Phase {
	return phases.Phase{
		Name:  PhasePreflight,
		Short: "check the host: root, systemd, swap, cgroups, ports, tools",
		Render: func(c *phases.Context) error {
			h := preflight.RealHost()
			h.PortsInUseByUs = portsHeldByUs(c)
			report := preflight.Run(h, c.Config)
			var failed []string
			for _, r := range report {
				switch {
				case r.OK:
					c.Detailf("ok      %s: %s", r.Name, r.Found)
				default:
					c.Printf("%-7s %s: %s; fix: %s", r.Severity, r.Name, r.Found, r.Fix)
					if r.Severity == preflight.Error {
						failed = append(failed, r.Name)
					}
				}
			}
			if len(failed) > 0 && !c.DryRun {
				return fmt.Errorf("%d preflight checks failed (%s); fix them and run again", len(failed), strings.Join(failed, ", "))
			}
			return nil
		},
	}
}

// portsHeldByUs are the ports of components an earlier run may have started
// (done, failed or killed while running): on a re-run they are busy because
// our own component holds them, not because of a conflict.
func portsHeldByUs(c *phases.Context) map[int]bool {
	j, err := phases.LoadJournal(c.Root)
	if err != nil {
		return nil
	}
	byPhase := map[phases.Name][]int{
		PhaseEtcd:         {c.Config.Etcd.ClientPort, c.Config.Etcd.PeerPort},
		PhaseControlPlane: {c.Config.APIServer.Port, 10257, 10259},
		PhaseNode:         {10250},
	}
	held := map[int]bool{}
	for name, ports := range byPhase {
		if rec, ok := j.Phases[name]; ok && rec.Status != phases.Pending && rec.Status != phases.Rendered {
			for _, p := range ports {
				held[p] = true
			}
		}
	}
	return held
}

package install

import "github.com/k8s-single/k8s-single/internal/phases"

// The phases' names, as the journal, `phase run` and `up --from` know them.
const (
	PhasePreflight    phases.Name = "preflight"
	PhaseBinaries     phases.Name = "binaries"
	PhaseCerts        phases.Name = "certs"
	PhaseKubeconfigs  phases.Name = "kubeconfigs"
	PhaseEtcd         phases.Name = "etcd"
	PhaseControlPlane phases.Name = "control-plane"
	PhaseRuntime      phases.Name = "runtime"
	PhaseNode         phases.Name = "node"
	PhaseAddons       phases.Name = "addons"
	PhaseMetrics      phases.Name = "metrics"
	PhaseDashboard    phases.Name = "dashboard"
	PhaseVerify       phases.Name = "verify"
	PhaseTimers       phases.Name = "timers"
)

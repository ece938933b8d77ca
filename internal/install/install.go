// Package install composes the phases of a k8s-single install, kubeadm-style:
// one file per phase, each returning a phases.Phase value, and Phases() the
// ordered list the CLI derives its commands from. It owns the wiring between
// the config and the packages that do the work, not the work itself.
package install

import (
	"io"
	"os"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/version"
)

// ConfigPath is where up keeps a copy of the user's config file, so later
// commands (certs renew, etcd health) read the same one without flags.
const ConfigPath = layout.KeptConfig

// KeepConfig stores the user's config file under root for later commands.
func KeepConfig(root host.Root, path string) error {
	if path == "" || path == root.Path(ConfigPath) {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return root.WriteFile(ConfigPath, data, 0o600, 0o755)
}

// Parallel is how many phases up runs at once at most: the graph's widest
// point, binaries, certs and runtime once preflight is done.
const Parallel = 3

// NewRunner returns the runner over every phase for root.
func NewRunner(root host.Root, out io.Writer, verbose bool) *phases.Runner {
	return &phases.Runner{Phases: Phases(), Root: root, Out: out, Verbose: verbose, Version: version.Version, Owns: Owns, Parallel: Parallel}
}

// Phases is the install, in an order its graph allows (what --serial runs
// and reset undoes backwards).
func Phases() []phases.Phase {
	return []phases.Phase{
		Preflight(),
		Binaries(),
		Certs(),
		Kubeconfigs(),
		Etcd(),
		ControlPlane(),
		Runtime(),
		Node(),
		Addons(),
		Metrics(),
		Dashboard(),
		Verify(),
		Timers(),
	}
}

package install

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/probe"
)

// controlPlaneComponents start in this order, the last two together once
// the apiserver is ready (see startComponents).
var controlPlaneComponents = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// healthTimeout bounds the wait for a started component to be healthy.
const healthTimeout = 3 * time.Minute

// ControlPlane installs the apiserver, controller-manager and scheduler,
// starts them, waits for health and bootstraps the RBAC the cluster needs.
func ControlPlane() phases.Phase {
	return phases.Phase{
		Name:      PhaseControlPlane,
		Short:     "install and start kube-apiserver, kube-controller-manager, kube-scheduler",
		DependsOn: []phases.Name{PhaseCerts, PhaseKubeconfigs, PhaseEtcd},
		After:     []phases.Name{PhaseBinaries},
		Inputs: func(c *phases.Context) (any, error) {
			fs, err := controlPlaneFiles(c.Root, c.Config)
			if err != nil {
				return nil, err
			}
			// The encryption key is random until first written: hash the
			// provider, not the key, or the first re-run would differ.
			d := fs.digests()
			d[layout.EncryptionConfig] = c.Config.APIServer.EncryptionProvider
			return withBinaries(d, c, controlPlaneBinaries()...), nil
		},
		Render: func(c *phases.Context) error {
			fs, err := controlPlaneFiles(c.Root, c.Config)
			if err != nil {
				return err
			}
			return fs.write(c)
		},
		Start: func(c *phases.Context) error {
			if err := c.Root.MkdirAll(layout.AuditLogDir, layout.ModePrivateDir); err != nil {
				return err
			}
			if err := backupBeforeRestart(c, "kube-apiserver.service", controlPlaneBinaries()...); err != nil {
				return err
			}
			// The apiserver first: the controller-manager and the scheduler
			// started before it answers would fail their first requests.
			if err := restartComponents(c, controlPlaneComponents[0]); err != nil {
				return err
			}
			return startComponents(c, controlPlaneComponents[1:]...)
		},
		Verify: verifyControlPlane,
		Undo: func(c *phases.Context) error {
			if err := stopUnits(c, unitNames(controlPlaneComponents)...); err != nil {
				return err
			}
			return purgeDir(c, layout.AuditLogDir)
		},
		Plan: planStart(unitNames(controlPlaneComponents)...),
		// The key decrypts the Secrets in etcd's data, which reset keeps too:
		// a new key would make every stored Secret unreadable.
		Keep: []string{layout.EncryptionConfig},
		Irreplaceable: []phases.Irreplaceable{{Path: layout.EncryptionConfig,
			Why: "it holds the key that encrypts the Secrets in etcd; with a new key they could not be read"}},
	}
}

// controlPlaneBinaries are the binaries the control-plane phase switches.
func controlPlaneBinaries() []string { return binariesOf(controlPlaneComponents...) }

func unitNames(components []string) []string {
	out := make([]string, len(components))
	for i, n := range components {
		out[i] = n + ".service"
	}
	return out
}

// controlPlaneFiles are the apiserver's audit policy, admission config and encryption config
// (its key kept from an earlier run) and the three units.
func controlPlaneFiles(root host.Root, c *config.Cluster) (files, error) {
	existing, err := root.ReadFile(layout.EncryptionConfig)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", layout.EncryptionConfig, err)
	}
	return componentFiles(c, existing, controlPlaneComponents, layout.AuditPolicy, layout.AdmissionConfig, layout.EncryptionConfig)
}

// ControlPlaneEndpoints are the health URLs of the control plane: the
// apiserver's /readyz, and the controller-manager's and scheduler's /healthz
// on loopback, each verified against the cluster CA (they serve certificates
// it signed) and called with the admin client certificate.
func ControlPlaneEndpoints(root host.Root, c *config.Cluster) []probe.Endpoint {
	endpoint := func(name, hostPort, path string) probe.Endpoint {
		return probe.Endpoint{
			Name:     name + " " + path,
			URL:      "https://" + hostPort + path,
			CAFile:   root.Path(layout.Cert("ca")),
			CertFile: root.Path(layout.Cert("admin")),
			KeyFile:  root.Path(layout.Key("admin")),
		}
	}
	return []probe.Endpoint{
		endpoint("kube-apiserver", net.JoinHostPort(c.Node.Address, strconv.Itoa(c.APIServer.Port)), "/readyz"),
		endpoint("kube-controller-manager", net.JoinHostPort("127.0.0.1", strconv.Itoa(config.ControllerManagerPort)), "/healthz"),
		endpoint("kube-scheduler", net.JoinHostPort("127.0.0.1", strconv.Itoa(config.SchedulerPort)), "/healthz"),
	}
}

// verifyControlPlane waits for every endpoint, then applies bootstrap RBAC as
// super-admin (admin.conf has no rights until its binding exists).
func verifyControlPlane(c *phases.Context) error {
	for _, e := range ControlPlaneEndpoints(c.Root, c.Config) {
		took, err := e.WaitOK(c, healthTimeout, c.Out())
		if err != nil {
			return err
		}
		c.Printf("%s ok after %s", e.Name, took.Round(time.Millisecond))
	}
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("super-admin")))
	if err != nil {
		return err
	}
	if err := kube.BootstrapRBAC(c, cs); err != nil {
		return err
	}
	c.Printf("bootstrap RBAC applied: kubeadm:cluster-admins, node certificate rotation")
	return nil
}

package install

import (
	"os"
	"time"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/kubeconfig"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
)

// CertParams derives the PKI parameters from the config and this host.
func CertParams(c *config.Cluster) certs.Params {
	hostname, _ := os.Hostname()
	return certs.ParamsFromConfig(c, hostname, ipv6Enabled())
}

// ipv6Enabled reports whether the kernel has IPv6 (so ::1 belongs in SANs).
func ipv6Enabled() bool {
	st, err := os.Stat("/proc/net/if_inet6")
	return err == nil && st.Size() >= 0
}

// Certs makes the CAs and every component certificate.
func Certs() phases.Phase {
	return phases.Phase{
		Name:          PhaseCerts,
		Short:         "make the CAs and every component certificate (keys with cfssl, signed in-process)",
		Precious:      true,
		After:         []phases.Name{PhasePreflight},
		Irreplaceable: irreplaceablePKI(),
		Inputs:        func(c *phases.Context) (any, error) { return CertParams(c.Config), nil },
		Render: func(c *phases.Context) error {
			res, err := certs.Ensure(c.Root, CertParams(c.Config), time.Now(), c.Recorded)
			if err != nil {
				return err
			}
			// The directories too: their 0700 is drift-checked and repaired.
			c.Track(layout.PKIDir, layout.EtcdPKIDir)
			c.Track(res.Files...)
			counts := map[certs.Action]int{}
			for name, a := range res.Actions {
				counts[a]++
				c.Detailf("%-9s %s", a, name)
			}
			c.Printf("%d created, %d re-signed, %d kept", counts["created"], counts["re-signed"], counts["kept"])
			return nil
		},
	}
}

// irreplaceablePKI are the files no run may make anew once recorded: the
// three CAs (every certificate they signed would stop verifying) and the
// service-account key (every token issued would stop working).
func irreplaceablePKI() []phases.Irreplaceable {
	var out []phases.Irreplaceable
	for _, ca := range []string{"ca", "front-proxy-ca", "etcd/ca"} {
		why := "it is the CA " + ca + "; every certificate it signed would stop verifying"
		out = append(out, phases.Irreplaceable{Path: layout.Cert(ca), Why: why}, phases.Irreplaceable{Path: layout.Key(ca), Why: why})
	}
	return append(out, phases.Irreplaceable{Path: layout.ServiceAccountKey,
		Why: "it signs the service-account tokens; every token issued would stop working"})
}

// Kubeconfigs writes the kubeconfig of every client identity.
func Kubeconfigs() phases.Phase {
	return phases.Phase{
		Name:      PhaseKubeconfigs,
		Short:     "write admin, super-admin, controller-manager, scheduler, kubelet, kube-proxy kubeconfigs",
		DependsOn: []phases.Name{PhaseCerts},
		Inputs: func(c *phases.Context) (any, error) {
			return struct {
				Address string
				Port    int
				Node    string
			}{c.Config.Node.Address, c.Config.APIServer.Port, c.Config.Node.Name}, nil
		},
		Render: func(c *phases.Context) error {
			files, err := kubeconfig.Ensure(c.Root, c.Config)
			c.Track(files...)
			return err
		},
	}
}

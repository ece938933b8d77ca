package install

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/k8s-single/k8s-single/internal/addons"
	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/poll"
)

// addonsDir keeps the applied manifests, so a user sees exactly what runs.
const addonsDir = layout.KubernetesDir + "/addons"

// rolloutTimeout bounds the wait for an add-on's Deployment.
const rolloutTimeout = 5 * time.Minute

// Addons issues metrics-server's serving certificate from the cluster CA,
// applies CoreDNS and metrics-server and waits for CoreDNS (the metrics
// phase waits for metrics-server).
func Addons() phases.Phase {
	return phases.Phase{
		Name:  PhaseAddons,
		Short: "apply CoreDNS and metrics-server (server-side apply, TLS from the cluster CA) and wait for CoreDNS",
		// certs: the cluster CA signs metrics-server's certificate and is its
		// APIService's caBundle.
		DependsOn: []phases.Name{PhaseCerts, PhaseNode},
		Inputs:    addonInputs,
		Render:    renderAddons,
		Start:     applyAddons,
		Verify:    verifyAddons,
		Plan: func(*phases.Context) []string {
			return []string{"apply " + addonsDir + "/*.yaml with the " + addons.MetricsServerTLSSecret +
				" Secret and wait for the coredns rollout"}
		},
	}
}

// addonInputs are the digests of the manifests the phase writes, but for
// the serving certificate's digest that annotates metrics-server's pods
// (the CA is in them, as the caBundle), and what the certificate is issued
// for. The certificate itself is an artifact of the phase: a renewed one
// (`certs renew metrics-server`) is drift, so the phase runs again and
// re-applies the Secret, and its new digest rolls the pod.
func addonInputs(c *phases.Context) (any, error) {
	tls, err := addonTLS(c, nil, false)
	if err != nil {
		return nil, err
	}
	fs, err := addonFiles(c, tls)
	if err != nil {
		return nil, err
	}
	return struct {
		Manifests map[string]string
		Cert      servingCertInputs
	}{fs.digests(), servingCertInputsOf(c.Config, addons.MetricsServerCert(c.Config))}, nil
}

// renderAddons issues or keeps metrics-server's serving certificate and
// writes the manifests (without its key).
func renderAddons(c *phases.Context) error {
	kp, err := ensureServingCert(c, addons.MetricsServerCert(c.Config))
	if err != nil {
		return err
	}
	tls, err := addonTLS(c, kp, false)
	if err != nil {
		return err
	}
	fs, err := addonFiles(c, tls)
	if err != nil {
		return err
	}
	return fs.write(c)
}

// addonTLS is metrics-server's TLS: the cluster CA and, when kp is set, its
// serving certificate, with the key only when withKey (for the apply, never
// for a file).
func addonTLS(c *phases.Context, kp *certs.KeyPair, withKey bool) (addons.TLS, error) {
	ca, err := c.Root.ReadFile(layout.Cert("ca"))
	if err != nil {
		return addons.TLS{}, fmt.Errorf("read the cluster CA: %w; run `k8s-single phase run certs` first", err)
	}
	tls := addons.TLS{CA: ca}
	if kp != nil {
		tls.Cert = kp.CertPEM
		if withKey {
			tls.Key = kp.KeyPEM
		}
	}
	return tls, nil
}

func addonFiles(c *phases.Context, tls addons.TLS) (files, error) {
	rendered, err := addons.Render(c.Config, tls)
	if err != nil {
		return nil, err
	}
	var fs files
	for _, a := range rendered {
		fs = append(fs, fileOf(addonsDir+"/"+a.Name+".yaml", a.Manifest, layout.ModePublic))
	}
	return fs, nil
}

// applyAddons applies each add-on, metrics-server with its TLS Secret first.
func applyAddons(c *phases.Context) error {
	ap, err := kube.NewApplier(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	kp, err := certs.Load(c.Root, certs.MetricsServer)
	if err != nil {
		return fmt.Errorf("metrics-server serving certificate: %w; run `k8s-single phase run addons` to issue it", err)
	}
	tls, err := addonTLS(c, kp, true)
	if err != nil {
		return err
	}
	rendered, err := addons.Render(c.Config, tls)
	if err != nil {
		return err
	}
	for _, a := range rendered {
		objs, err := a.Objects()
		if err != nil {
			return err
		}
		if err := ap.Apply(c, objs); err != nil {
			return err
		}
		c.Printf("applied %s (%d objects)", a.Name, len(objs))
	}
	return nil
}

// verifyAddons waits for CoreDNS's rollout, which the verify phase's
// checks need. metrics-server, slower to serve its first figures, is the
// metrics phase's to wait for.
func verifyAddons(c *phases.Context) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	for _, d := range addons.Deployments() {
		if d == addons.MetricsServer {
			continue
		}
		start := time.Now()
		if err := kube.WaitRollout(c, cs, addons.Namespace, d, rolloutTimeout, c.Out()); err != nil {
			return err
		}
		c.Printf("%s rolled out after %s", d, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Metrics proves metrics-server, which the addons phase applied: its
// rollout, node metrics through the aggregation layer, and its APIService
// verifying it against the cluster CA. It is a phase of its own so that the
// verify phase's pod, Service and DNS checks run while metrics-server warms
// up (its first figures take ~10 s after its pod starts).
func Metrics() phases.Phase {
	return phases.Phase{
		Name:      PhaseMetrics,
		Short:     "wait for metrics-server: its rollout, node metrics through the aggregation layer, its APIService against the cluster CA",
		DependsOn: []phases.Name{PhaseAddons},
		Verify:    verifyMetrics,
		Plan: func(*phases.Context) []string {
			return []string{"wait for the metrics-server rollout and for node metrics from metrics.k8s.io"}
		},
	}
}

func verifyMetrics(c *phases.Context) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	start := time.Now()
	if err := kube.WaitRollout(c, cs, addons.Namespace, addons.MetricsServer, rolloutTimeout, c.Out()); err != nil {
		return err
	}
	c.Printf("%s rolled out after %s", addons.MetricsServer, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	c.Waitf("node metrics from metrics.k8s.io (kubectl top node), up to %s", rolloutTimeout)
	if _, err := waitNodeMetrics(c, cs, c.Config.Node.Name, rolloutTimeout); err != nil {
		return fmt.Errorf("%w; `kubectl get apiservice %s` shows why (a certificate the caBundle does not verify shows as FailedDiscoveryCheck)",
			err, addons.MetricsServerAPIService)
	}
	c.Printf("node metrics served after %s", time.Since(start).Round(time.Millisecond))
	ca, err := c.Root.ReadFile(layout.Cert("ca"))
	if err != nil {
		return fmt.Errorf("read the cluster CA: %w", err)
	}
	if err := checkAPIServiceVerifies(c, cs, addons.MetricsServerAPIService, ca); err != nil {
		return err
	}
	c.Printf("APIService %s is Available and verifies metrics-server against the cluster CA (caBundle, no insecureSkipTLSVerify)",
		addons.MetricsServerAPIService)
	return nil
}

// apiService is the part of an APIService the verify step reads.
type apiService struct {
	Spec struct {
		CABundle              []byte `json:"caBundle"`
		InsecureSkipTLSVerify bool   `json:"insecureSkipTLSVerify"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type, Status, Reason, Message string
		} `json:"conditions"`
	} `json:"status"`
}

// checkAPIServiceVerifies reads the live APIService name and wants it
// Available, with caBundle equal to ca and TLS verification on.
func checkAPIServiceVerifies(ctx context.Context, cs kubernetes.Interface, name string, ca []byte) error {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices/" + name).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("get APIService %s: %w", name, err)
	}
	var svc apiService
	if err := json.Unmarshal(raw, &svc); err != nil {
		return fmt.Errorf("decode APIService %s: %w", name, err)
	}
	if svc.Spec.InsecureSkipTLSVerify || !bytes.Equal(svc.Spec.CABundle, ca) {
		return fmt.Errorf("APIService %s does not verify its backend against the cluster CA (insecureSkipTLSVerify %t, caBundle %d bytes): "+
			"another client changed it; run `k8s-single phase run addons` to apply it again", name, svc.Spec.InsecureSkipTLSVerify, len(svc.Spec.CABundle))
	}
	for _, cond := range svc.Status.Conditions {
		if cond.Type == "Available" {
			if cond.Status != "True" {
				return fmt.Errorf("APIService %s is not Available: %s: %s", name, cond.Reason, cond.Message)
			}
			return nil
		}
	}
	return fmt.Errorf("APIService %s has no Available condition yet", name)
}

// waitNodeMetrics waits, silently, until the metrics API (what kubectl top
// node reads) reports the node, and returns its usage figures.
func waitNodeMetrics(ctx context.Context, cs kubernetes.Interface, node string, timeout time.Duration) (map[string]string, error) {
	path := "/apis/metrics.k8s.io/v1beta1/nodes/" + node
	var m struct {
		Usage map[string]string `json:"usage"`
	}
	_, err := poll.Wait{What: "node metrics", Timeout: timeout, Interval: time.Second,
		Expired: func(state string) error { return fmt.Errorf("GET %s: not served within %s: %s", path, timeout, state) },
	}.Until(ctx, func(ctx context.Context) (bool, string, error) {
		raw, err := cs.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.Usage["cpu"] == "" {
			return false, fmt.Sprintf("no usage figures in %s", raw), nil
		}
		return true, "", nil
	})
	return m.Usage, err
}

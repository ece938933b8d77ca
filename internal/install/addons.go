package install

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/k8s-single/k8s-single/internal/addons"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
)

// addonsDir keeps the applied manifests, so a user sees exactly what runs.
const addonsDir = layout.KubernetesDir + "/addons"

// rolloutTimeout bounds the wait for an add-on's Deployment.
const rolloutTimeout = 5 * time.Minute

// Addons applies CoreDNS and metrics-server and waits for them to work.
func Addons() phases.Phase {
	return phases.Phase{
		Name:      "addons",
		Short:     "apply CoreDNS and metrics-server (server-side apply) and wait for their rollouts",
		DependsOn: []string{"node"},
		Inputs: func(c *phases.Context) any {
			fs, err := addonFiles(c)
			if err != nil {
				return err.Error()
			}
			return fs.digests()
		},
		Render: func(c *phases.Context) error {
			fs, err := addonFiles(c)
			if err != nil {
				return err
			}
			return fs.write(c)
		},
		Start:  applyAddons,
		Verify: verifyAddons,
		Plan: func(*phases.Context) []string {
			return []string{"apply " + addonsDir + "/*.yaml and wait for the coredns and metrics-server rollouts"}
		},
	}
}

func addonFiles(c *phases.Context) (files, error) {
	rendered, err := addons.Render(c.Config)
	if err != nil {
		return nil, err
	}
	var fs files
	for _, a := range rendered {
		fs = append(fs, fileOf(addonsDir+"/"+a.Name+".yaml", a.Manifest, layout.ModePublic))
	}
	return fs, nil
}

func applyAddons(c *phases.Context) error {
	ap, err := kube.NewApplier(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	rendered, err := addons.Render(c.Config)
	if err != nil {
		return err
	}
	for _, a := range rendered {
		objs, err := kube.Decode(a.Manifest)
		if err != nil {
			return fmt.Errorf("addon %s: %w", a.Name, err)
		}
		if err := ap.Apply(c, objs); err != nil {
			return err
		}
		c.Printf("applied %s (%d objects)", a.Name, len(objs))
	}
	return nil
}

func verifyAddons(c *phases.Context) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	rendered, err := addons.Render(c.Config)
	if err != nil {
		return err
	}
	for _, a := range rendered {
		start := time.Now()
		c.Waitf("deployment kube-system/%s to roll out, up to %s", a.Deployment, rolloutTimeout)
		if err := kube.WaitRollout(c, cs, "kube-system", a.Deployment, rolloutTimeout, c.Out()); err != nil {
			return err
		}
		c.Printf("%s rolled out after %s", a.Deployment, time.Since(start).Round(time.Millisecond))
	}
	start := time.Now()
	c.Waitf("node metrics from metrics.k8s.io (kubectl top node), up to %s", rolloutTimeout)
	if err := waitNodeMetrics(c, cs, c.Config.Node.Name, rolloutTimeout); err != nil {
		return err
	}
	c.Printf("node metrics served after %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// waitNodeMetrics polls the metrics API (what kubectl top node reads) until
// it reports the node.
func waitNodeMetrics(ctx context.Context, cs kubernetes.Interface, node string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	path := "/apis/metrics.k8s.io/v1beta1/nodes/" + node
	for {
		_, err := cs.CoreV1().RESTClient().Get().AbsPath(path).DoRaw(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s: not served within %s: %w", path, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

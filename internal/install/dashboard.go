package install

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/k8s-single/k8s-single/internal/certs"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/dashboard"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/runtime"
)

// dashboardManifest keeps the applied objects, without the TLS Secret, for
// users to read.
const dashboardManifest = addonsDir + "/dashboard.yaml"

// Waits of the dashboard phase.
const (
	// dashboardTimeout bounds each wait: a rollout, the UI's first 200, a
	// namespace's deletion. As long as the add-ons' rollouts: under software
	// emulation, after a new node address, the UI's pod took over 3 minutes.
	dashboardTimeout = 5 * time.Minute
	// undoProbeTimeout bounds how long Undo tries the apiserver before
	// leaving the objects to a reset --purge.
	undoProbeTimeout = 10 * time.Second
)

// Dashboard deploys the web UI dashboard.kind selects (Headlamp by default)
// with its serving certificate from the cluster CA, exposes it over HTTPS on
// a node port, and proves that it answers and that a dashboard-admin token
// works. With kind none it deploys nothing and removes what an earlier run
// deployed.
func Dashboard() phases.Phase {
	return phases.Phase{
		Name:  PhaseDashboard,
		Short: "deploy the web UI (Headlamp by default) over HTTPS with a dashboard-admin token login",
		// certs: the cluster CA signs its serving certificate; node: its pods
		// need the node, its NodePort kube-proxy. It needs neither CoreDNS
		// nor metrics-server, so it runs beside the add-ons.
		DependsOn: []phases.Name{PhaseCerts, PhaseNode},
		// Nothing needs the UI: when it cannot come up (its image missing
		// on a host without a registry), the rest is still verified.
		FailsAlone: true,
		Inputs:     dashboardInputs,
		Render:     renderDashboard,
		Start:      startDashboard,
		Verify:     verifyDashboard,
		Plan:       planDashboard,
		Undo:       undoDashboard,
	}
}

// dashboardInputs are the config slice the phase reads and what its
// certificate is issued for. The certificate itself is an artifact of the
// phase: a renewed one (`certs renew dashboard`) is drift, so the phase runs
// again and re-applies the Secret.
func dashboardInputs(c *phases.Context) (any, error) {
	ui, ok, err := dashboard.Of(c.Config.Dashboard.Kind)
	if err != nil {
		return nil, err
	}
	if !ok {
		return c.Config.Dashboard, nil
	}
	return struct {
		Dashboard config.Dashboard
		Cert      servingCertInputs
	}{c.Config.Dashboard, servingCertInputsOf(c.Config, dashboardCert(c.Config, ui))}, nil
}

func dashboardCert(c *config.Cluster, ui dashboard.UI) certs.Spec {
	hostname, _ := os.Hostname()
	return ui.ServingCert(c, hostname)
}

func dashboardParams(c *config.Cluster, kp *certs.KeyPair, withKey bool) dashboard.Params {
	p := dashboard.Params{Image: c.Dashboard.Image, AdminClusterRole: c.Dashboard.AdminClusterRole, Cert: kp.CertPEM}
	if withKey {
		p.Key = kp.KeyPEM
	}
	return p
}

// renderDashboard ensures the serving certificate and writes the manifest;
// with kind none it deletes the files an earlier run wrote.
func renderDashboard(c *phases.Context) error {
	ui, ok, err := dashboard.Of(c.Config.Dashboard.Kind)
	if err != nil {
		return err
	}
	if !ok {
		return removeDashboardFiles(c)
	}
	kp, err := ensureServingCert(c, dashboardCert(c.Config, ui))
	if err != nil {
		return err
	}
	objs, err := ui.Objects(dashboardParams(c.Config, kp, false))
	if err != nil {
		return err
	}
	manifest, err := dashboard.Manifest(objs)
	if err != nil {
		return err
	}
	return c.WriteFile(dashboardManifest, manifest, layout.ModePublic)
}

// removeDashboardFiles deletes the manifest and serving certificate of an
// earlier run, which no phase tracks any more once kind is none.
func removeDashboardFiles(c *phases.Context) error {
	for _, p := range []string{dashboardManifest, layout.Cert(dashboard.CertName), layout.Key(dashboard.CertName)} {
		err := os.Remove(c.Root.Path(p))
		switch {
		case err == nil:
			c.Printf("deleted %s", p)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	c.Printf("dashboard.kind is %s: no dashboard to render", dashboard.None)
	return nil
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

// startDashboard removes the kinds not selected, then applies the selected
// one with its TLS Secret.
func startDashboard(c *phases.Context) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	ui, ok, err := dashboard.Of(c.Config.Dashboard.Kind)
	if err != nil {
		return err
	}
	if err := removeDashboards(c, cs, ui.Kind); err != nil {
		return err
	}
	if !ok {
		c.Printf("dashboard.kind is %s: no dashboard is installed", dashboard.None)
		return nil
	}
	kp, err := certs.Load(c.Root, dashboard.CertName)
	if err != nil {
		return fmt.Errorf("dashboard serving certificate: %w; run `k8s-single phase run dashboard` to issue it", err)
	}
	objs, err := ui.Objects(dashboardParams(c.Config, kp, true))
	if err != nil {
		return err
	}
	if err := supplyDashboardImages(c, dashboard.Images(objs)); err != nil {
		return err
	}
	dropped, err := dashboard.DropChangedBindings(c, cs, objs)
	for _, line := range dropped {
		c.Printf("%s", line)
	}
	if err != nil {
		return err
	}
	ap, err := kube.NewApplier(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	if err := ap.Apply(c, objs); err != nil {
		return err
	}
	c.Printf("applied %s: %d objects in namespace %s and cluster-wide (%s)", ui.Kind, len(objs), ui.Namespace, dashboardManifest)
	return nil
}

// supplyDashboardImages makes the UI's images present before its pods need
// them, as runtime.images says. k8s-single cannot build them: on a host
// without a registry they come from the bundle, and the error says how, or
// how to go without a dashboard. Only this phase fails (FailsAlone).
func supplyDashboardImages(c *phases.Context, refs []string) error {
	imgs := make([]images.Image, len(refs))
	for i, ref := range refs {
		imgs[i] = images.External(ref)
	}
	if err := imageSupply(c, runtime.Exec(c, c.Config)).Ensure(c, imgs); err != nil {
		return fmt.Errorf("the dashboard's image: %w\nor set dashboard.kind: %s in the config for a cluster without a dashboard; the rest of the cluster does not need it", err, dashboard.None)
	}
	return nil
}

// removeDashboards removes every kind but keep, waiting for each namespace
// it deletes to be gone.
func removeDashboards(c *phases.Context, cs kubernetes.Interface, keep string) error {
	for _, ui := range dashboard.UIs() {
		if ui.Kind == keep {
			continue
		}
		lines, err := dashboard.Remove(c, cs, ui)
		for _, line := range lines {
			c.Printf("%s", line)
		}
		if err != nil {
			return err
		}
		if len(lines) == 0 {
			continue
		}
		took, err := waitUpTo("namespace "+ui.Namespace+" to be deleted", dashboardTimeout).until(c,
			func(ctx context.Context) (bool, string, error) { return dashboard.Gone(ctx, cs, ui) })
		if err != nil {
			return err
		}
		c.Printf("%s removed after %s", ui.Kind, took.Round(time.Millisecond))
	}
	return nil
}

// verifyDashboard waits for the rollouts, GETs the UI through its node port
// over TLS verified against the cluster CA, and proves a dashboard-admin
// token works.
func verifyDashboard(c *phases.Context) error {
	ui, ok, err := dashboard.Of(c.Config.Dashboard.Kind)
	if err != nil || !ok {
		return err
	}
	admin := c.Root.Path(layout.Kubeconfig("admin"))
	cs, err := kube.NewClient(admin)
	if err != nil {
		return err
	}
	for _, d := range ui.Deployments {
		start := time.Now()
		if err := kube.WaitRollout(c, cs, ui.Namespace, d, dashboardTimeout, c.Out()); err != nil {
			return fmt.Errorf("%w; see `kubectl -n %s describe pods`: an image missing from the bundle shows as ErrImagePull (dashboard.image sets the UI's)", err, ui.Namespace)
		}
		c.Printf("%s rolled out after %s", d, time.Since(start).Round(time.Millisecond))
	}
	url, err := dashboardURL(c, c.Config, cs, ui)
	if err != nil {
		return err
	}
	if err := checkAnswers(c, url); err != nil {
		return err
	}
	if err := checkAdminToken(c, cs, ui, admin); err != nil {
		return err
	}
	c.Printf("open %s (trust %s) and log in with a token from `k8s-single dashboard token`", url, layout.Cert("ca"))
	return nil
}

// checkAnswers waits until url answers 200 over TLS verified against the
// cluster CA, as a browser that trusts it sees the UI.
func checkAnswers(c *phases.Context, url string) error {
	caPEM, err := c.Root.ReadFile(layout.Cert("ca"))
	if err != nil {
		return fmt.Errorf("read the cluster CA: %w", err)
	}
	client, err := dashboard.HTTPSClient(caPEM)
	if err != nil {
		return err
	}
	took, err := waitUpTo("GET "+url+" to answer 200 over TLS verified against the cluster CA", dashboardTimeout).until(c,
		func(ctx context.Context) (bool, string, error) {
			code, err := dashboard.Status(ctx, client, url)
			if err != nil {
				return false, err.Error(), nil
			}
			return code == http.StatusOK, fmt.Sprintf("HTTP %d", code), nil
		})
	if err != nil {
		return err
	}
	c.Printf("GET %s: 200 over TLS verified against the cluster CA after %s", url, took.Round(time.Millisecond))
	return nil
}

// checkAdminToken mints a short dashboard-admin token and proves the
// apiserver accepts it and lets it list pods in all namespaces.
func checkAdminToken(c *phases.Context, cs kubernetes.Interface, ui dashboard.UI, admin string) error {
	token, _, err := dashboard.Token(c, cs, ui, dashboard.MinTokenDuration)
	if err != nil {
		return err
	}
	tcs, err := dashboard.TokenClient(admin, token)
	if err != nil {
		return err
	}
	access, err := dashboard.CheckToken(c, tcs)
	if err != nil {
		return err
	}
	if want := dashboard.AdminUser(ui); access.User != want {
		return fmt.Errorf("a %s token authenticates as %q, want %q", dashboard.AdminServiceAccount, access.User, want)
	}
	if !access.ListPods {
		return fmt.Errorf("%s's token works but ClusterRole %s does not let it list pods in all namespaces, so the dashboard would show nothing; "+
			"set dashboard.adminClusterRole to cluster-admin or view", dashboard.AdminServiceAccount, c.Config.Dashboard.AdminClusterRole)
	}
	c.Printf("a %s token is accepted: the apiserver authenticates %s, who can list pods in all namespaces (%s)",
		dashboard.MinTokenDuration, access.User, c.Config.Dashboard.AdminClusterRole)
	return nil
}

func planDashboard(c *phases.Context) []string {
	ui, ok, err := dashboard.Of(c.Config.Dashboard.Kind)
	if err != nil || !ok {
		return []string{"remove a dashboard an earlier run installed"}
	}
	return []string{
		fmt.Sprintf("apply %s (%s) in namespace %s with the %s Secret", dashboardManifest, ui.Kind, ui.Namespace, dashboard.TLSSecret),
		fmt.Sprintf("wait for %s to roll out, GET https://%s:%d/ over TLS, check a %s token",
			strings.Join(ui.Deployments, " and "), c.Config.Node.Address, dashboard.NodePort, dashboard.AdminServiceAccount),
	}
}

// undoDashboard removes every kind's objects. An apiserver that no longer
// answers does not stop a reset: the objects then stay in etcd's data,
// which reset --purge deletes.
func undoDashboard(c *phases.Context) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err == nil {
		ctx, cancel := context.WithTimeout(c, undoProbeTimeout)
		_, err = cs.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Raw()
		cancel()
	}
	if err != nil {
		c.Printf("the apiserver does not answer (%v): the dashboard's objects stay in etcd's data (reset --purge deletes it)", err)
		return nil
	}
	return removeDashboards(c, cs, "")
}

// dashboardURL is the URL of ui: its node port on the node's address.
func dashboardURL(ctx context.Context, c *config.Cluster, cs kubernetes.Interface, ui dashboard.UI) (string, error) {
	port, err := dashboard.NodePortOf(ctx, cs, ui)
	if err != nil {
		return "", err
	}
	return dashboard.URL(c.Node.Address, port), nil
}

// installedUI is the UI a command (dashboard url, dashboard token) acts on,
// with a client from admin.conf.
func installedUI(root host.Root, c *config.Cluster) (dashboard.UI, kubernetes.Interface, error) {
	ui, ok, err := dashboard.Of(c.Dashboard.Kind)
	if err != nil {
		return ui, nil, err
	}
	if !ok {
		return ui, nil, fmt.Errorf("dashboard.kind is %s: no dashboard is installed; set dashboard.kind to %s or %s and run `k8s-single phase run dashboard`",
			dashboard.None, dashboard.Headlamp, dashboard.KubernetesDashboard)
	}
	cs, err := kube.NewClient(root.Path(layout.Kubeconfig("admin")))
	return ui, cs, err
}

// DashboardAccess is how a user reaches the installed dashboard.
type DashboardAccess struct {
	URL string
	// CA is the host path of the cluster CA the browser must trust, and
	// CAFingerprint its SHA-256 fingerprint to check it by.
	CA, CAFingerprint string
}

// DashboardURL reads the installed dashboard's URL from its Service, with
// the CA a browser must trust to open it.
func DashboardURL(ctx context.Context, root host.Root, c *config.Cluster) (DashboardAccess, error) {
	ui, cs, err := installedUI(root, c)
	if err != nil {
		return DashboardAccess{}, err
	}
	url, err := dashboardURL(ctx, c, cs, ui)
	if err != nil {
		return DashboardAccess{}, err
	}
	caPEM, err := root.ReadFile(layout.Cert("ca"))
	if err != nil {
		return DashboardAccess{}, fmt.Errorf("read the cluster CA: %w", err)
	}
	fp, err := dashboard.Fingerprint(caPEM)
	if err != nil {
		return DashboardAccess{}, fmt.Errorf("%s: %w", root.Path(layout.Cert("ca")), err)
	}
	return DashboardAccess{URL: url, CA: root.Path(layout.Cert("ca")), CAFingerprint: fp}, nil
}

// longLivedTimeout bounds the wait for the token controller.
const longLivedTimeout = time.Minute

// DashboardToken mints a dashboard-admin token valid for d with the
// TokenRequest API, or, when longLived, returns the token of a
// service-account-token Secret, which never expires (expires is then zero).
func DashboardToken(ctx context.Context, root host.Root, c *config.Cluster, d time.Duration, longLived bool) (token string, expires time.Time, err error) {
	ui, cs, err := installedUI(root, c)
	if err != nil {
		return "", time.Time{}, err
	}
	if longLived {
		token, err = dashboard.LongLivedToken(ctx, cs, ui, longLivedTimeout)
		return token, time.Time{}, err
	}
	return dashboard.Token(ctx, cs, ui, d)
}

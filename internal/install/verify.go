package install

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/k8s-single/k8s-single/internal/images"
	"github.com/k8s-single/k8s-single/internal/kube"
	"github.com/k8s-single/k8s-single/internal/layout"
	"github.com/k8s-single/k8s-single/internal/phases"
	"github.com/k8s-single/k8s-single/internal/poll"
)

// verifyTimeout bounds each end-to-end step.
const verifyTimeout = 3 * time.Minute

// Verify proves the cluster end to end: a pod runs, a Service answers on its
// ClusterIP from another pod, names resolve through CoreDNS, node metrics are
// served, and every component is healthy. It leaves nothing behind.
func Verify() phases.Phase {
	return phases.Phase{
		Name:      PhaseVerify,
		Short:     "prove the cluster end to end: pod, Service, DNS, metrics, component health",
		DependsOn: []phases.Name{PhaseAddons},
		// The versions: an upgrade is proven end to end like an install,
		// even when no add-on's manifest changed.
		Inputs: func(c *phases.Context) (any, error) {
			return []string{c.Config.KubernetesVersion, c.Config.EtcdVersion}, nil
		},
		Verify: verifyCluster,
		Plan: func(*phases.Context) []string {
			return []string{"run a web pod and Service and a checking pod in a throw-away namespace"}
		},
	}
}

func verifyCluster(c *phases.Context) error {
	cs, err := kube.NewClient(c.Root.Path(layout.Kubeconfig("admin")))
	if err != nil {
		return err
	}
	ns, err := createVerifyNamespace(c, cs)
	if err != nil {
		return err
	}
	defer func() {
		// A fresh context: the namespace must go even when c was cancelled.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	}()
	image := images.AgentImage().Ref
	svcIP, err := startWeb(c, cs, ns, image)
	if err != nil {
		return err
	}
	domain := c.Config.Network.DNSDomain
	if err := runCheck(c, cs, ns, image, []string{
		"--resolve", "kubernetes.default.svc." + domain,
		"--resolve", "web." + ns + ".svc." + domain,
		"--get", "http://" + svcIP + "/",
		"--get", "http://web." + ns + ".svc." + domain + "/",
	}); err != nil {
		return err
	}
	if err := printNodeMetrics(c, cs); err != nil {
		return err
	}
	return checkComponents(c)
}

func createVerifyNamespace(c *phases.Context, cs kubernetes.Interface) (string, error) {
	suffix := make([]byte, 3)
	rand.Read(suffix)
	ns := "k8s-single-verify-" + hex.EncodeToString(suffix)
	_, err := cs.CoreV1().Namespaces().Create(c, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"app.kubernetes.io/managed-by": kube.FieldManager, "pod-security.kubernetes.io/enforce": "restricted"}}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create namespace %s: %w", ns, err)
	}
	c.Printf("namespace %s created", ns)
	return ns, nil
}

// restricted is a container security context that passes the "restricted"
// Pod Security Standard.
func restricted() *corev1.SecurityContext {
	return &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To[int64](65534),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func agentContainer(name, image string, args ...string) corev1.Container {
	return corev1.Container{Name: name, Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: append([]string{"/agent"}, args...), SecurityContext: restricted()}
}

// startWeb runs the web Deployment and Service and returns the ClusterIP.
func startWeb(c *phases.Context, cs kubernetes.Interface, ns, image string) (string, error) {
	labels := map[string]string{"app": "web"}
	web := agentContainer("web", image, "serve", "--addr=:8080")
	web.Ports = []corev1.ContainerPort{{ContainerPort: 8080, Name: "http"}}
	web.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}}, PeriodSeconds: 1}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{web}}},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(c, d, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create deployment web: %w", err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	created, err := cs.CoreV1().Services(ns).Create(c, svc, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("create service web: %w", err)
	}
	start := time.Now()
	if err := kube.WaitRollout(c, cs, ns, "web", verifyTimeout, c.Out()); err != nil {
		return "", err
	}
	c.Printf("web pod ready after %s; Service web has ClusterIP %s", time.Since(start).Round(time.Millisecond), created.Spec.ClusterIP)
	return created.Spec.ClusterIP, nil
}

// runCheck runs the checking pod to completion and prints its lines.
func runCheck(c *phases.Context, cs kubernetes.Interface, ns, image string, args []string) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "check", Namespace: ns},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{agentContainer("check", image, append([]string{"check", "--timeout=60s"}, args...)...)}},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(c, pod, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod check: %w", err)
	}
	c.Waitf("the check pod (DNS through CoreDNS, the Service by ClusterIP and by name), up to %s", verifyTimeout)
	phase, err := waitPodDone(c, cs, ns, "check", verifyTimeout)
	logs, _ := cs.CoreV1().Pods(ns).GetLogs("check", &corev1.PodLogOptions{}).DoRaw(c)
	for _, line := range strings.Split(strings.TrimSpace(string(logs)), "\n") {
		c.Printf("%s", line)
	}
	if err != nil {
		return err
	}
	if phase != corev1.PodSucceeded {
		return fmt.Errorf("the check pod ended %s: see the lines above", phase)
	}
	return nil
}

func waitPodDone(ctx context.Context, cs kubernetes.Interface, ns, name string, timeout time.Duration) (corev1.PodPhase, error) {
	var phase corev1.PodPhase
	_, err := poll.Wait{What: "pod " + ns + "/" + name + " to finish", Timeout: timeout, Interval: time.Second,
		Expired: func(string) error { return fmt.Errorf("pod %s/%s did not finish within %s", ns, name, timeout) },
	}.Until(ctx, func(ctx context.Context) (bool, string, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, string(phase), nil
	})
	return phase, err
}

// metricsTimeout bounds the wait for the node's metrics: metrics-server
// started again (after a boot, or a kubelet restart), or still warming up
// beside verify in the metrics phase, serves them after its first scrapes
// of the kubelet. As long as the metrics phase's own wait.
const metricsTimeout = rolloutTimeout

// printNodeMetrics waits for what `kubectl top node` shows for the node, and prints it.
func printNodeMetrics(c *phases.Context, cs kubernetes.Interface) error {
	c.Waitf("node metrics (kubectl top node), up to %s", metricsTimeout)
	usage, err := waitNodeMetrics(c, cs, c.Config.Node.Name, metricsTimeout)
	if err != nil {
		return fmt.Errorf("node metrics (kubectl top node): %w", err)
	}
	c.Printf("kubectl top node: %s cpu %s, memory %s", c.Config.Node.Name, usage["cpu"], usage["memory"])
	return nil
}

// checkComponents fails unless every installed component is healthy.
func checkComponents(c *phases.Context) error {
	report, err := Status(c, c.Root, c.Config)
	if err != nil {
		return err
	}
	if bad := report.Unhealthy(); len(bad) > 0 {
		return fmt.Errorf("unhealthy components: %s (see k8s-single status)", strings.Join(bad, ", "))
	}
	c.Printf("all %d components healthy", len(report.Components))
	return nil
}

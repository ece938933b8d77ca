package install

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/layout"
)

func sampleCluster(t *testing.T) *config.Cluster {
	t.Helper()
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	if err := c.Validate(); err != nil {
		t.Fatalf("test cluster: %v", err)
	}
	return c
}

func TestNodeFiles(t *testing.T) {
	fs, err := nodeFiles(sampleCluster(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{
		layout.KubeletConfig:   0o600,
		layout.KubeProxyConfig: 0o644,
		layout.Unit("kubelet"): 0o600, layout.Unit("kube-proxy"): 0o600,
	}
	if len(fs) != len(want) {
		t.Errorf("%d files, want %d", len(fs), len(want))
	}
	for _, f := range fs {
		if mode, ok := want[f.Path]; !ok || f.Mode != mode {
			t.Errorf("%s mode %o: want only %v", f.Path, f.Mode, want)
		}
	}
	again, _ := nodeFiles(sampleCluster(t))
	if !maps.Equal(fs.digests(), again.digests()) {
		t.Error("the node's inputs differ between two renders")
	}
}

func testNode(taints []corev1.Taint, conds ...corev1.NodeCondition) *corev1.Node {
	n := &corev1.Node{}
	n.Name = "node-1"
	n.Spec.Taints = taints
	n.Status.Conditions = conds
	return n
}

func TestNodeReady(t *testing.T) {
	for _, tc := range []struct {
		conds []corev1.NodeCondition
		ready bool
		state string
	}{
		{nil, false, "no Ready condition yet"},
		{[]corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}}, true, ""},
		{[]corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady", Message: "container runtime network not ready"}},
			false, "Ready=False KubeletNotReady: container runtime network not ready"},
	} {
		ready, state, err := nodeReady(testNode(nil, tc.conds...))
		if ready != tc.ready || state != tc.state || err != nil {
			t.Errorf("nodeReady(%v) = %v, %q, %v; want %v, %q", tc.conds, ready, state, err, tc.ready, tc.state)
		}
	}
}

var (
	controlPlaneTaint = corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}
	masterTaint       = corev1.Taint{Key: "node-role.kubernetes.io/master", Effect: corev1.TaintEffectNoSchedule}
	roleNoExecute     = corev1.Taint{Key: "node-role.kubernetes.io/infra", Effect: corev1.TaintEffectNoExecute}
	notReadyTaint     = corev1.Taint{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoSchedule}
	unreachable       = corev1.Taint{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoExecute}
	preferTaint       = corev1.Taint{Key: "node.kubernetes.io/disk-pressure", Effect: corev1.TaintEffectPreferNoSchedule}
	userTaint         = corev1.Taint{Key: "example.com/gpu", Value: "true", Effect: corev1.TaintEffectNoSchedule}
)

func TestWithoutRoleTaints(t *testing.T) {
	keep, removed := withoutRoleTaints([]corev1.Taint{controlPlaneTaint, userTaint, masterTaint, roleNoExecute, notReadyTaint})
	if want := []corev1.Taint{userTaint, roleNoExecute, notReadyTaint}; !slices.Equal(keep, want) {
		t.Errorf("kept %v, want %v", keep, want)
	}
	if want := []string{"node-role.kubernetes.io/control-plane:NoSchedule", "node-role.kubernetes.io/master:NoSchedule"}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	if keep, removed := withoutRoleTaints(nil); keep != nil || removed != nil {
		t.Errorf("no taints: kept %v, removed %v", keep, removed)
	}
}

func TestSchedulable(t *testing.T) {
	for _, tc := range []struct {
		taints []corev1.Taint
		ok     bool
		state  string
	}{
		{nil, true, ""},
		{[]corev1.Taint{userTaint, preferTaint}, true, ""},
		{[]corev1.Taint{notReadyTaint, userTaint, unreachable}, false, "tainted node.kubernetes.io/not-ready:NoSchedule, node.kubernetes.io/unreachable:NoExecute"},
	} {
		ok, state, err := schedulable(testNode(tc.taints))
		if ok != tc.ok || state != tc.state || err != nil {
			t.Errorf("schedulable(%v) = %v, %q, %v; want %v, %q", tc.taints, ok, state, err, tc.ok, tc.state)
		}
	}
	cordoned := testNode(nil)
	cordoned.Spec.Unschedulable = true
	if _, _, err := schedulable(cordoned); err == nil || !strings.Contains(err.Error(), "kubectl uncordon node-1") {
		t.Errorf("cordoned node: %v, want the uncordon fix", err)
	}
}

func TestCheckNode(t *testing.T) {
	notYet := func(context.Context) (*corev1.Node, string, error) { return nil, "not registered yet", nil }
	refused := errors.New("forbidden")
	denied := func(context.Context) (*corev1.Node, string, error) { return nil, "", refused }
	ready := testNode(nil, corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue})
	found := func(context.Context) (*corev1.Node, string, error) { return ready, "", nil }
	ctx := context.Background()
	if done, state, err := checkNode(notYet, nodeReady)(ctx); done || state != "not registered yet" || err != nil {
		t.Errorf("unregistered node: %v, %q, %v", done, state, err)
	}
	if _, _, err := checkNode(denied, nodeReady)(ctx); !errors.Is(err, refused) {
		t.Errorf("refused read: %v", err)
	}
	if done, _, err := checkNode(found, nodeReady)(ctx); !done || err != nil {
		t.Errorf("ready node: %v, %v", done, err)
	}
}

// waitLines is a waitContext that keeps what the wait printed.
type waitLines struct {
	context.Context
	out []string
}

func (l *waitLines) Waitf(format string, args ...any) {
	l.out = append(l.out, "waiting for "+fmt.Sprintf(format, args...))
}
func (l *waitLines) Printf(format string, args ...any) {
	l.out = append(l.out, fmt.Sprintf(format, args...))
}

// TestWaitUntil checks the phase's wait prints through the phase (the loop
// itself is package poll's, tested there on a fake clock).
func TestWaitUntil(t *testing.T) {
	w := waitUpTo("the thing", time.Second)
	c := &waitLines{Context: context.Background()}
	if _, err := w.until(c, func(context.Context) (bool, string, error) { return true, "", nil }); err != nil {
		t.Fatal(err)
	}
	if len(c.out) != 1 || c.out[0] != "waiting for the thing, up to 1s" {
		t.Errorf("lines %q", c.out)
	}
	boom := errors.New("boom")
	if _, err := w.until(c, func(context.Context) (bool, string, error) { return false, "", boom }); !errors.Is(err, boom) {
		t.Errorf("until = %v, want boom at once", err)
	}
}

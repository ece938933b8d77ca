package install

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/binaries"
	"github.com/k8s-single/k8s-single/internal/binaries/binariestest"
	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/skew"
)

// installedRelease installs fake binaries of a release under root and
// switches every binary to it, as an install leaves a node.
func installedRelease(t *testing.T, kubernetesVersion, etcdVersion string) (host.Root, *config.Cluster) {
	t.Helper()
	root, c := host.Root(t.TempDir()), sampleCluster(t)
	c.KubernetesVersion, c.EtcdVersion = kubernetesVersion, etcdVersion
	c.Binaries.Source, c.Binaries.Dir = "dir", t.TempDir()
	binariestest.Dir(t, c.Binaries.Dir, kubernetesVersion, etcdVersion)
	if _, err := binaries.Install(context.Background(), root, c, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, _, err := binaries.Activate(root, c, binaries.Names...); err != nil {
		t.Fatal(err)
	}
	return root, c
}

func TestCheckUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name              string
		kubernetes, etcd  string
		opts              skew.Options
		wantErr, wantPlan string
	}{
		{"no change: nothing read but the links", "v1.36.3", "v3.6.16", skew.Options{}, "", ""},
		{"one minor each", "v1.37.2", "v3.7.3", skew.Options{}, "", "switch kube-apiserver, kubectl and restart it"},
		{"etcd only", "v1.36.3", "v3.7.3", skew.Options{}, "", "switch etcd, etcdctl and restart it"},
		{"two minors", "v1.38.0", "v3.6.16", skew.Options{}, "one minor version at a time; upgrade to v1.37.x first", ""},
		{"minor downgrade", "v1.35.4", "v3.6.16", skew.Options{AllowDowngrade: true}, "no downgrade to an older minor version", ""},
		{"patch downgrade", "v1.36.1", "v3.6.16", skew.Options{}, "a patch downgrade within v1.36 is allowed with --allow-downgrade", ""},
		{"patch downgrade allowed", "v1.36.1", "v3.6.16", skew.Options{AllowDowngrade: true}, "", "switch kubelet and restart it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, c := installedRelease(t, "v1.36.3", "v3.6.16")
			c.KubernetesVersion, c.EtcdVersion = tc.kubernetes, tc.etcd
			plan, err := CheckUpgrade(root, c, tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "nothing was changed") {
					t.Fatalf("CheckUpgrade: %v; want a refusal naming %q and that nothing was changed", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("CheckUpgrade: %v", err)
			}
			var out strings.Builder
			plan.Write(&out)
			if tc.wantPlan == "" {
				if plan.Changes() {
					t.Errorf("the plan changes binaries:\n%s", out.String())
				}
				return
			}
			if !strings.Contains(out.String(), tc.wantPlan) || !strings.Contains(out.String(), "take a backup") {
				t.Errorf("the plan lacks %q or the backup:\n%s", tc.wantPlan, out.String())
			}
		})
	}
}

// TestUpgradePlanOrder: etcd first, the kubelet after the control plane.
func TestUpgradePlanOrder(t *testing.T) {
	root, c := installedRelease(t, "v1.36.3", "v3.6.16")
	c.KubernetesVersion, c.EtcdVersion = "v1.37.2", "v3.7.3"
	plan, err := CheckUpgrade(root, c, skew.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	plan.Write(&out)
	last := -1
	for _, comp := range upgradeOrder {
		i := strings.Index(out.String(), "switch "+comp)
		if i < last {
			t.Errorf("%s comes before an earlier component in the plan:\n%s", comp, out.String())
		}
		last = i
	}
	if !strings.Contains(out.String(), "kube-apiserver           -            v1.36.3      v1.37.2      upgrade") {
		t.Errorf("the plan's table lacks the apiserver's installed and configured version:\n%s", out.String())
	}
}

// TestRuntimeStep: the plan says when up moves the node to the configured
// containerd: from Debian's to k8s-single's, between two of k8s-single's, and
// back to Debian's.
func TestRuntimeStep(t *testing.T) {
	c := sampleCluster(t)
	for _, tc := range []struct {
		source, running string
		restart         bool
	}{
		{"build", "1.6.20~ds1", true},
		{"build", "v2.4.1", true},
		{"build", "v2.4.2", false},
		{"build", "", false}, // containerd does not answer: nothing to compare
		{"debian", "v2.4.2", true},
		{"debian", "1.6.20~ds1", false},
	} {
		c.Runtime.Source = tc.source
		step := planRuntimeStep(c, tc.running)
		if step.Restart != tc.restart {
			t.Errorf("runtime.source %s, running %q: restart %v, want %v", tc.source, tc.running, step.Restart, tc.restart)
		}
		var out strings.Builder
		UpgradePlan{Runtime: step}.Write(&out)
		if got := strings.Contains(out.String(), "restarts containerd on it; the pods keep running"); got != tc.restart {
			t.Errorf("runtime.source %s, running %q: the plan says the restart: %v, want %v:\n%s", tc.source, tc.running, got, tc.restart, out.String())
		}
	}
}

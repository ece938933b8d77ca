package config

import (
	"strings"
	"testing"
)

// TestNotices: the retired Kubernetes Dashboard is named with its successor,
// Debian's containerd 1.6 with k8s-single's own; the defaults have nothing
// to say.
func TestNotices(t *testing.T) {
	c := Default(HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	if n := c.Notices(); len(n) != 0 {
		t.Errorf("the defaults have notices: %v", n)
	}
	c.Dashboard.Kind = "kubernetes-dashboard"
	n := c.Notices()
	if len(n) != 1 || !strings.Contains(n[0], "retired upstream in January 2026") || !strings.Contains(n[0], "dashboard.kind: headlamp") {
		t.Errorf("notices for kubernetes-dashboard: %v", n)
	}
	c.Dashboard.Kind, c.Runtime.Source = "headlamp", "debian"
	n = c.Notices()
	if len(n) != 1 || !strings.Contains(n[0], "Kubernetes 1.38 no longer supports") || !strings.Contains(n[0], "runtime.source: build") {
		t.Errorf("notices for Debian's containerd: %v", n)
	}
}

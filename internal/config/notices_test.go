package config

import (
	"strings"
	"testing"
)

// TestNotices: the retired Kubernetes Dashboard is named with its successor;
// the defaults have nothing to say.
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
}

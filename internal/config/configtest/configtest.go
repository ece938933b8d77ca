// Package configtest holds the cluster configuration that tests render from,
// so that the golden files of the packages that render it (units,
// componentconfig, runtime) all describe one node. It is imported by tests
// only.
package configtest

import (
	"testing"

	"github.com/k8s-single/k8s-single/internal/config"
)

// Cluster is the defaulted, validated configuration of the test node,
// node-1 at 192.168.56.10. Each call returns a new one, for the test to
// change.
func Cluster(t testing.TB) *config.Cluster {
	t.Helper()
	c := config.Default(config.HostFacts{Hostname: "node-1", DefaultRouteAddress: "192.168.56.10"})
	if err := c.Validate(); err != nil {
		t.Fatalf("test cluster: %v", err)
	}
	return c
}

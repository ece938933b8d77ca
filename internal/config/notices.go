package config

// Notices are what a valid config should still tell its user: choices that
// work but that upstream has moved away from. `config validate` and `up`
// print them; they never fail a run.
func (c *Cluster) Notices() []string {
	var out []string
	if c.Dashboard.Kind == "kubernetes-dashboard" {
		out = append(out, "dashboard.kind: kubernetes-dashboard: the Kubernetes Dashboard project was retired upstream "+
			"in January 2026 (kubernetes/org#6046; now kubernetes-retired/dashboard) and gets no more fixes; "+
			"Headlamp, which SIG UI owns, is its successor: dashboard.kind: headlamp (the default)")
	}
	return out
}

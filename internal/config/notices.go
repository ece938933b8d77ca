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
	if c.Runtime.Source == "debian" {
		out = append(out, "runtime.source: debian: Debian 12's containerd is 1.6, which Kubernetes 1.38 no longer supports "+
			"and which cannot mount image volumes; k8s-single's own containerd 2 is runtime.source: build (or dir), "+
			"and an `up` moves a running node to it with its pods")
	}
	return out
}

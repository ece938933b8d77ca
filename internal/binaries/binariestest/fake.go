// Package binariestest writes fake node binaries for tests: tiny shell
// scripts that print what the real ones print for their version flag. That is
// enough for what such tests check (locating, copying, switching, version
// parsing and the upgrade rules) and keeps them fast and offline; the real
// binaries are exercised by the integration and smoke tests. It is imported
// by tests only.
package binariestest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Script returns a script that reports version (v-prefixed, as the config
// spells it) the way the named binary does.
func Script(name, version string) []byte {
	var out string
	switch name {
	case "etcd":
		out = "etcd Version: " + strings.TrimPrefix(version, "v") + "\nGit SHA: fake\nGo Version: go1.26.8\nGo OS/Arch: linux/amd64"
	case "etcdctl":
		out = "etcdctl version: " + strings.TrimPrefix(version, "v") + "\nAPI version: 3.7"
	case "kubectl":
		out = "Client Version: " + version + "\nKustomize Version: v5.8.1"
	case "containerd", "ctr":
		out = name + " github.com/containerd/containerd/v2 " + version + " "
	case "containerd-shim-runc-v2":
		out = "containerd-shim-runc-v2:\n  Version:  " + version + "\n  Revision: \n  Go version: go1.26.8\n"
	case "runc":
		out = "runc version " + strings.TrimPrefix(version, "v") + "\nspec: 1.3.0\ngo: go1.26.8\nlibseccomp: 2.5.4"
	case "cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap":
		out = "CNI " + strings.TrimPrefix(name, "cni/") + " plugin " + version + "\nCNI protocol versions supported: 0.1.0, 1.1.0"
	default:
		out = "Kubernetes " + version
	}
	return []byte("#!/bin/sh\ncat <<'EOF'\n" + out + "\nEOF\n")
}

// Write writes the named binary's script, mode 0755, at path.
func Write(t testing.TB, path, name, version string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, Script(name, version), 0o755); err != nil {
		t.Fatal(err)
	}
}

// Dir writes the 8 binaries of a release into dir: etcd and etcdctl at
// etcdVersion, the others at kubernetesVersion.
func Dir(t testing.TB, dir, kubernetesVersion, etcdVersion string) {
	t.Helper()
	for _, n := range []string{"etcd", "etcdctl"} {
		Write(t, filepath.Join(dir, n), n, etcdVersion)
	}
	for _, n := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"} {
		Write(t, filepath.Join(dir, n), n, kubernetesVersion)
	}
}

// RuntimeDir writes the runtime's binaries (binaries.RuntimeNames: containerd,
// its shim, ctr and runc, and the CNI plugins under cni/) into dir at the
// given versions.
func RuntimeDir(t testing.TB, dir, containerdVersion, runcVersion, cniVersion string) {
	t.Helper()
	for _, n := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
		Write(t, filepath.Join(dir, n), n, containerdVersion)
	}
	Write(t, filepath.Join(dir, "runc"), "runc", runcVersion)
	for _, n := range []string{"cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap"} {
		Write(t, filepath.Join(dir, n), n, cniVersion)
	}
}

package runtime

import (
	"fmt"
	"slices"
	"strings"

	"github.com/k8s-single/k8s-single/internal/images"
)

// ctr runs containerd's ctr in the namespace the kubelet's CRI uses.
func ctr(run Run, args ...string) ([]byte, error) {
	return run("ctr", append([]string{"-n", images.Namespace}, args...)...)
}

// queryTimeouts bound a ctr query: dialing a socket nobody serves yet fails
// after 2 s (ctr's default is 10 s, which would slow every poll of a wait),
// and a containerd that accepts but does not answer cannot hang a wait.
var queryTimeouts = []string{"--connect-timeout", "2s", "--timeout", "10s"}

// ctrQuery runs a quick ctr query, bounded by queryTimeouts.
func ctrQuery(run Run, args ...string) ([]byte, error) {
	return ctr(run, append(slices.Clone(queryTimeouts), args...)...)
}

// CRIReady asks containerd for the state of its CRI plugin (`ctr plugins
// ls`). It returns true once the plugin is "ok". While containerd does not
// answer it returns false and what ctr said; a CRI plugin that failed to
// load (it will not recover without a fix and a restart) is an error.
func CRIReady(run Run) (bool, string, error) {
	out, err := ctrQuery(run, "plugins", "ls")
	if err != nil {
		return false, err.Error(), nil
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "io.containerd.grpc.v1" || f[1] != "cri" {
			continue
		}
		if status := f[len(f)-1]; status != "ok" {
			return false, "", fmt.Errorf("containerd's CRI plugin is %q, not ok: see journalctl -u containerd for why, "+
				"fix %s and run again", status, ContainerdConfig)
		}
		return true, "ok", nil
	}
	return false, "", fmt.Errorf("containerd lists no CRI plugin (ctr plugins ls): is %q disabled in %s?", "cri", ContainerdConfig)
}

// ServerVersion asks the running containerd its version (`ctr version`, the
// Server section): "v2.4.2" for k8s-single's, "1.6.20~ds1" for Debian's.
func ServerVersion(run Run) (string, error) {
	out, err := ctrQuery(run, "version")
	if err != nil {
		return "", err
	}
	server := false
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "Server:" {
			server = true
		}
		if v, ok := strings.CutPrefix(line, "Version:"); ok && server {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("ctr version printed no server version: %q", out)
}

// HasImage reports whether ref is in the CRI's image store
// (`ctr images ls -q`), comparing normalized references.
func HasImage(run Run, ref string) (bool, error) {
	out, err := ctrQuery(run, "images", "ls", "-q")
	if err != nil {
		return false, fmt.Errorf("list containerd's images: %w", err)
	}
	return slices.Contains(strings.Fields(string(out)), NormalizeRef(ref)), nil
}

// PullImage pulls ref into the CRI's image store (`ctr images pull`).
func PullImage(run Run, ref string) error {
	if _, err := ctr(run, "images", "pull", NormalizeRef(ref)); err != nil {
		return fmt.Errorf("pull %s: %w; on a node without a registry, set runtime.imageBundle to a directory of image tarballs holding it", ref, err)
	}
	return nil
}

// NormalizeRef spells an image reference the way containerd stores it:
// "pause:3.10" is "docker.io/library/pause:3.10", a reference without a tag
// gets ":latest".
func NormalizeRef(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	first, rest, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + first + "/" + rest
	}
	if hasDigest {
		return name + "@" + digest
	}
	if !strings.Contains(name[strings.LastIndex(name, "/")+1:], ":") {
		name += ":latest"
	}
	return name
}

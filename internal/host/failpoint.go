package host

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// FailpointEnv names the environment variable that makes the process SIGKILL
// itself at a chosen write, so crash-safety tests can stop a run at exact
// points: "before-rename:3" dies before the third rename (a temp file is left),
// "after-write:5" right after the fifth completed write, and
// "after-write:pki/ca.key" right after the first write of a path ending in
// /pki/ca.key.
const FailpointEnv = "K8S_SINGLE_FAILPOINT"

var failpointHits atomic.Int64

func failpoint(name, path string) {
	spec := os.Getenv(FailpointEnv)
	if spec == "" {
		return
	}
	want, at, ok := strings.Cut(spec, ":")
	if !ok || want != name {
		return
	}
	hit := strings.HasSuffix(path, "/"+at)
	if n, err := strconv.Atoi(at); err == nil {
		hit = failpointHits.Add(1) == int64(n)
	}
	if hit {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is delivered asynchronously
	}
}

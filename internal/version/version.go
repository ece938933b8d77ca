// Package version holds k8s-single's own version, set at link time, and
// nothing else, so that every binary prints it without linking the installer.
package version

import (
	"fmt"
	"runtime"
)

// Version is k8s-single's own version; the Makefile sets it with
// -ldflags -X github.com/k8s-single/k8s-single/internal/version.Version=...
var Version = "dev"

// String is what `k8s-single version` prints: the version, Go's and the
// platform, e.g. "k8s-single v1.2.0 (go1.26.0, linux/amd64)".
func String() string {
	return fmt.Sprintf("k8s-single %s (%s, %s/%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

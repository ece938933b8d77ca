package machine

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Bind is a host path the machine sees, bound in by systemd-nspawn.
type Bind struct {
	// Source is the host path, Dest where the machine sees it.
	Source string `json:"source"`
	Dest   string `json:"dest"`
	// ReadOnly binds it read-only.
	ReadOnly bool `json:"readOnly,omitempty"`
}

// ParseBind reads a --bind or --bind-ro value, SRC[:DST] as systemd-nspawn
// spells it (DST defaults to SRC): SRC must exist, both must be absolute,
// and DST may not be one of the machine's own mounts.
func ParseBind(flag, value string, readOnly bool) (Bind, error) {
	src, dst, ok := strings.Cut(value, ":")
	if !ok {
		dst = src
	}
	b := Bind{Source: filepath.Clean(src), Dest: filepath.Clean(dst), ReadOnly: readOnly}
	switch {
	case !filepath.IsAbs(src) || !filepath.IsAbs(dst):
		return b, fmt.Errorf("%s %q: want absolute paths, SRC[:DST] (e.g. %s /srv/manifests:/mnt/manifests)", flag, value, flag)
	case slices.Contains([]string{mountBinaries, mountImages, "/", "/dev/kmsg"}, b.Dest):
		return b, fmt.Errorf("%s %q: %s is the machine's own; choose another DST", flag, value, b.Dest)
	}
	if _, err := os.Stat(b.Source); err != nil {
		return b, fmt.Errorf("%s %q: %w (the host path must exist)", flag, value, err)
	}
	return b, nil
}

// arg is the bind's systemd-nspawn argument.
func (b Bind) arg() string {
	if b.ReadOnly {
		return "--bind-ro=" + b.Source + ":" + b.Dest
	}
	return "--bind=" + b.Source + ":" + b.Dest
}

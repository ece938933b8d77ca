package install

import (
	"bufio"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// mountInfo is the kernel's table of this process's mounts.
const mountInfo = "/proc/self/mountinfo"

// unmount is syscall.Unmount; tests replace it.
var unmount = syscall.Unmount

// mountsUnder returns the mount points of the mountinfo file at path that
// are dir or lie under it, deepest first (a mount is undone before the one
// it sits on).
func mountsUnder(path, dir string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir = strings.TrimSuffix(dir, "/")
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if (mp == dir || strings.HasPrefix(mp, dir+"/")) && !slices.Contains(out, mp) {
			out = append(out, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	return out, nil
}

// unescapeMount decodes mountinfo's octal escapes (\040 is a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountAll unmounts the mount points, lazily (MNT_DETACH) when one is
// busy. It returns how many it unmounted; mounts that went away meanwhile
// (EINVAL, ENOENT: undone with their parent) are not errors.
func unmountAll(points []string) (int, error) {
	var errs []error
	n := 0
	for _, p := range points {
		err := unmount(p, 0)
		if errors.Is(err, syscall.EBUSY) {
			err = unmount(p, syscall.MNT_DETACH)
		}
		switch {
		case err == nil:
			n++
		case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT):
		default:
			errs = append(errs, &os.PathError{Op: "unmount", Path: p, Err: err})
		}
	}
	return n, errors.Join(errs...)
}

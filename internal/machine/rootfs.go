package machine

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Suite is the Debian release a machine runs.
const Suite = "bookworm"

// Packages are what a node needs beyond debootstrap's minbase: systemd as
// PID 1, the tools the runtime and the kubelet call, and curl and jq for a
// user in `machine shell`. containerd, runc and the CNI plugins are
// k8s-single's own builds, bound in with the other binaries.
var Packages = []string{"systemd", "systemd-sysv", "dbus", "iptables", "conntrack", "socat", "iproute2",
	"ca-certificates", "kmod", "procps", "util-linux", "mount", "netbase", "curl", "jq", "less"}

// rootfsRecipe changes when buildRootfs changes what it makes, so that an
// older cached rootfs is not taken for a current one.
const rootfsRecipe = "1"

// rootfsKey names the cached rootfs after what makes it.
func rootfsKey() string {
	pkgs := append([]string(nil), Packages...)
	sort.Strings(pkgs)
	sum := sha256.Sum256([]byte(Suite + "\n" + rootfsRecipe + "\n" + strings.Join(pkgs, "\n")))
	return hex.EncodeToString(sum[:8])
}

// Rootfs returns the cached machine rootfs under cacheDir/machine, building
// it once with debootstrap from the host's Debian mirror. A build runs under
// a lock and into a temporary dir renamed when complete, so a killed build
// is never taken for a cached one.
func Rootfs(ctx context.Context, cacheDir string, out io.Writer) (string, error) {
	dir := filepath.Join(cacheDir, "machine")
	path := filepath.Join(dir, "rootfs-"+rootfsKey())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".rootfs.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	if _, err := os.Stat(path); err == nil {
		fmt.Fprintf(out, "rootfs cached: %s\n", path)
		return path, nil
	}
	start := time.Now()
	if err := buildRootfs(ctx, path, out); err != nil {
		return "", err
	}
	fmt.Fprintf(out, "rootfs built in %s: %s\n", time.Since(start).Round(time.Second), path)
	return path, nil
}

// buildRootfs debootstraps path (through path.tmp) with Packages.
func buildRootfs(ctx context.Context, path string, out io.Writer) error {
	mirror, err := aptMirror("/etc/apt", Suite)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	logPath := path + ".debootstrap.log"
	log, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(out, "building the machine rootfs (once, a few minutes): debootstrap --variant=minbase %s from %s with %s\n",
		Suite, mirror, strings.Join(Packages, " "))
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--components=main",
		"--include="+strings.Join(Packages, ","), Suite, tmp, mirror)
	cmd.Stdout = &progressLines{w: out, log: log, prefix: "  debootstrap | "}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("debootstrap %s into %s: %w (full log: %s)", Suite, tmp, err, logPath)
	}
	// The image's apt lists and logs are the build's, not a machine's.
	for _, g := range []string{"var/lib/apt/lists/*", "var/log/*.log", "var/cache/apt/archives/*.deb"} {
		matches, _ := filepath.Glob(filepath.Join(tmp, g))
		for _, p := range matches {
			os.RemoveAll(p)
		}
	}
	for _, d := range []string{"var/log/journal", mountBinaries, mountImages} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return err
		}
	}
	return os.Rename(tmp, path)
}

// progressTick is how often a long step prints its progress line.
const progressTick = 3 * time.Second

// progressLines copies a build's output to its log and prints its latest
// line, with the time so far, every progressTick.
type progressLines struct {
	w, log      io.Writer
	prefix      string
	buf         []byte
	start, last time.Time
}

func (p *progressLines) Write(b []byte) (int, error) {
	p.log.Write(b)
	p.buf = append(p.buf, b...)
	if p.start.IsZero() {
		p.start = time.Now()
	}
	i := bytes.LastIndexByte(p.buf, '\n')
	if i < 0 {
		return len(b), nil
	}
	lines := strings.Split(strings.TrimSpace(string(p.buf[:i])), "\n")
	p.buf = p.buf[i+1:]
	if time.Since(p.last) >= progressTick {
		p.last = time.Now()
		fmt.Fprintf(p.w, "%s%5.0fs %s\n", p.prefix, time.Since(p.start).Seconds(), strings.TrimSpace(lines[len(lines)-1]))
	}
	return len(b), nil
}

// aptMirror reads the first apt source (deb822 *.sources or one-line
// *.list) that serves suite's main component.
func aptMirror(aptDir, suite string) (string, error) {
	sources, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*.sources"))
	for _, f := range sources {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(data), "\n\n") {
			fields := map[string]string{}
			for _, line := range strings.Split(stanza, "\n") {
				if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
					fields[strings.TrimSpace(k)] = strings.TrimSpace(v)
				}
			}
			if has(fields["Types"], "deb") && has(fields["Suites"], suite) && has(fields["Components"], "main") {
				if uris := strings.Fields(fields["URIs"]); len(uris) > 0 {
					return uris[0], nil
				}
			}
		}
	}
	lists, _ := filepath.Glob(filepath.Join(aptDir, "sources.list.d", "*.list"))
	for _, f := range append([]string{filepath.Join(aptDir, "sources.list")}, lists...) {
		file, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			line := sc.Text()
			if i := strings.IndexByte(line, '['); i >= 0 {
				if j := strings.IndexByte(line[i:], ']'); j >= 0 {
					line = line[:i] + line[i+j+1:]
				}
			}
			f := strings.Fields(line)
			if len(f) >= 4 && f[0] == "deb" && f[2] == suite && has(strings.Join(f[3:], " "), "main") {
				file.Close()
				return f[1], nil
			}
		}
		file.Close()
	}
	return "", fmt.Errorf("no apt source for Debian %s main in %s: add one (e.g. deb http://deb.debian.org/debian %s main) to build the machine's rootfs", suite, aptDir, suite)
}

// has reports whether the space-separated list holds word.
func has(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if w == word {
			return true
		}
	}
	return false
}

package machine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/dashboard"
	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/images"

	"github.com/k8s-single/k8s-single/internal/poll"
)

// Options are what `machine up` needs besides the machine's name.
type Options struct {
	Name string
	// Config is the cluster the machine runs (a user's config or the
	// defaults); its node, binaries and image bundle become the machine's.
	Config *config.Cluster
	// BinariesDir holds the 8 binaries and the runtime's (k8s-single build's
	// output); ImagesDir the image bundle, or "" for none.
	BinariesDir, ImagesDir string
	// Binds are more host paths for a new machine (a machine booted again
	// keeps those it was made with).
	Binds []Bind
	// CacheDir keeps the machine rootfs.
	CacheDir string
	// BaseRootfs, when set, is the root file system a new machine is copied
	// from instead of the cached debootstrap one (e.g. one with more tools).
	BaseRootfs string
	// NoUp makes a new machine that boots without running `k8s-single up`:
	// Up returns once its systemd finished booting.
	NoUp bool
	// Self is k8s-single's own executable (k8s-single-full), copied into
	// the machine and run on the host as the port forwarder.
	Self string
	// Front is the quick front beside Self (cmd/k8s-single), copied into the
	// machine too; when empty, the machine's k8s-single links to Self's copy.
	Front string
	// Timeout bounds the machine's `up`.
	Timeout time.Duration
}

// First host ports and the node network of machine 0; machine i takes the
// i-th of each.
const (
	firstAPIPort       = 16443
	firstDashboardPort = 18443
	maxMachines        = 100
)

// Up makes and boots a machine (or boots a stopped one again), waits for
// its `k8s-single up` while showing its output, forwards the apiserver and
// the dashboard to the host's loopback and writes a host kubeconfig.
func Up(ctx context.Context, o Options, out io.Writer) (*Machine, error) {
	if err := CheckName(o.Name); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.BinariesDir, "kube-apiserver")); err != nil {
		return nil, fmt.Errorf("--binaries-dir %q holds no kube-apiserver: give the dir `k8s-single build --print-dir` prints, or leave the flag out to build them", o.BinariesDir)
	}
	if err := checkBaseRootfs(o.BaseRootfs); err != nil {
		return nil, err
	}
	if err := ensureTools(out); err != nil {
		return nil, err
	}
	unlock, err := lockMachines()
	if err != nil {
		return nil, err
	}
	// The lock holds until the machine's nspawn is recorded: a concurrent
	// up of the same name then finds it running.
	m, err := Load(o.Name)
	bootedAgain := false
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if m, err = create(ctx, o, out); err != nil {
			unlock()
			return m, err
		}
	case err != nil:
		unlock()
		return nil, err
	case m.Running():
		unlock()
		return m, fmt.Errorf("machine %s runs already (k8s-single machine status --name %s); stop it with: k8s-single machine down --name %s", m.Name, m.Name, m.Name)
	default:
		fmt.Fprintf(out, "machine %s exists (stopped): booting it again; its cluster comes back at boot\n", m.Name)
		if (len(o.Binds) > 0 && !slices.Equal(o.Binds, m.Binds)) || o.BaseRootfs != "" || o.NoUp != m.NoUp {
			fmt.Fprintf(out, "notice: --bind, --bind-ro, --rootfs and --no-up apply when a machine is made: machine %s keeps its own; down --purge and up to change them\n", m.Name)
		}
		bootedAgain = true
		os.Remove(m.Path(upResult))
		os.Remove(m.Path(upLog))
	}
	start := time.Now()
	fmt.Fprintf(out, "booting machine %s (systemd-nspawn, node %s in its own network), console in %s\n",
		m.Name, m.NodeAddress, filepath.Join(m.Dir(), "console.log"))
	err = boot(m)
	unlock()
	if err != nil {
		return m, err
	}
	if err := waitLeader(m, 30*time.Second); err != nil {
		stop(m, 10*time.Second)
		return m, err
	}
	if err := startForwarder(m, o.Self); err != nil {
		return m, err
	}
	if m.NoUp {
		took, err := waitBooted(ctx, m, o.Timeout, out)
		if err != nil {
			return m, err
		}
		fmt.Fprintf(out, "machine %s booted in %s (its systemd %s); no `k8s-single up` at boot (--no-up)\n", m.Name, time.Since(start).Round(100*time.Millisecond), took.Round(100*time.Millisecond))
		return m, m.save()
	}
	fmt.Fprintf(out, "waiting for `k8s-single up` inside the machine (its output follows), up to %s\n", o.Timeout)
	if err := followUp(ctx, m, o.Timeout, out); err != nil {
		return m, fmt.Errorf("%w\nthe machine keeps running for a look inside: k8s-single machine shell --name %s (journalctl -u %s); remove it with: k8s-single machine down --name %s --purge",
			err, m.Name, upUnit, m.Name)
	}
	if bootedAgain {
		if err := proveAgain(ctx, m, o.Timeout, out); err != nil {
			return m, err
		}
	}
	if err := writeKubeconfig(m); err != nil {
		return m, err
	}
	fmt.Fprintf(out, "machine %s up in %s\n", m.Name, time.Since(start).Round(100*time.Millisecond))
	return m, m.save()
}

// lockMachines serialises the making of machines (their indexes, names and
// ports) between concurrent `machine up`s; the returned func unlocks.
func lockMachines() (func(), error) {
	if err := os.MkdirAll(StateDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(StateDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// create allocates the machine's address and ports, writes its config and
// makes its rootfs.
func create(ctx context.Context, o Options, out io.Writer) (*Machine, error) {
	idx, err := freeIndex()
	if err != nil {
		return nil, err
	}
	m := &Machine{Name: o.Name, Index: idx, NodeAddress: fmt.Sprintf("10.201.%d.2", idx),
		APIPort: firstAPIPort + idx, DashboardPort: firstDashboardPort + idx,
		APIServerPort: o.Config.APIServer.Port, BinariesDir: o.BinariesDir, ImagesDir: o.ImagesDir, Binds: o.Binds, NoUp: o.NoUp, Created: time.Now().UTC()}
	cfg, err := machineConfig(m, o, out)
	if err != nil {
		return nil, err
	}
	rootfs := o.BaseRootfs
	if rootfs == "" {
		if rootfs, err = Rootfs(ctx, o.CacheDir, out); err != nil {
			return nil, err
		}
	}
	t := time.Now()
	if err := prepare(m, rootfs, o.Self, o.Front, cfg.Marshal()); err != nil {
		return nil, errors.Join(err, os.RemoveAll(m.Dir()))
	}
	fmt.Fprintf(out, "machine %s made in %s: %s\n", m.Name, time.Since(t).Round(100*time.Millisecond), m.Dir())
	return m, m.save()
}

// machineConfig is the cluster config the machine's `up` runs: o.Config with
// the machine's node, the binaries and bundle bound in, and no dashboard
// when its image is not in the bundle (the machine reaches no registry).
func machineConfig(m *Machine, o Options, out io.Writer) (*config.Cluster, error) {
	c := *o.Config
	c.Node.Name, c.Node.Address = m.Name, m.NodeAddress
	c.Binaries.Source, c.Binaries.Dir = "dir", mountBinaries
	c.Runtime.Source = "dir"
	c.Runtime.ImageBundle = ""
	if o.ImagesDir != "" {
		c.Runtime.ImageBundle = mountImages
	}
	if c.Dashboard.Kind != "none" {
		ui, _, err := dashboard.Of(c.Dashboard.Kind)
		if err != nil {
			return nil, err
		}
		ref := ui.Image
		if c.Dashboard.Image != "" {
			ref = c.Dashboard.Image
		}
		refs, err := images.BundleRefs(o.ImagesDir)
		if err != nil {
			return nil, err
		}
		if refs[ref] {
			m.DashboardNodePort = dashboard.NodePort
		} else {
			fmt.Fprintf(out, "notice: the dashboard's image %s is not in the image bundle (%s) and the machine reaches no registry: no dashboard (put its docker-archive tarball into the bundle dir for one)\n",
				ref, o.ImagesDir)
			c.Dashboard.Kind = "none"
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("the machine's cluster config: %w", err)
	}
	return &c, nil
}

// checkBaseRootfs refuses a --rootfs that no systemd could boot.
func checkBaseRootfs(dir string) error {
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("--rootfs %q: want an absolute path to a root file system (e.g. --rootfs /srv/rootfs)", dir)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("--rootfs %q is not a directory: give the root file system's dir (e.g. one debootstrap made), or leave the flag out for the cached one", dir)
	}
	for _, p := range []string{"lib/systemd/systemd", "bin/sh", "bin/mountpoint", "bin/ip"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			return fmt.Errorf("--rootfs %q has no /%s: a machine needs a Debian-like root file system with systemd, util-linux and iproute2 (leave the flag out for the cached one)", dir, p)
		}
	}
	return nil
}

// waitBooted waits for the machine's systemd to finish booting (running, or
// degraded: some unit failed) and returns how long that took.
func waitBooted(ctx context.Context, m *Machine, timeout time.Duration, out io.Writer) (time.Duration, error) {
	var state string
	return poll.Wait{What: "machine " + m.Name + "'s systemd to finish booting", Timeout: timeout, Interval: 250 * time.Millisecond, Say: poll.Lines(out, ""),
		Expired: func(string) error {
			return fmt.Errorf("machine %s: its systemd did not finish booting within %s (state %q): %s", m.Name, timeout, state, tail(filepath.Join(m.Dir(), "console.log"), 15))
		},
	}.Until(ctx, func(context.Context) (bool, string, error) {
		if !m.Running() {
			return false, "", fmt.Errorf("machine %s stopped while it booted: %s", m.Name, tail(filepath.Join(m.Dir(), "console.log"), 15))
		}
		cmd, err := m.Command("systemctl", "is-system-running")
		if err != nil {
			return false, "", nil // between nspawn's start and PID 1
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
		b, _ := cmd.Output()
		state = strings.TrimSpace(string(b))
		return state == "running" || state == "degraded", state, nil
	})
}

// freeIndex is the lowest index no machine has whose host ports are free.
func freeIndex() (int, error) {
	ms, err := List()
	if err != nil {
		return 0, err
	}
	taken := map[int]bool{}
	for _, m := range ms {
		taken[m.Index] = true
	}
	for i := 0; i < maxMachines; i++ {
		if !taken[i] && portFree(firstAPIPort+i) && portFree(firstDashboardPort+i) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no free machine slot: %d machines or their host ports (%d+, %d+) in use; remove one with: k8s-single machine down --name NAME --purge",
		maxMachines, firstAPIPort, firstDashboardPort)
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", loopback(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// ensureTools installs systemd-nspawn and debootstrap when the host lacks them.
func ensureTools(out io.Writer) error {
	var missing []string
	for tool, pkg := range map[string]string{"systemd-nspawn": "systemd-container", "debootstrap": "debootstrap", "nsenter": "util-linux"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(out, "installing what a machine needs: apt-get install %s\n", strings.Join(missing, " "))
	cmd := exec.Command("apt-get", append([]string{"install", "-y", "--no-install-recommends"}, missing...)...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get install %s: %v: %s (install them, then run k8s-single machine up again)", strings.Join(missing, " "), err, b)
	}
	return nil
}

// startForwarder runs `k8s-single machine forward` for the machine, detached,
// and waits for its API port to accept.
func startForwarder(m *Machine, self string) error {
	logf, err := os.OpenFile(filepath.Join(m.Dir(), "forward.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, "machine", "forward", "--name", m.Name)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the port forwarder: %w", err)
	}
	m.ForwarderPID = cmd.Process.Pid
	go cmd.Wait()
	if err := m.save(); err != nil {
		return err
	}
	_, err = poll.Wait{What: "the port forwarder", Timeout: 5 * time.Second, Interval: 100 * time.Millisecond,
		Expired: func(string) error {
			return fmt.Errorf("the port forwarder did not listen on %s: %s", loopback(m.APIPort), tail(filepath.Join(m.Dir(), "forward.log"), 5))
		},
	}.Until(context.Background(), func(context.Context) (bool, string, error) {
		c, err := net.Dial("tcp", loopback(m.APIPort))
		if err == nil {
			c.Close()
			return true, "", nil
		}
		if !alive(m.ForwarderPID) {
			return false, "", fmt.Errorf("the port forwarder exited: %s", tail(filepath.Join(m.Dir(), "forward.log"), 5))
		}
		return false, err.Error(), nil
	})
	return err
}

// followUp prints the machine's `up` output as it grows until its exit code
// is written, and fails with it.
func followUp(ctx context.Context, m *Machine, timeout time.Duration, out io.Writer) error {
	var offset int64
	follow := func() {
		f, err := os.Open(m.Path(upLog))
		if err != nil {
			return
		}
		defer f.Close()
		f.Seek(offset, io.SeekStart)
		r := bufio.NewReader(f)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // a partial line waits for its end
			}
			offset += int64(len(line))
			fmt.Fprint(out, "  | "+line)
		}
	}
	_, err := poll.Wait{What: "k8s-single up inside machine " + m.Name, Timeout: timeout, Interval: 250 * time.Millisecond,
		Expired: func(string) error {
			return fmt.Errorf("k8s-single up inside machine %s did not finish within %s", m.Name, timeout)
		},
	}.Until(ctx, func(context.Context) (bool, string, error) {
		follow()
		data, err := os.ReadFile(m.Path(upResult))
		if err != nil {
			if !m.Running() {
				return false, "", fmt.Errorf("machine %s stopped before its up finished: %s", m.Name, tail(filepath.Join(m.Dir(), "console.log"), 15))
			}
			return false, "", nil
		}
		follow()
		if rc, _ := strconv.Atoi(strings.TrimSpace(string(data))); rc != 0 {
			return false, "", fmt.Errorf("k8s-single up inside machine %s failed (exit %d): its output is above", m.Name, rc)
		}
		return true, "", nil
	})
	return err
}

// proveAgain waits, on a machine booted again, for every component to be
// healthy (the `up` at its boot found its phases done and does not wait for
// the daemons to start) and runs the verify phase again: the cluster that
// came back is proven end to end like a new one.
func proveAgain(ctx context.Context, m *Machine, timeout time.Duration, out io.Writer) error {
	var status strings.Builder
	took, err := poll.Wait{What: "every component of machine " + m.Name + " to be healthy (k8s-single status inside)",
		Timeout: timeout, Interval: 2 * time.Second, Say: poll.Lines(out, ""),
		Expired: func(string) error {
			return fmt.Errorf("machine %s: not every component healthy within %s:\n%s", m.Name, timeout, status.String())
		},
	}.Until(ctx, func(context.Context) (bool, string, error) {
		status.Reset()
		cmd, err := m.Command("k8s-single", "status")
		if err != nil {
			return false, "", err
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, &status, &status
		return cmd.Run() == nil, "", nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "every component healthy after %s; verifying the cluster again (k8s-single phase run verify)\n", took.Round(100*time.Millisecond))
	cmd, err := m.Command("k8s-single", "phase", "run", "verify")
	if err != nil {
		return err
	}
	pw := &prefixWriter{w: out, prefix: "  | "}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, pw, pw
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("machine %s: the verify phase failed after the boot (%v): its output is above", m.Name, err)
	}
	return nil
}

// prefixWriter writes each line with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !p.mid {
			io.WriteString(p.w, p.prefix)
		}
		io.WriteString(p.w, line)
		p.mid = !strings.HasSuffix(line, "\n")
	}
	return len(b), nil
}

// writeKubeconfig writes the machine's admin kubeconfig for the host: the
// server is the forwarded loopback port, the context is named after the
// machine, the file is 0600 and belongs to the user who ran sudo, if any.
func writeKubeconfig(m *Machine) error {
	kc, err := clientcmd.LoadFromFile(m.Path("/etc/kubernetes/admin.conf"))
	if err != nil {
		return fmt.Errorf("read the machine's admin kubeconfig: %w", err)
	}
	for _, c := range kc.Clusters {
		c.Server = "https://" + loopback(m.APIPort)
	}
	name := "k8s-single-" + m.Name
	if ctx, ok := kc.Contexts[kc.CurrentContext]; ok {
		delete(kc.Contexts, kc.CurrentContext)
		kc.Contexts[name] = ctx
		kc.CurrentContext = name
	}
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return err
	}
	home, uid, gid := invokingUser()
	path := filepath.Join(home, ".kube", name+".conf")
	if err := host.WriteFileAtomic(path, data, 0o600, 0o700); err != nil {
		return err
	}
	if uid >= 0 {
		os.Chown(filepath.Dir(path), uid, gid)
		os.Chown(path, uid, gid)
	}
	m.Kubeconfig = path
	return nil
}

// invokingUser is the home of the user behind sudo (with its IDs), else
// this process's home (IDs -1: nothing to change).
func invokingUser() (home string, uid, gid int) {
	if name := os.Getenv("SUDO_USER"); name != "" && name != "root" {
		if u, err := user.Lookup(name); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			return u.HomeDir, uid, gid
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return home, -1, -1
}

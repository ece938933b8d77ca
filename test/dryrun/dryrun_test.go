// Package dryrun drives the k8s-single binary the way a user does: `up
// --dry-run --root DIR` renders the whole install without root, re-runs are
// byte-for-byte no-ops, a changed node IP re-signs only the certs that carry
// it, and a run SIGKILLed at any write resumes to the same result.
package dryrun

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/k8s-single/k8s-single/internal/host"
	"github.com/k8s-single/k8s-single/internal/phases"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "k8s-single-bin-")
	if err != nil {
		panic(err)
	}
	// Both binaries, as `make build` makes them: every command here goes
	// through the front's hand-off to k8s-single-full.
	binary = filepath.Join(dir, "k8s-single")
	if out, err := exec.Command("go", "build", "-o", dir+"/", "../../cmd/k8s-single", "../../cmd/k8s-single-full").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build k8s-single: %v\n%s", err, out)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const testConfig = `apiVersion: k8s-single.dev/v1alpha1
kind: Cluster
node:
  name: test-node
  address: %s
`

// stage is one staging root and its config file, owned by an unprivileged
// user when the test runs as root (a dry run must not need root).
type stage struct {
	t    *testing.T
	root string
	cfg  string
}

func newStage(t *testing.T, nodeIP string) *stage {
	t.Helper()
	dir, err := os.MkdirTemp("", "k8s-single-stage-") // t.TempDir's parent is 0700: unreadable for nobody
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &stage{t: t, root: filepath.Join(dir, "root"), cfg: filepath.Join(dir, "cluster.yaml")}
	if err := os.Mkdir(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	s.setNodeIP(nodeIP)
	if os.Geteuid() == 0 {
		os.Chmod(dir, 0o755)
		for _, p := range []string{s.root, s.cfg} {
			if err := os.Chown(p, nobody, nobody); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s
}

// nobody is the uid and gid the dry runs use when the test runs as root.
const nobody = 65534

func (s *stage) setNodeIP(ip string) {
	if err := os.WriteFile(s.cfg, []byte(fmt.Sprintf(testConfig, ip)), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// up runs `k8s-single up --dry-run` with extra environment and returns its
// output and error.
func (s *stage) up(env ...string) (string, error) { return s.upWith(env) }

// upWith is up with more flags for `up`.
func (s *stage) upWith(env []string, flags ...string) (string, error) {
	cmd := exec.Command(binary, append([]string{"up", "--dry-run", "--root", s.root, "-c", s.cfg}, flags...)...)
	cmd.Env = append(os.Environ(), env...)
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *stage) mustUp() string {
	s.t.Helper()
	out, err := s.up()
	if err != nil {
		s.t.Fatalf("up --dry-run: %v\n%s", err, out)
	}
	return out
}

// tree maps every file under the root (but the journal and its lock) to
// "mode sha256".
func (s *stage) tree() map[string]string {
	s.t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		if strings.HasPrefix(rel, "var/lib/k8s-single/") {
			return nil
		}
		sum, mode, err := host.FileDigest(p)
		files[rel] = fmt.Sprintf("%04o %s", mode, sum)
		return err
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return files
}

func (s *stage) certFingerprint(name string) string {
	s.t.Helper()
	data, err := os.ReadFile(filepath.Join(s.root, "etc/kubernetes/pki", name+".crt"))
	if err != nil {
		s.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// wantFiles are files a full render must produce, with their modes.
var wantFiles = map[string]string{
	"etc/kubernetes/pki/ca.crt":                          "0644",
	"etc/kubernetes/pki/ca.key":                          "0600",
	"etc/kubernetes/pki/etcd/ca.key":                     "0600",
	"etc/kubernetes/pki/apiserver.crt":                   "0644",
	"etc/kubernetes/pki/sa.key":                          "0600",
	"etc/kubernetes/admin.conf":                          "0600",
	"etc/kubernetes/super-admin.conf":                    "0600",
	"etc/kubernetes/kubelet.conf":                        "0600",
	"etc/kubernetes/encryption-config.yaml":              "0600",
	"etc/kubernetes/audit-policy.yaml":                   "0644",
	"etc/kubernetes/admission-config.yaml":               "0644",
	"etc/cni/net.d/10-k8s-single.conflist":               "0600",
	"etc/systemd/system/etcd.service":                    "0600",
	"etc/systemd/system/kube-apiserver.service":          "0600",
	"etc/systemd/system/kube-scheduler.service":          "0600",
	"etc/systemd/system/kube-controller-manager.service": "0600",
}

func TestDryRunRendersTheWholeInstallWithoutRoot(t *testing.T) {
	s := newStage(t, "192.168.56.10")
	out := s.mustUp()
	for _, w := range []string{"would enable and start etcd.service", "would enable and start kube-apiserver.service", "would put 8 binaries"} {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
	tree := s.tree()
	for f, mode := range wantFiles {
		got, ok := tree[f]
		if !ok {
			t.Errorf("%s was not rendered", f)
		} else if !strings.HasPrefix(got, mode) {
			t.Errorf("%s has mode %s, want %s", f, got[:4], mode)
		}
	}
	for _, dir := range []string{"etc/kubernetes/pki", "etc/kubernetes/pki/etcd"} {
		st, err := os.Stat(filepath.Join(s.root, dir))
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", dir, st.Mode().Perm(), err)
		}
	}
}

func TestRerunKeepsEveryByte(t *testing.T) {
	s := newStage(t, "192.168.56.10")
	s.mustUp()
	before, ca := s.tree(), s.certFingerprint("ca")
	out := s.mustUp()
	if !strings.Contains(out, "0 ran") {
		t.Errorf("second run was not a no-op:\n%s", out)
	}
	assertSameTree(t, before, s.tree())
	if s.certFingerprint("ca") != ca {
		t.Errorf("CA fingerprint changed")
	}
}

func TestNodeIPChangeResignsOnlyTheCertsThatCarryIt(t *testing.T) {
	s := newStage(t, "192.168.56.10")
	s.mustUp()
	before := s.tree()
	s.setNodeIP("192.168.56.20")
	s.mustUp()
	after := s.tree()
	var changed []string
	for f, v := range after {
		if strings.HasPrefix(f, "etc/kubernetes/pki/") && strings.HasSuffix(f, ".crt") && before[f] != v {
			changed = append(changed, strings.TrimSuffix(strings.TrimPrefix(f, "etc/kubernetes/pki/"), ".crt"))
		}
	}
	sort.Strings(changed)
	if got := strings.Join(changed, " "); got != "apiserver dashboard etcd/peer etcd/server kubelet" {
		t.Errorf("re-signed certs = %q, want exactly those with the node IP in their SANs: apiserver dashboard etcd/peer etcd/server kubelet", got)
	}
}

// TestKilledRunResumes SIGKILLs a run at several writes (right after a write,
// and between a temp file and its rename), re-runs it, and wants the same
// install as an uninterrupted run: the same files and modes, the same bytes
// where content is deterministic, every cert chaining to the CA left on disk,
// and no temp file left over. The phases run as a graph, several at once:
// the kills inside concurrentKills land while two or more phases run, and
// at least one of them must find two recorded as running.
func TestKilledRunResumes(t *testing.T) {
	ref := newStage(t, "192.168.56.10")
	ref.mustUp()
	refTree := ref.tree()
	concurrent := 0
	points := []string{"after-write:1", "before-rename:2", "after-write:7", "before-rename:20", "after-write:38", "before-rename:45", "after-write:52"}
	for _, fp := range append(points, concurrentKills...) {
		t.Run(fp, func(t *testing.T) {
			s := newStage(t, "192.168.56.10")
			out, err := s.up("K8S_SINGLE_FAILPOINT=" + fp)
			var exit *exec.ExitError
			if err == nil || !asExit(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("run with failpoint %s was not killed: %v\n%s", fp, err, out)
			}
			if running := s.running(); len(running) > 1 {
				concurrent++
				t.Logf("killed while %s ran at once", strings.Join(running, " and "))
			}
			s.mustUp()
			got := s.tree()
			assertSameFiles(t, refTree, got)
			for f := range got {
				if strings.Contains(filepath.Base(f), ".tmp-") {
					t.Errorf("temp file left: %s", f)
				}
				if strings.HasSuffix(f, ".service") || strings.HasSuffix(f, "audit-policy.yaml") {
					if got[f] != refTree[f] {
						t.Errorf("%s differs from the uninterrupted run", f)
					}
				}
			}
			assertChainsVerify(t, s.root)
			if out := s.mustUp(); !strings.Contains(out, "0 ran") {
				t.Errorf("run after the resumed one was not a no-op:\n%s", out)
			}
		})
	}
	if concurrent == 0 {
		t.Errorf("no kill landed while two phases ran at once (kill points %v)", concurrentKills)
	}
}

// concurrentKills are writes of phases that run beside another: the
// runtime's CNI config while certs makes the PKI, and the serving keys of
// the addons and dashboard phases, which run side by side.
var concurrentKills = []string{"after-write:net.d/10-k8s-single.conflist", "after-write:pki/metrics-server.key", "after-write:pki/dashboard.key"}

// running lists the phases the journal records as running.
func (s *stage) running() []string {
	s.t.Helper()
	j, err := phases.LoadJournal(host.Root(s.root))
	if err != nil {
		s.t.Fatal(err)
	}
	var names []string
	for name, rec := range j.Phases {
		if rec.Status == phases.Running {
			names = append(names, string(name))
		}
	}
	sort.Strings(names)
	return names
}

func asExit(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*target = e
	return ok
}

func assertSameTree(t *testing.T, want, got map[string]string) {
	t.Helper()
	assertSameFiles(t, want, got)
	for f, v := range want {
		if got[f] != v {
			t.Errorf("%s changed", f)
		}
	}
}

func assertSameFiles(t *testing.T, want, got map[string]string) {
	t.Helper()
	for f, v := range want {
		g, ok := got[f]
		if !ok {
			t.Errorf("%s missing", f)
		} else if g[:4] != v[:4] {
			t.Errorf("%s has mode %s, want %s", f, g[:4], v[:4])
		}
	}
	for f := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("unexpected file %s", f)
		}
	}
}

// assertChainsVerify checks every leaf certificate against the CAs on disk.
func assertChainsVerify(t *testing.T, root string) {
	t.Helper()
	pool := map[string]*x509.CertPool{}
	for _, ca := range []string{"ca", "front-proxy-ca", "etcd/ca"} {
		pool[ca] = x509.NewCertPool()
		pool[ca].AddCert(readCert(t, root, ca))
	}
	leaves, _ := filepath.Glob(filepath.Join(root, "etc/kubernetes/pki/*.crt"))
	more, _ := filepath.Glob(filepath.Join(root, "etc/kubernetes/pki/etcd/*.crt"))
	for _, p := range append(leaves, more...) {
		rel := strings.TrimSuffix(strings.TrimPrefix(p, filepath.Join(root, "etc/kubernetes/pki")+"/"), ".crt")
		if _, isCA := pool[rel]; isCA {
			continue
		}
		cert := readCert(t, root, rel)
		verified := false
		for _, pl := range pool {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: pl, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
				verified = true
			}
		}
		if !verified {
			t.Errorf("%s does not chain to any CA on disk", rel)
		}
	}
}

func readCert(t *testing.T, root, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "etc/kubernetes/pki", name+".crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestKillBetweenCAKeyAndCertResumes: a run killed right after writing the
// CA's key (its certificate not yet written, nothing recorded) resumes by
// making the CA anew, not by asking the user to delete the key.
func TestKillBetweenCAKeyAndCertResumes(t *testing.T) {
	s := newStage(t, "192.168.56.10")
	out, err := s.up("K8S_SINGLE_FAILPOINT=after-write:pki/ca.key")
	var exit *exec.ExitError
	if err == nil || !asExit(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("run was not killed after writing ca.key: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(s.root, "etc/kubernetes/pki/ca.crt")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ca.crt exists after the kill (%v): the failpoint did not land between key and certificate", err)
	}
	s.mustUp()
	assertChainsVerify(t, s.root)
}

// TestRecordedIrreplaceablesAreNeverMadeAnew: once an install recorded its
// CA and its Secrets' encryption key, deleting both CA files or emptying or
// deleting the encryption config stops up with the way out, and writes no
// new CA or key; restoring the files lets up go on.
func TestRecordedIrreplaceablesAreNeverMadeAnew(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []string
		breakIt func(p string) error
		says    string
	}{
		{"CA deleted", []string{"etc/kubernetes/pki/ca.crt", "etc/kubernetes/pki/ca.key"}, os.Remove, "is missing"},
		{"encryption key emptied", []string{"etc/kubernetes/encryption-config.yaml"}, func(p string) error { return os.Truncate(p, 0) }, "is empty"},
		{"encryption key deleted", []string{"etc/kubernetes/encryption-config.yaml"}, os.Remove, "is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStage(t, "192.168.56.10")
			s.mustUp()
			saved := map[string][]byte{}
			for _, f := range tc.files {
				p := filepath.Join(s.root, f)
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				saved[p] = data
				if err := tc.breakIt(p); err != nil {
					t.Fatal(err)
				}
			}
			out, err := s.up()
			if err == nil {
				t.Fatalf("up after %s succeeded:\n%s", tc.name, out)
			}
			for _, want := range []string{tc.says, "will not make it anew", "Restore the file from a backup", "reset --purge"} {
				if !strings.Contains(out, want) {
					t.Errorf("up's output does not say %q:\n%s", want, out)
				}
			}
			for p := range saved {
				if st, err := os.Stat(p); err == nil && st.Size() > 0 {
					t.Errorf("%s was made anew", p)
				}
			}
			for p, data := range saved {
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				if os.Geteuid() == 0 {
					os.Chown(p, nobody, nobody)
				}
			}
			if strings.HasSuffix(tc.files[0], "ca.crt") {
				os.Chmod(filepath.Join(s.root, tc.files[0]), 0o644)
			}
			s.mustUp()
		})
	}
}

// TestModeDriftIsRepaired: a key chmod-ed 0644 and the pki dir chmod-ed
// 0755 show as drift in `phase list`; up puts back 0600 and 0700 and the
// journal keeps recording 0600 and 0700.
func TestModeDriftIsRepaired(t *testing.T) {
	s := newStage(t, "192.168.56.10")
	s.mustUp()
	key, dir := filepath.Join(s.root, "etc/kubernetes/pki/ca.key"), filepath.Join(s.root, "etc/kubernetes/pki")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "phase", "list", "--root", s.root, "-c", s.cfg)
	list, _ := cmd.CombinedOutput()
	if !strings.Contains(string(list), "/etc/kubernetes/pki") || !strings.Contains(string(list), "want 0") {
		t.Errorf("phase list does not show the mode drift:\n%s", list)
	}
	out := s.mustUp()
	for p, want := range map[string]os.FileMode{key: 0o600, dir: 0o700} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v after up, want %04o\n%s", p, st.Mode().Perm(), want, out)
		}
	}
	j, err := phases.LoadJournal(host.Root(s.root))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range j.Phases["certs"].Artifacts {
		if want := map[string]string{"/etc/kubernetes/pki/ca.key": "0600", "/etc/kubernetes/pki": "0700"}[a.Path]; want != "" && a.Mode != want {
			t.Errorf("the journal records %s with mode %s, want %s", a.Path, a.Mode, want)
		}
	}
	if out := s.mustUp(); !strings.Contains(out, "0 ran") {
		t.Errorf("the run after the repair was not a no-op:\n%s", out)
	}
}

// TestKilledForcedRunKeepsTheCA: a forced re-run of an installed tree killed
// at any of several writes resumes to the same files, and the CA (and the
// etcd CA) keep their fingerprints: nothing irreplaceable is made anew.
func TestKilledForcedRunKeepsTheCA(t *testing.T) {
	s := newStage(t, "192.168.56.10")
	s.mustUp()
	ca, etcdCA := s.certFingerprint("ca"), s.certFingerprint("etcd/ca")
	before := s.tree()
	for _, fp := range []string{"after-write:3", "before-rename:9", "after-write:20", "after-write:30"} {
		out, err := s.upWith([]string{"K8S_SINGLE_FAILPOINT=" + fp}, "--force")
		var exit *exec.ExitError
		if err == nil || !asExit(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("forced run with failpoint %s was not killed: %v\n%s", fp, err, out)
		}
		s.mustUp()
		if s.certFingerprint("ca") != ca || s.certFingerprint("etcd/ca") != etcdCA {
			t.Fatalf("after a kill at %s the CA changed", fp)
		}
		assertSameTree(t, before, s.tree())
	}
}

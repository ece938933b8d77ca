package units

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/config/configtest"
	"github.com/k8s-single/k8s-single/internal/golden"
)

// helpFlagRE matches a flag's definition in --help output: Kubernetes'
// "      --secure-port int" or "  -v, --v Level", etcd's "  --name 'default'".
var helpFlagRE = regexp.MustCompile(`^\s+(?:-[a-zA-Z], )?--([a-z0-9][a-z0-9-]*)`)

// keptDeprecated are deprecated flags we still pass, and why.
var keptDeprecated = map[string]string{
	// Deprecated in favour of a KubeSchedulerConfiguration file, but kubeadm
	// still passes them and kube-bench (CIS 1.4.1) reads --profiling from the
	// command line.
	"kube-scheduler --kubeconfig": "kubeadm parity",
	"kube-scheduler --profiling":  "CIS 1.4.1 is checked on the command line",
}

// helpRelease is a release whose flags the units must fit: the default
// one, and the one before it that an upgrade starts from (the upgrade
// tier's test/smoke/upgrade-from.yaml).
type helpRelease struct{ kubernetes, etcd string }

var helpReleases = []helpRelease{{"v1.37.2", "v3.7.3"}, {"v1.36.3", "v3.6.16"}}

func (r helpRelease) String() string { return "kubernetes-" + r.kubernetes + "-etcd-" + r.etcd }

// helpListPath is the flag list a binary's --help printed, one name a line
// ("name deprecated" when its help says so), kept in testdata so the check
// runs where the binaries are absent.
func helpListPath(r helpRelease, binary string) string {
	return filepath.Join("testdata", "help", r.String(), binary+".flags")
}

// TestFlagsExistInHelp checks every flag of every component against the flags
// the real binary's --help lists, in each of helpReleases (an upgrade must not
// pass a flag the new release removed, nor a rollback one the old release
// lacks), and refuses deprecated ones unless keptDeprecated says why: against
// the stored list always, against the live binary when one is present.
// -update rewrites the stored list from a present binary.
func TestFlagsExistInHelp(t *testing.T) {
	for _, r := range helpReleases {
		for _, comp := range Components(configtest.Cluster(t), Host{}) {
			t.Run(r.String()+"/"+comp.Name, func(t *testing.T) {
				bin := findBinary(r, comp.Name)
				if golden.Updating() && bin != "" {
					writeHelpList(t, r, comp.Name, liveHelpFlags(t, bin))
				}
				t.Run("stored", func(t *testing.T) {
					checkFlags(t, comp, storedHelpFlags(t, r, comp.Name))
				})
				t.Run("live", func(t *testing.T) {
					if bin == "" {
						t.Skipf("no %s binary in %v", comp.Name, dirsFor(r, comp.Name))
					}
					checkFlags(t, comp, liveHelpFlags(t, bin))
				})
			})
		}
	}
}

// checkFlags checks comp's flags against help (flag name -> deprecated).
func checkFlags(t *testing.T, comp Component, help map[string]bool) {
	t.Helper()
	for _, a := range comp.Args[1:] {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		deprecated, ok := help[name]
		switch {
		case !ok:
			t.Errorf("--%s is not a flag of %s --help", name, comp.Name)
		case deprecated && keptDeprecated[comp.Name+" --"+name] == "":
			t.Errorf("--%s is deprecated in %s --help: move it to the config file, or say in keptDeprecated why it stays", name, comp.Name)
		}
	}
}

// dirsFor lists where a real binary of the release may be while tests run:
// its release dir on a node, and the source build's output on a build machine.
func dirsFor(r helpRelease, binary string) []string {
	build := "/var/cache/k8s-single/work/kubernetes-" + r.kubernetes + "/bin"
	if binary == "etcd" {
		build = "/var/cache/k8s-single/work/etcd-" + r.etcd + "/bin"
	}
	return []string{"/opt/kubernetes/bin/.versions/" + r.String(), build}
}

func findBinary(r helpRelease, name string) string {
	for _, dir := range dirsFor(r, name) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// liveHelpFlags runs `binary --help` and returns its flags, each marked
// deprecated when a line of its description says so. Unindented lines are
// section headings ("Deprecated flags:") and end the current flag.
func liveHelpFlags(t *testing.T, bin string) map[string]bool {
	t.Helper()
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", bin, err, out)
	}
	flags := map[string]bool{}
	current := ""
	for _, line := range strings.Split(string(out), "\n") {
		if m := helpFlagRE.FindStringSubmatch(line); m != nil {
			current = m[1]
			if _, seen := flags[current]; !seen {
				flags[current] = false
			}
		} else if line != "" && line[0] != ' ' && line[0] != '\t' {
			current = ""
		}
		if current != "" && strings.Contains(strings.ToLower(line), "deprecated") {
			flags[current] = true
		}
	}
	if len(flags) < 10 {
		t.Fatalf("%s --help lists only %d flags; is the pattern out of date?\n%s", bin, len(flags), out)
	}
	return flags
}

func storedHelpFlags(t *testing.T, r helpRelease, binary string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(helpListPath(r, binary))
	if err != nil {
		t.Fatalf("%v (run go test ./internal/units -update where the binaries are built)", err)
	}
	flags := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			name, mark, _ := strings.Cut(line, " ")
			flags[name] = mark == "deprecated"
		}
	}
	return flags
}

func writeHelpList(t *testing.T, r helpRelease, binary string, flags map[string]bool) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Flags listed by `" + binary + " --help` of " + r.String() + "; regenerated by go test ./internal/units -update\n")
	for _, name := range slices.Sorted(maps.Keys(flags)) {
		b.WriteString(name)
		if flags[name] {
			b.WriteString(" deprecated")
		}
		b.WriteString("\n")
	}
	if err := os.MkdirAll(filepath.Dir(helpListPath(r, binary)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(helpListPath(r, binary), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

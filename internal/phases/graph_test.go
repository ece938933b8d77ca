package phases

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k8s-single/k8s-single/internal/config"
	"github.com/k8s-single/k8s-single/internal/host"
)

func TestCheckGraph(t *testing.T) {
	p := func(name Name, deps ...Name) Phase { return Phase{Name: name, DependsOn: deps} }
	for _, tc := range []struct {
		name   string
		phases []Phase
		says   string
	}{
		{"a graph", []Phase{p("a"), p("b", "a"), p("c", "a"), p("d", "b", "c")}, ""},
		{"unknown", []Phase{p("a"), p("b", "nope")}, `phase b depends on "nope", which is not a phase`},
		{"itself", []Phase{p("a", "a")}, "phase a depends on itself"},
		{"cycle", []Phase{p("a", "c"), p("b", "a"), p("c", "b")}, "phase a depends on c, which comes after it"},
		{"after a later one", []Phase{{Name: "a", After: []Name{"b"}}, p("b")}, "phase a depends on b, which comes after it"},
		{"twice", []Phase{p("a"), p("a")}, "phases 1 and 2 are both named a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckGraph(tc.phases)
			if (err == nil) != (tc.says == "") || (err != nil && !strings.Contains(err.Error(), tc.says)) {
				t.Errorf("CheckGraph = %v, want %q", err, tc.says)
			}
		})
	}
}

// rendezvous makes Start of each named phase wait until all of them have
// started: it returns only if they run at once.
func rendezvous(r *Runner, names ...Name) {
	arrived := make(chan Name, len(names))
	all := make(chan struct{})
	go func() {
		for range names {
			<-arrived
		}
		close(all)
	}()
	for i := range r.Phases {
		p := &r.Phases[i]
		if !slices.Contains(names, p.Name) {
			continue
		}
		start, name := p.Start, p.Name
		p.Start = func(c *Context) error {
			arrived <- name
			select {
			case <-all:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("%s waited 10s for the others of %v: they do not run at once", name, names)
			}
			return start(c)
		}
	}
}

// diamond is a -> (b, c) -> d.
func (f *fakeInstall) diamond() *Runner {
	r := f.runner()
	f.content["d"] = "D"
	r.Phases = []Phase{f.phase("a"), f.phase("b", "a"), f.phase("c", "a"), f.phase("d", "b", "c")}
	return r
}

func TestIndependentPhasesRunAtOnce(t *testing.T) {
	f := newFakeInstall(t)
	r := f.diamond()
	rendezvous(r, "b", "c")
	var out bytes.Buffer
	r.Out = &out
	r.Phases[1].Verify = func(c *Context) error {
		for i := range 50 {
			c.Printf("b says %d", i)
		}
		return nil
	}
	outs, err := r.Up(context.Background(), &config.Cluster{}, Options{})
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out.String())
	}
	want(t, actions(outs), "a=ran b=ran c=ran d=ran")
	// Every line is the runner's or carries its phase's name, whole.
	line := regexp.MustCompile(`^(\[\d/4\] [a-d]: .*|  b \| b says \d+)$`)
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if !line.MatchString(l) {
			t.Errorf("line %q is neither the runner's nor b's", l)
		}
		n += strings.Count(l, "b says")
	}
	if n != 50 {
		t.Errorf("%d of b's 50 lines printed:\n%s", n, out.String())
	}
	// The serial order is the list's, one phase at a time (no rendezvous).
	f2 := newFakeInstall(t)
	r2 := f2.diamond()
	if _, err := r2.Up(context.Background(), &config.Cluster{}, Options{Serial: true}); err != nil {
		t.Fatal(err)
	}
	want(t, f2.calls, "render a start a render b start b render c start c render d start d")
}

// TestFailureStopsTheGraphAndResumes: b fails while c, beside it, is still
// running: c ends on its own (done), d (after b and c) and e (after c, but
// not yet started) do not start, and the error names b. The re-run resumes
// at b and runs the rest.
func TestFailureStopsTheGraphAndResumes(t *testing.T) {
	f := newFakeInstall(t)
	r := f.diamond()
	f.content["e"] = "E"
	r.Phases = append(r.Phases, f.phase("e", "c"))
	f.failOn = "b"
	cStarted, bFailed := make(chan struct{}), make(chan struct{})
	r.Phases[1].Start = func(*Context) error {
		<-cStarted
		f.call("start", "b")
		defer close(bFailed)
		return errors.New("boom")
	}
	r.Phases[2].Start = func(*Context) error {
		close(cStarted)
		<-bFailed
		time.Sleep(50 * time.Millisecond) // the runner has seen b fail
		f.call("start", "c")
		return nil
	}
	outs, err := r.Up(context.Background(), &config.Cluster{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "phase b: boom") {
		t.Fatalf("want phase b to fail, got %v", err)
	}
	want(t, actions(outs), "a=ran b=failed c=ran")
	states, err := r.States()
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []Status{Done, Failed, Done, Pending, Pending} {
		if states[i].Status != w {
			t.Errorf("%s is %s after the failure, want %s", states[i].Name, states[i].Status, w)
		}
	}
	f.failOn = ""
	r2 := f.diamond()
	r2.Phases = append(r2.Phases, f.phase("e", "c"))
	f.calls = nil
	outs, err = r2.Up(context.Background(), &config.Cluster{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, actions(outs), "a=skipped b=ran c=skipped d=ran e=ran")
}

// TestFailsAloneStopsOnlyItsDependents: when b, which fails alone, fails,
// c and e (which do not need b) still run and d (after b) does not, in the
// graph and in a serial run; the run still fails naming b, and the re-run
// resumes at b.
func TestFailsAloneStopsOnlyItsDependents(t *testing.T) {
	for _, serial := range []bool{false, true} {
		f := newFakeInstall(t)
		f.content["e"] = "E"
		r := f.diamond()
		r.Phases = append(r.Phases, f.phase("e", "c"))
		r.Phases[1].FailsAlone = true
		f.failOn = "b"
		outs, err := r.Up(context.Background(), &config.Cluster{}, Options{Serial: serial})
		if err == nil || !strings.Contains(err.Error(), "phase b: boom") {
			t.Fatalf("serial %v: want phase b to fail, got %v", serial, err)
		}
		want(t, actions(outs), "a=ran b=failed c=ran e=ran")
		f.failOn = ""
		r.Out = io.Discard
		outs, err = r.Up(context.Background(), &config.Cluster{}, Options{Serial: serial})
		if err != nil {
			t.Fatal(err)
		}
		want(t, actions(outs), "a=skipped b=ran c=skipped d=ran e=skipped")
	}
}

// TestAfterOrdersWithoutNeeding: a phase After another waits for it in the
// same up, but neither hashes its outputs nor needs it to have run.
func TestAfterOrdersWithoutNeeding(t *testing.T) {
	f := newFakeInstall(t)
	r := f.runner()
	r.Phases = []Phase{f.phase("a"), f.phase("b"), f.phase("c")}
	r.Phases[1].After = []Name{"a"}
	r.Phases[2].After = []Name{"a"}
	r.Phases[0].Start = func(*Context) error {
		time.Sleep(50 * time.Millisecond)
		f.call("start", "a")
		return nil
	}
	if _, err := r.Up(context.Background(), &config.Cluster{}, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.calls[:2], " "); got != "render a start a" {
		t.Errorf("calls %v: b or c started before a, which they run after", f.calls)
	}
	f2 := newFakeInstall(t)
	r2 := f2.runner()
	r2.Phases = r.Phases
	r2.Root = f2.root
	if _, err := r2.Up(context.Background(), &config.Cluster{}, Options{Only: "b"}); err != nil {
		t.Errorf("phase run b on a fresh root: %v (After needs nothing to have run)", err)
	}
}

// killEnv makes the test binary the helper of TestKilledConcurrentRunResumes.
const killEnv = "PHASES_TEST_KILL_ROOT"

func TestMain(m *testing.M) {
	if root := os.Getenv(killEnv); root != "" {
		killedRun(root)
		return
	}
	os.Exit(m.Run())
}

// killedRun runs the diamond under root and SIGKILLs itself once b and c
// are both in their Start, their files written and recorded.
func killedRun(root string) {
	f := &fakeInstall{root: host.Root(root), content: map[Name]string{"a": "A", "b": "B", "c": "C"}}
	r := f.diamond()
	rendezvous(r, "b", "c")
	for _, i := range []int{1, 2} {
		start := r.Phases[i].Start
		r.Phases[i].Start = func(c *Context) error {
			if err := start(c); err != nil {
				return err
			}
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	r.Up(context.Background(), &config.Cluster{}, Options{})
	os.Exit(3) // not reached
}

// TestKilledConcurrentRunResumes: a run SIGKILLed while two phases run at
// once leaves both recorded as running with their files; the re-run
// resumes both and ends where an uninterrupted run does.
func TestKilledConcurrentRunResumes(t *testing.T) {
	ref := newFakeInstall(t)
	if _, err := ref.diamond().Up(context.Background(), &config.Cluster{}, Options{}); err != nil {
		t.Fatal(err)
	}
	f := newFakeInstall(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killEnv+"="+string(f.root))
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the helper was not killed: %v\n%s", err, out)
	}
	j, err := LoadJournal(f.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []Name{"b", "c"} {
		if rec := j.Phases[n]; rec == nil || rec.Status != Running || len(rec.Artifacts) != 1 {
			t.Fatalf("after the kill %s is %+v, want running with its file recorded", n, rec)
		}
	}
	outs, err := f.diamond().Up(context.Background(), &config.Cluster{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, actions(outs), "a=skipped b=ran c=ran d=ran")
	jr, _ := LoadJournal(ref.root)
	j, _ = LoadJournal(f.root)
	for _, n := range []Name{"a", "b", "c", "d"} {
		if j.Phases[n].Status != Done || j.Phases[n].InputHash != jr.Phases[n].InputHash {
			t.Errorf("%s after the resume: %s %s, want done %s as uninterrupted", n, j.Phases[n].Status, j.Phases[n].InputHash, jr.Phases[n].InputHash)
		}
	}
}

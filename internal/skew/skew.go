// Package skew holds the version rules an upgrade (or downgrade) must obey
// before anything on the node is touched: one minor version at a time, no
// downgrade except a patch release when asked for, the same for etcd. It
// knows versions only: what is installed and what the config asks for come
// from its callers.
package skew

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"
)

// Step is one binary moving from its installed version to the configured one.
type Step struct {
	// Binary is the binary's name (kube-apiserver, etcd...).
	Binary string `json:"binary"`
	// From is the installed version ("" when the binary is not installed yet).
	From string `json:"from"`
	// To is the version the config asks for.
	To string `json:"to"`
}

// Changes reports whether the step installs or replaces the binary.
func (s Step) Changes() bool { return s.From != s.To }

// Kind says what the step is: install, upgrade, downgrade or none.
func (s Step) Kind() string {
	switch {
	case s.From == "":
		return "install"
	case s.From == s.To:
		return "none"
	}
	from, errF := version.ParseSemantic(s.From)
	to, errT := version.ParseSemantic(s.To)
	if errF == nil && errT == nil && to.LessThan(from) {
		return "downgrade"
	}
	return "upgrade"
}

// RefusedError is a step the rules do not allow, with the rule and the way on.
type RefusedError struct {
	Step Step
	// Rule names the rule the step breaks.
	Rule string
	// Next is what the user can do instead.
	Next string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s %s -> %s refused: %s; %s", e.Step.Binary, e.Step.From, e.Step.To, e.Rule, e.Next)
}

// Options relax the rules.
type Options struct {
	// AllowDowngrade allows going back to an older patch release of the same
	// minor version (whose data format is the same).
	AllowDowngrade bool
}

// Check returns a *RefusedError for the first step the rules refuse, or nil.
// The rules: the major version never changes; a minor version is never
// skipped (v1.36 -> v1.38 must go through v1.37, as kubeadm and etcd
// require); never a downgrade, except to an older patch of the same minor
// with AllowDowngrade.
func Check(steps []Step, opts Options) error {
	for _, s := range steps {
		if err := check(s, opts); err != nil {
			return err
		}
	}
	return nil
}

func check(s Step, opts Options) error {
	if s.From == "" || s.From == s.To {
		return nil
	}
	from, err := version.ParseSemantic(s.From)
	if err != nil {
		return fmt.Errorf("%s: installed version %q: %w", s.Binary, s.From, err)
	}
	to, err := version.ParseSemantic(s.To)
	if err != nil {
		return fmt.Errorf("%s: configured version %q: %w", s.Binary, s.To, err)
	}
	refuse := func(rule, next string, args ...any) error {
		return &RefusedError{Step: s, Rule: rule, Next: fmt.Sprintf(next, args...)}
	}
	switch {
	case to.Major() != from.Major():
		return refuse("the major version never changes in place",
			"set the version back to v%d.%d.x", from.Major(), from.Minor())
	case to.LessThan(from) && to.Minor() != from.Minor():
		return refuse("no downgrade to an older minor version (its data and APIs may have moved on)",
			"set the version back to %s, or return to a backup taken before the upgrade with `k8s-single upgrade rollback`", s.From)
	case to.LessThan(from) && !opts.AllowDowngrade:
		return refuse("no downgrade unless asked for",
			"a patch downgrade within v%d.%d is allowed with --allow-downgrade", from.Major(), from.Minor())
	case to.Minor() > from.Minor()+1:
		return refuse("one minor version at a time",
			"upgrade to v%d.%d.x first (any patch), then to %s", from.Major(), from.Minor()+1, s.To)
	}
	return nil
}

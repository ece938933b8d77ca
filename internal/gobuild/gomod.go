package gobuild

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// GoMod is the part of a go.mod a wrapper module cares about. ParseGoMod reads
// it from any go.mod (other directives are skipped); Format writes a wrapper's.
type GoMod struct {
	Module  string
	Go      string
	Require []ModVersion
	Replace []Replacement
}

// ModVersion is a module path with a version; Version is empty for a local
// directory (./staging/src/k8s.io/api) or an unversioned replace's left side.
type ModVersion struct {
	Path, Version string
}

// String is the path and version as a go.mod spells them: "path version".
func (m ModVersion) String() string {
	if m.Version == "" {
		return m.Path
	}
	return m.Path + " " + m.Version
}

// Replacement is one replace directive: Old => New.
type Replacement struct {
	Old, New ModVersion
}

// String is the replace directive's arguments: "old [version] => new [version]".
func (r Replacement) String() string { return r.Old.String() + " => " + r.New.String() }

// ParseGoMod reads the module, go, require and replace directives of a go.mod,
// in single-line and block form; comments (// indirect among them) are dropped.
func ParseGoMod(data []byte) (GoMod, error) {
	var m GoMod
	block := ""
	for i, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "//")
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
			continue
		case block != "" && f[0] == ")":
			block = ""
			continue
		case block == "" && len(f) == 2 && f[1] == "(":
			block = f[0]
			continue
		}
		verb, args := block, f
		if block == "" {
			verb, args = f[0], f[1:]
		}
		if err := m.add(verb, args); err != nil {
			return GoMod{}, fmt.Errorf("go.mod line %d: %w", i+1, err)
		}
	}
	return m, nil
}

// add records one directive; the ones the wrappers do not use (godebug,
// toolchain, exclude, retract...) are skipped.
func (m *GoMod) add(verb string, args []string) error {
	switch verb {
	case "module", "go":
		if len(args) != 1 {
			return fmt.Errorf("%s wants one argument, has %q", verb, args)
		}
		if verb == "module" {
			m.Module = args[0]
		} else {
			m.Go = args[0]
		}
	case "require":
		if len(args) != 2 {
			return fmt.Errorf("require wants a path and a version, has %q", args)
		}
		m.Require = append(m.Require, ModVersion{args[0], args[1]})
	case "replace":
		r, err := parseReplacement(args)
		if err != nil {
			return err
		}
		m.Replace = append(m.Replace, r)
	}
	return nil
}

// parseReplacement reads "old [version] => new [version]".
func parseReplacement(args []string) (Replacement, error) {
	i := slices.Index(args, "=>")
	if i < 0 {
		return Replacement{}, fmt.Errorf("replace wants old [version] => new [version], has %q", args)
	}
	old, err := parseModVersion(args[:i])
	if err != nil {
		return Replacement{}, fmt.Errorf("replace %q: %w", args, err)
	}
	repl, err := parseModVersion(args[i+1:])
	if err != nil {
		return Replacement{}, fmt.Errorf("replace %q: %w", args, err)
	}
	return Replacement{Old: old, New: repl}, nil
}

// parseModVersion reads "path" or "path version".
func parseModVersion(f []string) (ModVersion, error) {
	switch len(f) {
	case 1:
		return ModVersion{Path: f[0]}, nil
	case 2:
		return ModVersion{f[0], f[1]}, nil
	}
	return ModVersion{}, fmt.Errorf("want a path and an optional version, have %q", f)
}

// Format writes the go.mod as go itself lays it out: the module and go lines,
// then the requires and the replaces, a list of one on a single line, longer
// lists in a block.
func (m GoMod) Format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "module %s\n\ngo %s\n", m.Module, m.Go)
	writeDirective(&b, "require", m.Require)
	writeDirective(&b, "replace", m.Replace)
	return b.Bytes()
}

func writeDirective[T fmt.Stringer](b *bytes.Buffer, verb string, items []T) {
	switch len(items) {
	case 0:
		return
	case 1:
		fmt.Fprintf(b, "\n%s %s\n", verb, items[0])
		return
	}
	fmt.Fprintf(b, "\n%s (\n", verb)
	for _, it := range items {
		fmt.Fprintf(b, "\t%s\n", it)
	}
	b.WriteString(")\n")
}

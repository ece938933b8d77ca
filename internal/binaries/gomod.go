package binaries

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// modFile is the part of a go.mod the wrapper modules care about. It reads
// any go.mod (other directives are skipped) and writes the wrappers' own.
type modFile struct {
	Module  string
	Go      string
	Require []modVersion
	Replace []replacement
}

// modVersion is a module path with a version; Version is empty for a local
// directory (./staging/src/k8s.io/api) or an unversioned replace's left side.
type modVersion struct {
	Path, Version string
}

func (m modVersion) String() string {
	if m.Version == "" {
		return m.Path
	}
	return m.Path + " " + m.Version
}

// replacement is one replace directive: Old => New.
type replacement struct {
	Old, New modVersion
}

func (r replacement) String() string { return r.Old.String() + " => " + r.New.String() }

// parseGoMod reads module, go, require and replace directives, in single-line
// and block form; comments (// indirect among them) are dropped.
func parseGoMod(data []byte) (modFile, error) {
	var m modFile
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
			return modFile{}, fmt.Errorf("go.mod line %d: %w", i+1, err)
		}
	}
	return m, nil
}

// add records one directive; the ones the wrappers do not use (godebug,
// toolchain, exclude, retract...) are skipped.
func (m *modFile) add(verb string, args []string) error {
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
		m.Require = append(m.Require, modVersion{args[0], args[1]})
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
func parseReplacement(args []string) (replacement, error) {
	i := slices.Index(args, "=>")
	if i < 0 {
		return replacement{}, fmt.Errorf("replace wants old [version] => new [version], has %q", args)
	}
	old, err := parseModVersion(args[:i])
	if err != nil {
		return replacement{}, fmt.Errorf("replace %q: %w", args, err)
	}
	repl, err := parseModVersion(args[i+1:])
	if err != nil {
		return replacement{}, fmt.Errorf("replace %q: %w", args, err)
	}
	return replacement{Old: old, New: repl}, nil
}

// parseModVersion reads "path" or "path version".
func parseModVersion(f []string) (modVersion, error) {
	switch len(f) {
	case 1:
		return modVersion{Path: f[0]}, nil
	case 2:
		return modVersion{f[0], f[1]}, nil
	}
	return modVersion{}, fmt.Errorf("want a path and an optional version, have %q", f)
}

// format writes the go.mod as go itself lays it out: a list of one on a
// single line, longer lists in a block.
func (m modFile) format() []byte {
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

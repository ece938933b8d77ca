package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// Parse reads one Cluster document. Unknown fields, keys given twice,
// values of the wrong type and further documents are errors naming the
// field path and line; nothing is defaulted or validated here. Empty
// documents ("---" alone, or only comments) are skipped: an empty file means
// "all defaults".
func Parse(data []byte) (*Cluster, error) {
	var root *yaml.Node
	var errs Errors
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for n := 1; ; n++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, syntaxErrors(data, err)...)
			break
		}
		switch {
		case isEmpty(&doc):
		case root == nil:
			root = doc.Content[0]
		default:
			errs = append(errs, FieldError{Field: "(document)", Value: fmt.Sprintf("document %d", n), Line: doc.Line,
				Want: "exactly one Cluster document per file; remove it or give it its own file"})
		}
	}
	if root != nil {
		errs = append(checkShape(root, reflect.TypeOf(Cluster{}), ""), errs...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var c Cluster
	if root == nil {
		return &c, nil
	}
	if err := root.Decode(&c); err != nil {
		return nil, Errors{{Field: "(document)", Value: "", Want: err.Error()}}
	}
	return &c, nil
}

// isEmpty: the document holds nothing, not even an explicit null.
func isEmpty(doc *yaml.Node) bool {
	if len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == ""
}

// syntaxErrors reports a parser error. The parser's message for a tab in the
// indentation does not say "tab" (and its line can be off), so when a line
// is indented with one, that line comes first.
func syntaxErrors(data []byte, err error) Errors {
	var errs Errors
	var tabbed []int
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.Contains(l[:len(l)-len(strings.TrimLeft(l, " \t"))], "\t") {
			tabbed = append(tabbed, i)
		}
	}
	if len(tabbed) > 0 {
		want := "spaces in the indentation; YAML indents with spaces only, never tabs"
		if more := len(tabbed) - 1; more > 0 {
			want += fmt.Sprintf(" (%d more lines below start with a tab)", more)
		}
		line := []rune(strings.TrimRight(lines[tabbed[0]], "\r"))
		if len(line) > 60 {
			line = append(line[:60], []rune("...")...)
		}
		errs = append(errs, FieldError{Field: "(indentation)", Value: string(line), Line: tabbed[0] + 1, Want: want})
	}
	return append(errs, FieldError{Field: "(document)", Value: "", Want: "a YAML mapping: " + err.Error()})
}

// maxFileSize is the largest config file Load reads: a Cluster document is
// a few KiB.
const maxFileSize = 1 << 20

// Load reads a config file (or, when path is empty, nothing), applies the
// defaults for this host and validates the result.
func Load(path string, h HostFacts) (*Cluster, error) {
	c := &Cluster{}
	if path != "" {
		data, err := readFile(path)
		if err != nil {
			return nil, Errors{{Field: "(file)", Value: path, Want: err.Error()}}
		}
		if c, err = Parse(data); err != nil {
			return nil, err
		}
	}
	c.ApplyDefaults(h)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// readFile reads a regular file of at most maxFileSize bytes. Anything else
// is refused before a read: a FIFO would block it, a device such as
// /dev/zero never ends it. Its errors say what a config file must be.
func readFile(path string) ([]byte, error) {
	fi, err := os.Stat(path) // not opened yet: opening some devices acts
	if err != nil {
		return nil, fmt.Errorf("a readable config file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(fi.Mode())
	}
	// O_NONBLOCK and a second look through the open file: a FIFO put in its
	// place since the Stat cannot block the open or the read.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("a readable config file: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("a readable config file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, notRegular(fi.Mode())
	}
	// One byte past the cap tells a file at the cap from a larger (or
	// growing) one without reading the rest.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("a readable config file: %w", err)
	case len(data) > maxFileSize:
		return nil, errors.New("a config file of at most 1 MiB; it is larger (a Cluster document is a few KiB: is it the right file?)")
	}
	return data, nil
}

func notRegular(m os.FileMode) error {
	what := "not a regular file (mode " + m.String() + ")"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO); save what it carries to a file and pass that"
	case m&os.ModeSocket != 0:
		what = "a socket"
	case m&os.ModeCharDevice != 0:
		what = "a character device"
	case m&os.ModeDevice != 0:
		what = "a block device"
	}
	return errors.New("a regular config file; it is " + what)
}

// Marshal writes the Cluster as YAML.
func (c *Cluster) Marshal() []byte {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		panic(fmt.Sprintf("config: marshal: %v", err)) // only plain types: cannot fail
	}
	return b.Bytes()
}

var durationType = reflect.TypeOf(Duration{})

// checkShape walks the YAML tree alongside the Go type and reports unknown
// keys and scalars of the wrong kind with their full field path and line.
func checkShape(n *yaml.Node, t reflect.Type, path string) Errors {
	var errs Errors
	at := func(field, value, want string) {
		errs = append(errs, FieldError{Field: field, Value: value, Want: want, Line: n.Line})
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			at(path, kindName(n), "a duration such as 10y, 365d or 8760h")
		} else if _, err := ParseDuration(n.Value); err != nil {
			at(path, n.Value, fmt.Sprintf("a positive duration of at most %s such as 10y, 365d or 8760h (%v)", Duration{MaxDuration}, err))
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			at(orDoc(path), kindName(n), "a mapping with fields "+strings.Join(yamlFields(t), ", "))
			return errs
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			fields[yamlName(t.Field(i))] = t.Field(i).Type
		}
		seen := map[string]int{} // key: its first line
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if first, dup := seen[k.Value]; dup {
				errs = append(errs, FieldError{Field: join(path, k.Value), Value: k.Value, Line: k.Line,
					Want: fmt.Sprintf("each key once; it is already set at line %d", first)})
			} else {
				seen[k.Value] = k.Line
			}
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, FieldError{Field: join(path, k.Value), Value: k.Value, Line: k.Line,
					Want: "a known field; " + orDoc(path) + " has " + strings.Join(yamlFields(t), ", ")})
				continue
			}
			errs = append(errs, checkShape(v, ft, join(path, k.Value))...)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			at(path, kindName(n), "a list")
			return errs
		}
		for i, item := range n.Content {
			errs = append(errs, checkShape(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
	case t.Kind() == reflect.Int:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			at(path, n.Value, "a whole number")
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			at(path, kindName(n), "a string")
		}
	}
	return errs
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func yamlFields(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		names = append(names, yamlName(t.Field(i)))
	}
	sort.Strings(names)
	return names
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return n.Value
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orDoc(path string) string {
	if path == "" {
		return "the Cluster document"
	}
	return path
}

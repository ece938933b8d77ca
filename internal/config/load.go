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

	"gopkg.in/yaml.v3"
)

// Parse reads one Cluster document. Unknown fields and values of the wrong type
// are errors naming the field path; nothing is defaulted or validated here.
func Parse(data []byte) (*Cluster, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file means "all defaults"
			return &Cluster{}, nil
		}
		return nil, Errors{{Field: "(document)", Value: "", Want: "a YAML mapping: " + err.Error()}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{Field: "(document)", Value: "a second document", Want: "exactly one Cluster document per file"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if errs := checkShape(root, reflect.TypeOf(Cluster{}), ""); len(errs) > 0 {
		return nil, errs
	}
	var c Cluster
	if err := root.Decode(&c); err != nil {
		return nil, Errors{{Field: "(document)", Value: "", Want: err.Error()}}
	}
	return &c, nil
}

// Load reads a config file (or, when path is empty, nothing), applies the
// defaults for this host and validates the result.
func Load(path string, h HostFacts) (*Cluster, error) {
	c := &Cluster{}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, Errors{{Field: "(file)", Value: path, Want: "a readable config file: " + err.Error()}}
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
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
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

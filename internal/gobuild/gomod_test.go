package gobuild

import (
	"slices"
	"testing"
)

// TestFormat pins the bytes of the wrappers' go.mod forms: a wrapper with
// no requires, with one (single line) and with several and replaces (blocks).
func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		m    GoMod
		want string
	}{
		{GoMod{Module: "k8s-single.local/build/images/pause", Go: GoVersion},
			"module k8s-single.local/build/images/pause\n\ngo 1.26.0\n"},
		{GoMod{Module: "k8s-single.local/build/images/coredns", Go: GoVersion,
			Require: []ModVersion{{"github.com/coredns/coredns", "v1.14.7"}}},
			"module k8s-single.local/build/images/coredns\n\ngo 1.26.0\n\nrequire github.com/coredns/coredns v1.14.7\n"},
		{GoMod{Module: "k8s-single.local/build/etcd", Go: GoVersion,
			Require: []ModVersion{{"go.etcd.io/etcd/etcdctl/v3", "v3.7.3"}, {"go.etcd.io/etcd/server/v3", "v3.7.3"}}},
			"module k8s-single.local/build/etcd\n\ngo 1.26.0\n\nrequire (\n\tgo.etcd.io/etcd/etcdctl/v3 v3.7.3\n\tgo.etcd.io/etcd/server/v3 v3.7.3\n)\n"},
		{GoMod{Module: "k8s-single.local/build/kubernetes", Go: GoVersion,
			Require: []ModVersion{{"k8s.io/kubernetes", "v1.37.2"}},
			Replace: []Replacement{
				{ModVersion{Path: "k8s.io/api"}, ModVersion{"k8s.io/api", "v0.37.2"}},
				{ModVersion{"k8s.io/x", "v0.1.0"}, ModVersion{Path: "./x"}},
			}},
			"module k8s-single.local/build/kubernetes\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes v1.37.2\n\n" +
				"replace (\n\tk8s.io/api => k8s.io/api v0.37.2\n\tk8s.io/x v0.1.0 => ./x\n)\n"},
	} {
		if got := string(tc.m.Format()); got != tc.want {
			t.Errorf("Format:\n%s\nwant:\n%s", got, tc.want)
		}
		back, err := ParseGoMod(tc.m.Format())
		if err != nil || back.Module != tc.m.Module || back.Go != tc.m.Go ||
			!slices.Equal(back.Require, tc.m.Require) || !slices.Equal(back.Replace, tc.m.Replace) {
			t.Errorf("%s reads back as %+v (%v)", tc.m.Module, back, err)
		}
	}
}

// TestParseGoMod reads directives in single-line and block form, drops
// comments and skips the directives wrappers do not use.
func TestParseGoMod(t *testing.T) {
	m, err := ParseGoMod([]byte(`// upstream
module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

toolchain go1.26.8

require (
	github.com/a/b v1.0.0
	github.com/c/d v0.2.0 // indirect
)

require k8s.io/api v0.0.0

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	github.com/c/d v0.2.0 => github.com/c/d v0.2.1
)

replace k8s.io/x => ./x // local

exclude github.com/a/b v0.9.0

retract [v1.0.0, v1.0.1]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := GoMod{
		Module:  "k8s.io/kubernetes",
		Go:      "1.26.0",
		Require: []ModVersion{{"github.com/a/b", "v1.0.0"}, {"github.com/c/d", "v0.2.0"}, {"k8s.io/api", "v0.0.0"}},
		Replace: []Replacement{
			{ModVersion{Path: "k8s.io/api"}, ModVersion{Path: "./staging/src/k8s.io/api"}},
			{ModVersion{"github.com/c/d", "v0.2.0"}, ModVersion{"github.com/c/d", "v0.2.1"}},
			{ModVersion{Path: "k8s.io/x"}, ModVersion{Path: "./x"}},
		},
	}
	if m.Module != want.Module || m.Go != want.Go || !slices.Equal(m.Require, want.Require) || !slices.Equal(m.Replace, want.Replace) {
		t.Errorf("got %+v\nwant %+v", m, want)
	}

	for _, bad := range []string{
		"module a b\n",
		"go\n",
		"require github.com/a/b\n",
		"replace a b\n",
		"replace (\n\tk8s.io/api\n)\n",
		"replace a => b c d\n",
	} {
		if _, err := ParseGoMod([]byte(bad)); err == nil {
			t.Errorf("ParseGoMod(%q) accepted", bad)
		}
	}
}

package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadRefusesWhatIsNotASmallRegularFile: a FIFO, a device, a directory
// or an oversized file is an error naming the path and what it is, returned
// at once and without reading more than the cap.
func TestLoadRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("kind: Cluster\n"+strings.Repeat("# padding\n", 2<<20/10)), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, path, want string }{
		{"fifo", fifo, "a named pipe"},
		{"device", "/dev/zero", "a character device"},
		{"directory", dir, "a directory"},
		{"2 MiB file", big, "at most 1 MiB"},
		{"missing", filepath.Join(dir, "nope.yaml"), "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); tc.name == "device" && err != nil {
				t.Skip(err)
			}
			done := make(chan error, 1)
			go func() {
				_, err := Load(tc.path, testHost)
				done <- err
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatalf("Load(%s) still running after 5s", tc.path)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want one config error, got %v", err)
			}
			if e := errs[0]; e.Field != "(file)" || e.Value != tc.path || !strings.Contains(e.Want, tc.want) {
				t.Errorf("got %v; want (file) %q with %q", e, tc.path, tc.want)
			}
		})
	}
}

// TestLoadAcceptsAFileAtTheCap: the cap is on size, not on content.
func TestLoadAcceptsAFileAtTheCap(t *testing.T) {
	head := "kind: Cluster\n"
	f := filepath.Join(t.TempDir(), "cluster.yaml")
	data := head + strings.Repeat("#", maxFileSize-len(head)-1) + "\n"
	if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(f, testHost); err != nil {
		t.Fatalf("a %d-byte file: %v", len(data), err)
	}
}

// parseErrors parses doc and returns its errors as lines, nil when it parses.
func parseErrors(t *testing.T, doc string) []string {
	t.Helper()
	_, err := Parse([]byte(doc))
	if err == nil {
		return nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return lines
}

// wantErrorLines wants, for each prefix, one error starting with it, and no
// other error.
func wantErrorLines(t *testing.T, got, prefixes []string) {
	t.Helper()
	if len(got) != len(prefixes) {
		t.Fatalf("%d errors, want %d:\n%s", len(got), len(prefixes), strings.Join(got, "\n"))
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(got[i], p) {
			t.Errorf("error %d = %s\nwant it to start with %s", i, got[i], p)
		}
	}
}

// TestDuplicateKeys: every key given twice is reported with its line and
// field path, not only the first yaml.v3 stops at.
func TestDuplicateKeys(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"one", "kind: Cluster\nkind: Cluster\n", []string{
			`line 2: kind: "kind" is not valid; want each key once; it is already set at line 1`}},
		{"nested and top-level", "kind: Cluster\nnetwork:\n  podCIDR: 10.244.0.0/16\n  podCIDR: 10.245.0.0/16\nkind: Cluster\nnetwork:\n  podCIDR: 10.246.0.0/16\n  dnsDomain: x\n  dnsDomain: y\n", []string{
			`line 4: network.podCIDR: "podCIDR" is not valid; want each key once; it is already set at line 3`,
			`line 5: kind: "kind" is not valid; want each key once; it is already set at line 1`,
			`line 6: network: "network" is not valid; want each key once; it is already set at line 2`,
			`line 9: network.dnsDomain: "dnsDomain" is not valid; want each key once; it is already set at line 8`}},
		{"three times", "etcd:\n  peerPort: 1\n  peerPort: 2\n  peerPort: 3\n", []string{
			`line 3: etcd.peerPort: "peerPort" is not valid; want each key once; it is already set at line 2`,
			`line 4: etcd.peerPort: "peerPort" is not valid; want each key once; it is already set at line 2`}},
		{"a list given twice", "apiServer:\n  extraSANs: [a.example]\n  extraSANs: [b.example]\n", []string{
			`line 3: apiServer.extraSANs: "extraSANs" is not valid; want each key once`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErrorLines(t, parseErrors(t, tc.yaml), tc.want) })
	}
}

// TestDocuments: one Cluster document per file; every further document is
// reported with its line, except empty ones ("---" alone, comments).
func TestDocuments(t *testing.T) {
	const want = "want exactly one Cluster document per file"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"second mapping", "kind: Cluster\n---\nkind: Cluster\n", []string{`line 2: (document): "document 2" is not valid; ` + want}},
		{"second and third", "kind: Cluster\n---\nkind: Cluster\n---\netcd: {}\n", []string{
			`line 2: (document): "document 2" is not valid; ` + want,
			`line 4: (document): "document 3" is not valid; ` + want}},
		{"second is a scalar", "kind: Cluster\n---\nhello\n", []string{`line 2: (document): "document 2" is not valid; ` + want}},
		{"trailing comment-only document", "kind: Cluster\n---\n# nothing here\n", nil},
		{"trailing empty document", "kind: Cluster\n---\n", nil},
		{"empty then a real one", "---\n---\nkind: Cluster\n", nil},
		{"leading marker", "---\nkind: Cluster\n", nil},
		{"only a marker", "---\n", nil},
		{"only a comment", "# all defaults\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErrorLines(t, parseErrors(t, tc.yaml), tc.want) })
	}
}

// TestTabIndentation: when the parser fails on a tab in the indentation,
// the error says so, with the line.
func TestTabIndentation(t *testing.T) {
	const tab = "want spaces in the indentation; YAML indents with spaces only, never tabs"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"tab", "kind: Cluster\nnetwork:\n  podCIDR: 10.244.0.0/16\n\tserviceCIDR: 10.96.0.0/12\n", []string{
			`line 4: (indentation): "\tserviceCIDR: 10.96.0.0/12" is not valid; ` + tab,
			`(document): "" is not valid; want a YAML mapping: yaml: line`}},
		{"spaces then a tab", "network:\n  podCIDR: 10.244.0.0/16\n  \tserviceCIDR: 10.96.0.0/12\n", []string{
			`line 3: (indentation): "  \tserviceCIDR: 10.96.0.0/12" is not valid; ` + tab,
			`(document): "" is not valid; want a YAML mapping`}},
		{"three lines", "network:\n\tpodCIDR: 10.244.0.0/16\n\tserviceCIDR: 10.96.0.0/12\n\tdnsDomain: cluster.local\n", []string{
			`line 2: (indentation): "\tpodCIDR: 10.244.0.0/16" is not valid; ` + tab + " (2 more lines below start with a tab)",
			`(document): "" is not valid; want a YAML mapping`}},
		{"no tab", "network:\n  podCIDR: [\n", []string{`(document): "" is not valid; want a YAML mapping`}},
		{"tab inside a value parses", "kind: \"a\tb\"\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantErrorLines(t, parseErrors(t, tc.yaml), tc.want) })
	}
}

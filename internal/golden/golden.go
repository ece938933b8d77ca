// Package golden compares test output with files under testdata and
// rewrites them with -update: `go test ./internal/units -update`, say, for
// one package. It is imported by tests only.
//
// -update is defined here, once for every test binary that imports the
// package, so `go test ./... -update` works only when every package it
// tests imports golden: a test binary that does not know the flag exits
// with "flag provided but not defined: -update". Name the packages instead.
package golden

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata (and what else the package's tests regenerate under -update)")

// Updating reports whether the test binary runs with -update, for tests that
// regenerate more than what Check writes.
func Updating() bool { return *update }

// command is how to regenerate this test binary's golden files. go test runs
// a test binary in its package's directory, which is the working directory
// when the package is initialized.
var command = regenerateCommand()

// Check compares got with the file at path (under testdata, relative to the
// package's directory) and reports a test error naming the file, the command
// that regenerates it and a short diff when they differ. With -update it
// writes got to path instead, creating its directory.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(path)
	if *update {
		if err == nil && bytes.Equal(got, want) {
			return
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%v; to create it, run %s", err, command)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output; if the change is intended, run %s\n%s", path, command, diff(path, want, got))
	}
}

// regenerateCommand is `go test ./<package dir> -update`, the directory
// relative to the module's root; `go test . -update` outside a module.
func regenerateCommand() string {
	pkg := "."
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				if rel, err := filepath.Rel(dir, wd); err == nil && rel != "." {
					pkg = "./" + filepath.ToSlash(rel)
				}
				break
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "go test " + pkg + " -update"
}

// Limits of the diff: lines of context around each change, lines of diff
// shown at the most, and the size of the part between the first and the last
// change (lines of want × lines of got) up to which it looks for the lines
// that stayed; beyond it, all of that part is shown as removed and added.
const (
	contextLines = 3
	maxDiffLines = 40
	maxLCSCells  = 1 << 20
)

// op is a line of a diff: kept (' '), removed from want ('-') or added ('+').
type op struct {
	kind byte
	line string
}

// diff is a short unified diff from want (the file at path) to got, cut
// after maxDiffLines lines.
func diff(path string, want, got []byte) string {
	ops := edits(lines(want), lines(got))
	// before[i] is how many lines of want and of got come before ops[i].
	before := make([][2]int, len(ops)+1)
	for i, o := range ops {
		before[i+1] = before[i]
		if o.kind != '+' {
			before[i+1][0]++
		}
		if o.kind != '-' {
			before[i+1][1]++
		}
	}
	var out []string
	for i := 0; i < len(ops); i++ {
		if ops[i].kind == ' ' {
			continue
		}
		// A hunk runs from contextLines before a change to contextLines
		// after the last change that follows within 2*contextLines.
		start, end := max(0, i-contextLines), i+1
		for j := i + 1; j < len(ops) && j-end <= 2*contextLines; j++ {
			if ops[j].kind != ' ' {
				end = j + 1
			}
		}
		stop := min(len(ops), end+contextLines)
		out = append(out, fmt.Sprintf("@@ -%s +%s @@",
			hunkRange(before[start][0], before[stop][0]-before[start][0]),
			hunkRange(before[start][1], before[stop][1]-before[start][1])))
		for _, o := range ops[start:stop] {
			out = append(out, formatLine(o)...)
		}
		i = stop - 1
	}
	if len(out) > maxDiffLines {
		out = append(out[:maxDiffLines], fmt.Sprintf("… %d more lines of diff", len(out)-maxDiffLines))
	}
	return "--- " + path + "\n+++ got\n" + strings.Join(out, "\n") + "\n"
}

// edits turns want into got: the lines both start and end with are kept,
// and between them a longest common subsequence of lines, when that part is
// small enough to look for one.
func edits(want, got []string) []op {
	pre := 0
	for pre < len(want) && pre < len(got) && want[pre] == got[pre] {
		pre++
	}
	suf := 0
	for suf < len(want)-pre && suf < len(got)-pre && want[len(want)-1-suf] == got[len(got)-1-suf] {
		suf++
	}
	ops := make([]op, 0, len(want)+len(got))
	for _, l := range want[:pre] {
		ops = append(ops, op{' ', l})
	}
	a, b := want[pre:len(want)-suf], got[pre:len(got)-suf]
	n, m := len(a), len(b)
	// lcs[i*(m+1)+j] is the length of a longest common subsequence of a[i:]
	// and b[j:]; too large a table leaves it empty.
	var lcs []int32
	if (n+1)*(m+1) <= maxLCSCells {
		lcs = make([]int32, (n+1)*(m+1))
		for i := n - 1; i >= 0; i-- {
			for j := m - 1; j >= 0; j-- {
				if a[i] == b[j] {
					lcs[i*(m+1)+j] = lcs[(i+1)*(m+1)+j+1] + 1
				} else {
					lcs[i*(m+1)+j] = max(lcs[(i+1)*(m+1)+j], lcs[i*(m+1)+j+1])
				}
			}
		}
	}
	for i, j := 0, 0; i < n || j < m; {
		switch {
		case lcs != nil && i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i, j = i+1, j+1
		case i < n && (j == m || lcs == nil || lcs[(i+1)*(m+1)+j] >= lcs[i*(m+1)+j+1]):
			ops = append(ops, op{'-', a[i]})
			i++
		default:
			ops = append(ops, op{'+', b[j]})
			j++
		}
	}
	for _, l := range want[len(want)-suf:] {
		ops = append(ops, op{' ', l})
	}
	return ops
}

// hunkRange is a unified diff's "start,count" for count lines after the
// first start, 1-based; an empty range names the line before it.
func hunkRange(start, count int) string {
	if count == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}

// lines splits data after each newline; a last line without one stays
// without one.
func lines(data []byte) []string {
	l := strings.SplitAfter(string(data), "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// formatLine is o as diff lines: a line with control characters or invalid
// UTF-8 quoted, and a last line without a newline marked as diff marks it.
func formatLine(o op) []string {
	text, nl := strings.CutSuffix(o.line, "\n")
	if !utf8.ValidString(text) || strings.ContainsFunc(text, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) {
		text = strconv.Quote(text)
	}
	if !nl {
		return []string{string(o.kind) + text, `\ No newline at end of file`}
	}
	return []string{string(o.kind) + text}
}

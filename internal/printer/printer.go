// Package printer renders command results for the k8s-single CLI in the
// format chosen with -w/-o, the way etcdctl's printer does: an aligned table,
// indented JSON, or simple lines. It owns formatting only: it must not fetch
// data, decide exit codes or know any result type; a result opts in by
// implementing Tabular (and Liner for a simple form of its own).
package printer

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"
)

// Output formats.
const (
	FormatTable  = "table"
	FormatJSON   = "json"
	FormatSimple = "simple"
)

// Formats lists the valid formats, for flag help and errors.
var Formats = []string{FormatTable, FormatJSON, FormatSimple}

// Tabular is a result that prints as rows under a header.
type Tabular interface {
	Table() (header []string, rows [][]string)
}

// Liner is a result with its own simple form, one string per line. Without
// it, the simple format prints each table row as comma-separated fields.
type Liner interface {
	Lines() []string
}

// Print writes v to w in format. The table and simple formats need v to be
// Tabular (or a Liner, for simple); JSON takes any value.
func Print(w io.Writer, format string, v any) error {
	switch format {
	case FormatJSON:
		return printJSON(w, v)
	case FormatTable:
		t, ok := v.(Tabular)
		if !ok {
			return fmt.Errorf("%T has no table form: use -w json", v)
		}
		return printTable(w, t)
	case FormatSimple:
		return printSimple(w, v)
	}
	return fmt.Errorf("unknown output format %q: want one of %s", format, strings.Join(Formats, ", "))
}

func printJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("print json: %w", err)
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// printTable aligns the columns with text/tabwriter under an upper-case header.
func printTable(w io.Writer, t Tabular) error {
	header, rows := t.Table()
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	upper := make([]string, len(header))
	for i, h := range header {
		upper[i] = strings.ToUpper(h)
	}
	fmt.Fprintln(tw, strings.Join(upper, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(cells(row), "\t"))
	}
	return tw.Flush()
}

func printSimple(w io.Writer, v any) error {
	var lines []string
	switch v := v.(type) {
	case Liner:
		lines = v.Lines()
	case Tabular:
		_, rows := v.Table()
		for _, row := range rows {
			lines = append(lines, strings.Join(cells(row), ", "))
		}
	default:
		return fmt.Errorf("%T has no simple form: use -w json", v)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// cells quotes, Go-style, every field that would break a line or a column:
// one holding a tab, a newline, an unprintable rune or invalid UTF-8 (binary
// values).
func cells(row []string) []string {
	out := make([]string, len(row))
	for i, s := range row {
		out[i] = s
		if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			out[i] = strconv.Quote(s)
		}
	}
	return out
}

// Bytes formats a byte count in SI units like etcdctl: 512 B, 25 kB, 1.2 MB.
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

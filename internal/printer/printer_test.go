package printer_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/k8s-single/k8s-single/internal/printer"
)

type fruit struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	Note  string `json:"note,omitempty"`
}

// basket prints as a table; its simple form is the default one.
type basket []fruit

func (b basket) Table() ([]string, [][]string) {
	var rows [][]string
	for _, f := range b {
		rows = append(rows, []string{f.Name, strings.Repeat("*", f.Count), f.Note})
	}
	return []string{"name", "count", "note"}, rows
}

// labelled has a simple form of its own.
type labelled struct{ basket }

func (l labelled) Lines() []string { return []string{"a basket of " + l.basket[0].Name} }

var fruits = basket{{"apple", 3, "red"}, {"banana", 12, "tab\there"}, {"cherry", 1, "\xff\xfe"}}

func TestPrint(t *testing.T) {
	for _, tc := range []struct {
		name, format string
		v            any
		want         string
	}{
		{"table", printer.FormatTable, fruits, "" +
			"NAME     COUNT          NOTE\n" +
			"apple    ***            red\n" +
			"banana   ************   \"tab\\there\"\n" +
			"cherry   *              \"\\xff\\xfe\"\n"},
		{"empty table", printer.FormatTable, basket{}, "NAME   COUNT   NOTE\n"},
		{"json", printer.FormatJSON, fruits[:2], `[
  {
    "name": "apple",
    "count": 3,
    "note": "red"
  },
  {
    "name": "banana",
    "count": 12,
    "note": "tab\there"
  }
]
`},
		{"json of a non-table value", printer.FormatJSON, map[string]int{"a": 1}, "{\n  \"a\": 1\n}\n"},
		{"simple from the table", printer.FormatSimple, fruits[:2], "apple, ***, red\nbanana, ************, \"tab\\there\"\n"},
		{"simple of its own", printer.FormatSimple, labelled{fruits}, "a basket of apple\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printer.Print(&out, tc.format, tc.v); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("Print %s =\n%s\nwant\n%s", tc.format, out.String(), tc.want)
			}
		})
	}
}

func TestPrintErrors(t *testing.T) {
	for _, tc := range []struct {
		name, format string
		v            any
		want         string
	}{
		{"unknown format", "yaml", fruits, `unknown output format "yaml": want one of table, json, simple`},
		{"table of a plain value", printer.FormatTable, 42, "int has no table form: use -w json"},
		{"simple of a plain value", printer.FormatSimple, 42, "int has no simple form: use -w json"},
		{"json of an unencodable value", printer.FormatJSON, func() {}, "print json: json: unsupported type: func()"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := printer.Print(&out, tc.format, tc.v)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Print: %v; want %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("Print wrote %q on error", out.String())
			}
		})
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0:             "0 B",
		999:           "999 B",
		1000:          "1.0 kB",
		25 * 1000:     "25.0 kB",
		1_234_567:     "1.2 MB",
		8 << 30:       "8.6 GB",
		1_000_000_000: "1.0 GB",
	} {
		if got := printer.Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

package golden

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what Check reports; Fatal ends the
// goroutine the check runs on, as it does a test.
type recorder struct {
	testing.TB
	errors, fatals []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.fatals = append(r.fatals, fmt.Sprint(args...))
	runtime.Goexit()
}

// check runs Check on a recorder, with -update set to updating.
func check(t *testing.T, updating bool, path string, got []byte) *recorder {
	t.Helper()
	defer func(old bool) { *update = old }(*update)
	*update = updating
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Check(r, path, got)
	}()
	<-done
	return r
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "testdata", "out.txt")

	r := check(t, false, path, []byte("a\n"))
	if len(r.fatals) != 1 || !strings.Contains(r.fatals[0], "run go test ./internal/golden -update") {
		t.Errorf("missing file: fatals %q, want one naming the command", r.fatals)
	}

	if r := check(t, true, path, []byte("a\nb\nc\n")); len(r.errors)+len(r.fatals) != 0 {
		t.Errorf("-update: %q %q", r.errors, r.fatals)
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "a\nb\nc\n" {
		t.Errorf("-update wrote %q, %v", data, err)
	}

	if r := check(t, false, path, []byte("a\nb\nc\n")); len(r.errors)+len(r.fatals) != 0 {
		t.Errorf("same output: %q %q", r.errors, r.fatals)
	}

	r = check(t, false, path, []byte("a\nB\nc\n"))
	if len(r.errors) != 1 || len(r.fatals) != 0 {
		t.Fatalf("changed output: errors %q, fatals %q, want one error", r.errors, r.fatals)
	}
	for _, want := range []string{path + " differs", "run go test ./internal/golden -update\n", "-b\n+B\n"} {
		if !strings.Contains(r.errors[0], want) {
			t.Errorf("error does not say %q:\n%s", want, r.errors[0])
		}
	}
}

func TestDiff(t *testing.T) {
	numbered := func(n int, change map[int]string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			if c, ok := change[i]; ok {
				b.WriteString(c + "\n")
			} else {
				fmt.Fprintf(&b, "%d\n", i)
			}
		}
		return b.String()
	}
	for name, tc := range map[string]struct{ want, got, diff string }{
		"one line": {
			numbered(9, nil), numbered(9, map[int]string{5: "five"}),
			"@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		"two hunks": {
			numbered(20, nil), numbered(20, map[int]string{2: "two", 15: "fifteen"}),
			"@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n" +
				"@@ -12,7 +12,7 @@\n 12\n 13\n 14\n-15\n+fifteen\n 16\n 17\n 18\n",
		},
		"changes 6 lines apart share a hunk": {
			numbered(12, nil), numbered(12, map[int]string{2: "two", 9: "nine"}),
			"@@ -1,12 +1,12 @@\n 1\n-2\n+two\n 3\n 4\n 5\n 6\n 7\n 8\n-9\n+nine\n 10\n 11\n 12\n",
		},
		"moved line":       {"a\nb\nc\nd\n", "a\nc\nd\nb\n", "@@ -1,4 +1,4 @@\n a\n-b\n c\n d\n+b\n"},
		"added at the end": {"a\n", "a\nb\n", "@@ -1,1 +1,2 @@\n a\n+b\n"},
		"no final newline": {"a\nb\n", "a\nb", "@@ -1,2 +1,2 @@\n a\n-b\n+b\n\\ No newline at end of file\n"},
		"control bytes":    {"k\n", "k\x00\x0c\n", "@@ -1,1 +1,1 @@\n-k\n+\"k\\x00\\f\"\n"},
		"empty file": {
			"", strings.Repeat("x\n", 50),
			"@@ -0,0 +1,50 @@\n" + strings.Repeat("+x\n", maxDiffLines-1) + "… 11 more lines of diff\n",
		},
	} {
		want := "--- f\n+++ got\n" + tc.diff
		if got := diff("f", []byte(tc.want), []byte(tc.got)); got != want {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, want)
		}
	}
}

// TestImportedByTestsOnly keeps -update out of the binaries: no file of the
// module but a _test.go one imports golden.
func TestImportedByTestsOnly(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	const imp = `"github.com/k8s-single/k8s-single/internal/golden"`
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "vendor" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(data), imp) {
			t.Errorf("%s imports golden; only tests may", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

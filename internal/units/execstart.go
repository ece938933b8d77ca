package units

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// continuation separates ExecStart arguments: one flag per line keeps every
// line far below systemd's LINE_MAX and the diffs of golden files readable.
const continuation = " \\\n\t"

// execStart renders argv as an ExecStart= value, one argument per line.
func execStart(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = quoteArg(a)
	}
	return strings.Join(quoted, continuation)
}

// specifierEscaper doubles what systemd would expand in ExecStart=:
// %-specifiers and $VARIABLE references.
var specifierEscaper = strings.NewReplacer("%", "%%", "$", "$$")

// cEscaper escapes what is special inside a double-quoted systemd word.
var cEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)

// quoteArg makes one argument survive systemd's command-line parsing intact:
// specifiers are doubled, and words with blanks, quotes or backslashes are
// double-quoted with C escapes.
func quoteArg(arg string) string {
	arg = specifierEscaper.Replace(arg)
	if arg != "" && !strings.ContainsAny(arg, " \t\n\"'\\") {
		return arg
	}
	return `"` + cEscaper.Replace(arg) + `"`
}

// ParseExecStart reads a unit file back the way systemd does and returns the
// ExecStart= command line as argv and the Environment= assignments
// ("NAME=value"), so tests can run a daemon exactly as its unit would. It
// reads the quoting and escapes RenderUnits writes (double or single quotes,
// backslash escapes, %% and $$); other %-specifiers, $VARIABLE expansion and
// EnvironmentFile= are not interpreted.
func ParseExecStart(unitFile []byte) (argv []string, env []string, err error) {
	opts, err := unit.DeserializeOptions(bytes.NewReader(unitFile))
	if err != nil {
		return nil, nil, fmt.Errorf("parse unit: %w", err)
	}
	var execs []string
	for _, o := range opts {
		if o.Section != "Service" {
			continue
		}
		switch o.Name {
		case "ExecStart":
			execs = append(execs, o.Value)
		case "Environment":
			words, err := splitWords(o.Value)
			if err != nil {
				return nil, nil, fmt.Errorf("parse Environment=%s: %w", o.Value, err)
			}
			env = append(env, unescapeSpecifiers(words, "%%", "%")...)
		}
	}
	if len(execs) != 1 {
		return nil, nil, fmt.Errorf("want exactly one ExecStart= in [Service], found %d", len(execs))
	}
	words, err := splitWords(strings.ReplaceAll(execs[0], "\\\n", " "))
	if err != nil {
		return nil, nil, fmt.Errorf("parse ExecStart=: %w", err)
	}
	if len(words) == 0 {
		return nil, nil, errors.New("parse ExecStart=: empty command line")
	}
	return unescapeSpecifiers(words, "%%", "%", "$$", "$"), env, nil
}

// unescapeSpecifiers undoes quoteArg's doubling in every word.
func unescapeSpecifiers(words []string, oldnew ...string) []string {
	r := strings.NewReplacer(oldnew...)
	for i, w := range words {
		words[i] = r.Replace(w)
	}
	return words
}

// splitWords splits a systemd command line into words: blanks separate words,
// double or single quotes group them, and a backslash escapes the next
// character (\n and \t are a newline and a tab).
func splitWords(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool
		quote  byte
	)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\':
			if i++; i == len(s) {
				return nil, errors.New("trailing backslash")
			}
			word.WriteByte(cUnescape(s[i]))
			inWord = true
		case quote != 0:
			if ch == quote {
				quote = 0
			} else {
				word.WriteByte(ch)
			}
		case ch == '"' || ch == '\'':
			quote, inWord = ch, true
		case ch == ' ' || ch == '\t' || ch == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

func cUnescape(ch byte) byte {
	switch ch {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	}
	return ch
}

// LoadCredentials reads a unit file's LoadCredential= entries as ID to source
// path, so a test that runs the daemon without systemd can hand it the same
// files (systemd would copy each to CredentialsDir(unit)/ID).
func LoadCredentials(unitFile []byte) (map[string]string, error) {
	opts, err := unit.DeserializeOptions(bytes.NewReader(unitFile))
	if err != nil {
		return nil, fmt.Errorf("parse unit: %w", err)
	}
	creds := map[string]string{}
	for _, o := range opts {
		if o.Section == "Service" && o.Name == "LoadCredential" {
			id, path, ok := strings.Cut(o.Value, ":")
			if !ok {
				return nil, fmt.Errorf("LoadCredential=%s: want ID:PATH", o.Value)
			}
			creds[id] = path
		}
	}
	return creds, nil
}

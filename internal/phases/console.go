package phases

import (
	"bytes"
	"fmt"
	"io"
	"sync"
)

// console is the output of one up, which phases running at once share:
// the runner's own lines (a phase starts, ends) and the lines each phase
// prints go out whole, one at a time, so lines never mix.
type console struct {
	mu sync.Mutex
	w  io.Writer
	// width is the longest phase name: the prefixes line up.
	width int
}

func newConsole(w io.Writer, phases []Phase) *console {
	if w == nil {
		w = io.Discard
	}
	c := &console{w: w}
	for _, p := range phases {
		c.width = max(c.width, len(p.Name))
	}
	return c
}

// printf prints one of the runner's lines.
func (c *console) printf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.w, format, args...)
}

// phase returns the writer of a running phase: its lines carry the
// phase's name ("  etcd          | waiting for ...").
func (c *console) phase(name Name) *phaseWriter {
	return &phaseWriter{c: c, prefix: fmt.Sprintf("  %-*s | ", c.width, name)}
}

// indent is what a progress line starts with when a phase prints it
// (Context.Printf, probes): the prefix takes its place.
const indent = "      "

// phaseWriter prefixes every line a phase writes and hands whole lines to
// the console; a partial line waits for its end (or flush).
type phaseWriter struct {
	c      *console
	prefix string
	buf    []byte
}

func (w *phaseWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if err := w.emit(w.buf[:i]); err != nil {
			return len(p), err
		}
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *phaseWriter) emit(line []byte) error {
	_, err := fmt.Fprintf(w.c.w, "%s%s\n", w.prefix, bytes.TrimPrefix(line, []byte(indent)))
	return err
}

// flush prints what is left of a last line without its end.
func (w *phaseWriter) flush() {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

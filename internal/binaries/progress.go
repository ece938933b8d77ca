package binaries

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// meterTick is how often a running download prints its progress line.
const meterTick = 2 * time.Second

// meter counts the bytes of a download written through it and prints a
// progress line (a bar, bytes of total, percent) every meterTick.
type meter struct {
	out         io.Writer
	name        string
	done, total int64 // total is -1 when the server did not say
	last        time.Time
}

func newMeter(out io.Writer, name string, done, total int64) *meter {
	return &meter{out: out, name: name, done: done, total: total, last: time.Now()}
}

func (m *meter) Write(p []byte) (int, error) {
	m.done += int64(len(p))
	if time.Since(m.last) >= meterTick {
		m.print()
	}
	return len(p), nil
}

// print writes the progress line now.
func (m *meter) print() {
	m.last = time.Now()
	if m.total <= 0 {
		fmt.Fprintf(m.out, "%-24s %s\n", m.name, size(m.done))
		return
	}
	const width = 30
	pct := min(m.done*100/m.total, 100)
	filled := int(pct * width / 100)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	fmt.Fprintf(m.out, "%-24s [%s] %s / %s %3d%%\n", m.name, bar, size(m.done), size(m.total), pct)
}

// size formats a byte count for progress lines: 812 B, 12.3 KiB, 90.1 MiB.
func size(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

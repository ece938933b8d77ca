package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration that also accepts days ("365d") and years
// ("10y", 365 days each) in YAML, the units certificate lifetimes are thought in.
type Duration struct{ time.Duration }

// Day and Year are the units Duration accepts beyond Go's own.
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// ParseDuration reads "10y", "365d" or any Go duration ("8760h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for suffix, unit := range map[string]time.Duration{"y": Year, "d": Day} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				return 0, fmt.Errorf("%q is not a whole number of %s", n, suffix)
			}
			return time.Duration(v) * unit, nil
		}
	}
	return time.ParseDuration(s)
}

// String prints whole years or days when the duration is one, else Go's form.
func (d Duration) String() string {
	switch {
	case d.Duration != 0 && d.Duration%Year == 0:
		return fmt.Sprintf("%dy", d.Duration/Year)
	case d.Duration != 0 && d.Duration%Day == 0:
		return fmt.Sprintf("%dd", d.Duration/Day)
	}
	return d.Duration.String()
}

// MarshalYAML writes the duration as String does.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration as String does.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.String())), nil }

// UnmarshalYAML accepts the forms ParseDuration reads.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if err != nil {
		return &durationError{value: n.Value, err: err}
	}
	d.Duration = v
	return nil
}

// durationError carries the bad value up to the field-path error builder.
type durationError struct {
	value string
	err   error
}

func (e *durationError) Error() string {
	return fmt.Sprintf("%q is not a duration (%v); want e.g. 10y, 365d or 8760h", e.value, e.err)
}

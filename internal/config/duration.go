package config

import (
	"errors"
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

// MaxDuration is the longest Duration: a certificate lifetime beyond a
// century is a typo, and far below where nanoseconds overflow int64 (292y).
const MaxDuration = 100 * Year

// durationUnits are the suffixes Go's time.ParseDuration does not know.
var durationUnits = []struct {
	suffix, name string
	unit         time.Duration
}{{"y", "years", Year}, {"d", "days", Day}}

// ParseDuration reads "10y", "365d" or any Go duration ("8760h"). A Duration
// is a lifetime: zero, negative and longer than MaxDuration are errors, and
// no spelling overflows into a short or negative one.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	for _, u := range durationUnits {
		n, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		switch {
		case errors.Is(err, strconv.ErrRange) && strings.HasPrefix(n, "-"), err == nil && v < 0:
			return 0, errNegative
		case errors.Is(err, strconv.ErrRange), err == nil && v > int64(MaxDuration/u.unit): // before multiplying: no overflow
			return 0, errTooLong
		case err != nil:
			return 0, fmt.Errorf("%q is not a whole number of %s", n, u.name)
		case v == 0:
			return 0, errZero
		}
		return time.Duration(v) * u.unit, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, err
	case d < 0:
		return 0, errNegative
	case d == 0:
		return 0, errZero
	case d > MaxDuration:
		return 0, errTooLong
	}
	return d, nil
}

// The reasons ParseDuration refuses a well-formed number.
var (
	errTooLong  = fmt.Errorf("it is longer than %s, the longest lifetime k8s-single issues", Duration{MaxDuration})
	errZero     = errors.New("0 is not the default: leave the field out for the default")
	errNegative = errors.New("a lifetime cannot be negative")
)

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

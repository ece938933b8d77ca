package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestParseDurationBounds: no spelling overflows into a short or negative
// lifetime; zero, negative and longer than MaxDuration are errors.
func TestParseDurationBounds(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string // a part of the error, or "" when in is valid
	}{
		{"100y", 100 * Year, ""},
		{"36500d", 100 * Year, ""},
		{"876000h", 100 * Year, ""},
		{"1d", Day, ""},
		{"101y", 0, "longer than 100y"},
		{"585y", 0, "longer than 100y"}, // wrapped to 21 days
		{"1000y", 0, "longer than 100y"},
		{"36501d", 0, "longer than 100y"},
		{"106752d", 0, "longer than 100y"}, // past int64 nanoseconds
		{"99999999999999999999y", 0, "longer than 100y"},
		{"876001h", 0, "longer than 100y"},
		{"0s", 0, "leave the field out"},
		{"0", 0, "leave the field out"},
		{"0y", 0, "leave the field out"},
		{"0d", 0, "leave the field out"},
		{"-1y", 0, "negative"},
		{"-5h", 0, "negative"},
		{"1.5y", 0, "whole number of years"},
		{"y", 0, "whole number of years"},
	}
	for _, tc := range cases {
		got, err := ParseDuration(tc.in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseDuration(%q) = %v, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
}

// TestLifetimeErrors: the lifetimes a user writes are refused with the line,
// the field and the value, never defaulted and never with a wrapped number.
func TestLifetimeErrors(t *testing.T) {
	cases := []struct {
		name, yaml, field, value, hint string
		line                           int // 0: the error comes from Validate, which has no lines
	}{
		{"CA 585y", "kind: Cluster\ncertificates:\n  caValidity: 585y\n", "certificates.caValidity", "585y", "longer than 100y", 3},
		{"CA 1000y", "kind: Cluster\ncertificates:\n  caValidity: 1000y\n", "certificates.caValidity", "1000y", "longer than 100y", 3},
		{"leaf 0s", "kind: Cluster\ncertificates:\n  validity: 0s\n", "certificates.validity", "0s", "leave the field out", 3},
		{"CA 0y", "kind: Cluster\ncertificates:\n  caValidity: 0y\n", "certificates.caValidity", "0y", "leave the field out", 3},
		{"leaf negative", "kind: Cluster\ncertificates:\n  validity: -30d\n", "certificates.validity", "-30d", "positive", 3},
		{"leaf longer than CA", "kind: Cluster\ncertificates:\n  caValidity: 2y\n  validity: 3y\n", "certificates.caValidity", "2y", "longer than certificates.validity (3y)", 0},
	}
	negative := regexp.MustCompile(`-[0-9]`)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := wantFieldError(t, tc.yaml, tc.field, tc.value, tc.hint)
			if e.Line != tc.line {
				t.Errorf("line %d, want %d: %v", e.Line, tc.line, e)
			}
			if !strings.HasPrefix(tc.value, "-") && negative.MatchString(e.Error()) {
				t.Errorf("a negative number in %v", e)
			}
		})
	}
}

// TestCAValidityBoundInValidate: a Cluster built in code is held to the
// same bound as a parsed one.
func TestCAValidityBoundInValidate(t *testing.T) {
	c := Default(testHost)
	c.Certificates.CAValidity.Duration = 200 * Year
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `certificates.caValidity: "200y" is not valid; want at most 100y`) {
		t.Errorf("200y CA: %v", err)
	}
}

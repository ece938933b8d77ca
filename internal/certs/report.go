package certs

import (
	"fmt"
	"strings"
	"time"
)

// ExpiryReport is CheckExpiration's result, printable like kubeadm's
// `certs check-expiration` table.
type ExpiryReport []Expiry

// Table lays the report out for the printer.
func (r ExpiryReport) Table() ([]string, [][]string) {
	rows := make([][]string, len(r))
	for i, e := range r {
		ca := e.CA
		if e.IsCA {
			ca = "(CA)"
		}
		note := ""
		switch {
		case e.Unused:
			note = "not in use: the kubelet rotated its own"
		case e.Rotated:
			note = "in use, renewed by the kubelet: " + e.Path
		}
		if e.Residual < WarnWithin {
			note = strings.TrimPrefix(note+"; WARNING: under 30 days left", "; ")
		}
		rows[i] = []string{e.Name, e.NotAfter.UTC().Format("Jan 02, 2006 15:04 MST"), residual(e.Residual), ca, note}
	}
	return []string{"CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "NOTE"}, rows
}

// residual prints time left the way kubeadm does: 364d, 9y, or <invalid>.
func residual(d time.Duration) string {
	switch {
	case d <= 0:
		return "<invalid>"
	case d >= 365*24*time.Hour:
		return fmt.Sprintf("%dy", int(d.Hours()/24/365))
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}

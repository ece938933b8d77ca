package skew

import (
	"errors"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name      string
		step      Step
		opts      Options
		wantRule  string // "" when allowed
		wantInErr string
	}{
		{"fresh install", Step{"kube-apiserver", "", "v1.37.2"}, Options{}, "", ""},
		{"no change", Step{"kube-apiserver", "v1.37.2", "v1.37.2"}, Options{}, "", ""},
		{"patch upgrade", Step{"kubelet", "v1.37.0", "v1.37.2"}, Options{}, "", ""},
		{"minor upgrade", Step{"kube-apiserver", "v1.36.3", "v1.37.2"}, Options{}, "", ""},
		{"etcd minor upgrade", Step{"etcd", "v3.6.16", "v3.7.3"}, Options{}, "", ""},
		{"two minors", Step{"kube-apiserver", "v1.36.3", "v1.38.0"}, Options{}, "one minor version at a time", "upgrade to v1.37.x first"},
		{"etcd two minors", Step{"etcd", "v3.5.21", "v3.7.3"}, Options{}, "one minor version at a time", "v3.6.x first"},
		{"minor downgrade", Step{"kube-apiserver", "v1.37.2", "v1.36.3"}, Options{AllowDowngrade: true}, "no downgrade to an older minor", "upgrade rollback"},
		{"patch downgrade refused", Step{"kubelet", "v1.37.2", "v1.37.0"}, Options{}, "no downgrade unless asked for", "--allow-downgrade"},
		{"patch downgrade allowed", Step{"kubelet", "v1.37.2", "v1.37.0"}, Options{AllowDowngrade: true}, "", ""},
		{"major", Step{"etcd", "v3.7.3", "v4.0.0"}, Options{}, "the major version never changes", "v3.7.x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check([]Step{{"etcd", "v3.7.3", "v3.7.3"}, tt.step}, tt.opts)
			if tt.wantRule == "" {
				if err != nil {
					t.Fatalf("Check: %v, want allowed", err)
				}
				return
			}
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("Check: %v, want a *RefusedError", err)
			}
			if refused.Step != tt.step || !strings.Contains(refused.Rule, tt.wantRule) || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Errorf("Check: %v, want the rule %q naming %q for %+v", err, tt.wantRule, tt.wantInErr, tt.step)
			}
		})
	}
}

func TestCheckBadVersion(t *testing.T) {
	err := Check([]Step{{"kubelet", "garbage", "v1.37.2"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), `installed version "garbage"`) {
		t.Fatalf("Check: %v, want the bad installed version named", err)
	}
}

func TestKind(t *testing.T) {
	for step, want := range map[Step]string{
		{"kubelet", "", "v1.37.2"}:        "install",
		{"kubelet", "v1.37.2", "v1.37.2"}: "none",
		{"kubelet", "v1.36.3", "v1.37.2"}: "upgrade",
		{"kubelet", "v1.37.2", "v1.37.0"}: "downgrade",
	} {
		if got := step.Kind(); got != want {
			t.Errorf("%+v.Kind() = %q, want %q", step, got, want)
		}
	}
}

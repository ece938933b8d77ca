package units

import (
	"slices"
	"testing"
)

func TestParseExecStartRoundTripsAwkwardArguments(t *testing.T) {
	args := []string{
		"/opt/my bin/etcd",
		"--data-dir=/var/lib/etcd data",
		`--quote="x" 'y'`,
		`--backslash=C:\dir\`,
		"--percent=50%n",
		"--dollar=$HOME",
		"--newline=a\nb\tc",
		"--empty=",
		"",
	}
	file := []byte("[Service]\n" +
		"Environment=A=1 \"B=two words\" C=100%%\n" +
		"Environment=D='x y'\n" +
		"ExecStart=" + execStart(args) + "\n")
	argv, env, err := ParseExecStart(file)
	if err != nil {
		t.Fatalf("ParseExecStart: %v\n%s", err, file)
	}
	if !slices.Equal(argv, args) {
		t.Errorf("argv\n got %q\nwant %q\nunit:\n%s", argv, args, file)
	}
	wantEnv := []string{"A=1", "B=two words", "C=100%", "D=x y"}
	if !slices.Equal(env, wantEnv) {
		t.Errorf("env %q, want %q", env, wantEnv)
	}
}

func TestExecStartIsOneArgumentPerLine(t *testing.T) {
	got := execStart([]string{"/bin/x", "--a=1", "--b=2"})
	if want := "/bin/x \\\n\t--a=1 \\\n\t--b=2"; got != want {
		t.Errorf("execStart = %q, want %q", got, want)
	}
}

func TestParseExecStartErrors(t *testing.T) {
	for name, file := range map[string]string{
		"no ExecStart":        "[Service]\nRestart=always\n",
		"two ExecStart":       "[Service]\nExecStart=/bin/a\nExecStart=/bin/b\n",
		"ExecStart elsewhere": "[Unit]\nExecStart=/bin/a\n",
		"open quote":          "[Service]\nExecStart=/bin/a \"--x=1\n",
		"empty":               "[Service]\nExecStart=\n",
		"not a unit file":     "ExecStart=/bin/a\n",
	} {
		if _, _, err := ParseExecStart([]byte(file)); err == nil {
			t.Errorf("%s: no error for %q", name, file)
		}
	}
}

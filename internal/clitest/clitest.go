// Package clitest holds what the commands' Go tests share: running their
// testscript scripts, checking an exit status and the error a command
// reported.
package clitest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// Scripts runs the calling command's testdata/*.txtar scripts with
// $TESTDATA set to the repository's testdata directory; p.Setup, when set,
// runs after that. Commands are in cmd/NAME, so the directory is
// ../../testdata.
func Scripts(t *testing.T, p testscript.Params) {
	t.Helper()
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if p.Dir == "" {
		p.Dir = "testdata"
	}
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		env.Setenv("TESTDATA", testdata)
		if setup != nil {
			return setup(env)
		}
		return nil
	}
	testscript.Run(t, p)
}

// CheckExit fails t unless code is want, stderr contains errCode (when it
// is not empty), and a successful run wrote nothing to stderr.
func CheckExit(t testing.TB, code int, stderr string, want int, errCode string) {
	t.Helper()
	if code != want {
		t.Errorf("exit = %d, want %d; stderr: %s", code, want, stderr)
	}
	if errCode != "" && !strings.Contains(stderr, errCode) {
		t.Errorf("stderr = %q, want %s", stderr, errCode)
	}
	if want == 0 && stderr != "" {
		t.Errorf("stderr on success: %q", stderr)
	}
}

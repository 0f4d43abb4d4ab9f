// Package clitest holds what the commands' Go tests share: checking an
// exit status and the error a command reported.
package clitest

import (
	"strings"
	"testing"
)

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

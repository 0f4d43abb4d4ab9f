package clitest

import (
	"fmt"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestCheckExit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     int
		stderr   string
		want     int
		errCode  string
		failures int
	}{
		{"success", 0, "", 0, "", 0},
		{"failure as expected", 3, "arxi-x: error: line 1: input.malformed_json: bad", 3, "input.malformed_json", 0},
		{"wrong exit", 1, "", 0, "", 1},
		{"wrong code", 3, "arxi-x: error: input.too_large: big", 3, "input.malformed_json", 1},
		{"noise on success", 0, "warning", 0, "", 1},
		{"everything wrong", 0, "noise", 2, "usage.invalid", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			CheckExit(r, tc.code, tc.stderr, tc.want, tc.errCode)
			if len(r.errs) != tc.failures {
				t.Errorf("failures = %q, want %d", r.errs, tc.failures)
			}
		})
	}
}

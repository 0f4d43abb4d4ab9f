package clitest

import (
	"fmt"
	"strings"
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

// TestValidate: the validate command passes records that keep their
// schemas, line by line or as one document, and names what breaks one.
func TestValidate(t *testing.T) {
	const dir = "../../docs/generated"
	receipt := `{"chain_hash":"sha256:5c14cff687e86dc64bba7ace4d9a525e86d3fc3347f719b83973c0ec00612ea4","envelope_id":"01a202b2-c500-759f-97d1-8aa729f9c412","record":"receipt","segment_id":"01a202b2-c500-7857-b082-3e3dd48f7a81","sequence":1}`
	key := "{\n  \"algorithm\": \"ed25519\",\n  \"key_id\": \"5c14cff687e86dc64bba7ace4d9a525e86d3fc3347f719b83973c0ec00612ea4\",\n  \"public_key\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n}\n"
	for _, tc := range []struct {
		name, kind, data string
		broken           string // "": valid
	}{
		{"receipts", "receipt", receipt + "\n" + receipt + "\n", ""},
		{"by record", "record", receipt + "\n", ""},
		{"a document on several lines", "trusted_key", key, ""},
		{"an unknown key", "receipt", strings.Replace(receipt, `{`, `{"extra":1,`, 1) + "\n", "line 1"},
		{"the second line", "receipt", receipt + "\n" + strings.Replace(receipt, `"sequence":1`, `"sequence":0`, 1) + "\n", "line 2"},
		{"a record of another kind", "record", strings.Replace(receipt, `"receipt"`, `"seal"`, 1) + "\n", "line 1 (seal)"},
		{"not JSON", "receipt", "{\n", "not JSON"},
		{"nothing", "receipt", "", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs, err := validate(dir, tc.kind, []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprint(errs)
			switch {
			case tc.broken == "" && len(errs) > 0:
				t.Errorf("valid data reported: %s", got)
			case tc.broken != "" && !strings.Contains(got, tc.broken):
				t.Errorf("validate = %s, want an error naming %q", got, tc.broken)
			}
		})
	}
	if _, err := validate(dir, "no_such_record", []byte("{}")); err == nil {
		t.Error("an unknown schema is accepted")
	}
}

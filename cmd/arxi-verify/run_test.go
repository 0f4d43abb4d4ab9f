package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/internal/clitest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"arxi-verify": main})
}

// TestScripts runs testdata/*.txtar with the files of package fixture in
// the work directory.
func TestScripts(t *testing.T) {
	clitest.Scripts(t, testscript.Params{
		Setup: func(env *testscript.Env) error {
			return fixture.Write(env.WorkDir, filepath.Join(env.Getenv("TESTDATA"), "demo", "events.ndjson"))
		},
	})
}

func fixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := fixture.Write(dir, "../../testdata/demo/events.ndjson"); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExitCodes checks run's exit status for each outcome (SPEC §10, §12).
func TestExitCodes(t *testing.T) {
	dir := fixtures(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name   string
		args   []string
		stdin  string
		code   int
		stdout bool // a verdict is printed
	}{
		{"valid bundle", []string{f("demo.arxb")}, "", 0, true},
		{"valid zstd bundle from stdin", []string{"-"}, "demo.arxb.zst", 0, true},
		{"valid stream", []string{f("demo.ndjson")}, "", 0, true},
		{"valid, trusted", []string{"--trust-root", f("root.json"), f("demo.arxb")}, "", 0, true},
		{"invalid: tampered", []string{f("tampered.arxb")}, "", 1, true},
		{"invalid: untrusted signer", []string{"--trust-root", f("other-root.json"), f("demo.arxb")}, "", 1, true},
		{"strict: signature_skipped", []string{"--strict", f("demo.arxb")}, "", 1, true},
		{"strict: no warning", []string{"--strict", "--trust-root", f("root.json"), f("demo.arxb")}, "", 0, true},
		{"usage: two files", []string{f("demo.arxb"), f("demo.arxb")}, "", 2, false},
		{"usage: unknown flag", []string{"--bogus", f("demo.arxb")}, "", 2, false},
		{"usage: bad phase", []string{"--phases", "1,9", f("demo.arxb")}, "", 2, false},
		{"config: zero max envelopes", []string{"--max-envelopes", "0", f("demo.arxb")}, "", 2, false},
		{"config: missing trust root", []string{"--trust-root", f("nope.json"), f("demo.arxb")}, "", 2, false},
		{"config: bad trust root", []string{"--trust-root", f("demo.arxb"), f("demo.arxb")}, "", 2, false},
		{"rejected: not a bundle", []string{f("root.json")}, "", 3, false},
		{"rejected: empty", []string{"-"}, "", 3, false},
		{"rejected: over the envelope limit", []string{"--max-envelopes", "5", f("demo.arxb")}, "", 3, false},
		{"io: missing file", []string{f("nope.arxb")}, "", 4, false},
		{"help", []string{"--help"}, "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdin []byte
			if tc.stdin != "" {
				var err error
				if stdin, err = os.ReadFile(f(tc.stdin)); err != nil {
					t.Fatal(err)
				}
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), tc.args, bytes.NewReader(stdin), &out, &errb)
			if code != tc.code {
				t.Errorf("exit = %d, want %d; stderr: %s", code, tc.code, errb.String())
			}
			if got := out.Len() > 0; got != tc.stdout {
				t.Errorf("stdout printed = %v, want %v: %s", got, tc.stdout, out.String())
			}
			if tc.code >= 2 && !strings.HasPrefix(errb.String(), "arxi-verify: error: ") {
				t.Errorf("stderr = %q, want an arxi-verify: error: line", errb.String())
			}
		})
	}
}

// TestVerdictBytes: the same bundle gives the same verdict bytes, plain or
// compressed, from a file or stdin.
func TestVerdictBytes(t *testing.T) {
	dir := fixtures(t)
	verdict := func(args []string, stdin string) string {
		var in []byte
		if stdin != "" {
			in, _ = os.ReadFile(filepath.Join(dir, stdin))
		}
		var out, errb bytes.Buffer
		run(context.Background(), args, bytes.NewReader(in), &out, &errb)
		return out.String()
	}
	want := verdict([]string{filepath.Join(dir, "demo.arxb")}, "")
	for _, got := range []string{
		verdict([]string{filepath.Join(dir, "demo.arxb")}, ""),
		verdict([]string{filepath.Join(dir, "demo.arxb.zst")}, ""),
		verdict(nil, "demo.arxb"),
		verdict([]string{"-v", "-"}, "demo.arxb.zst"),
	} {
		if got != want {
			t.Errorf("verdict differs:\n%s\n%s", got, want)
		}
	}
}

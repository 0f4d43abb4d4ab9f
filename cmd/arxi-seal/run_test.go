package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/stream"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"arxi-seal": main})
}

// TestScripts runs testdata/*.txtar with fast.pem in the work directory:
// an encrypted key (passphrase "fast-pass") whose PBKDF2 cost is low, so
// scripts can open encrypted keys cheaply, and fast.json, its entry.
func TestScripts(t *testing.T) {
	k, err := signing.Generate(nil)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := k.MarshalPEM([]byte("fast-pass"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	clitest.Scripts(t, testscript.Params{
		Setup: func(env *testscript.Env) error {
			if err := os.WriteFile(filepath.Join(env.WorkDir, "fast.pem"), pem, 0o600); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(env.WorkDir, "fast.json"), append(k.TrustedKey().AppendJCS(nil), '\n'), 0o644)
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"append": appendCmd},
	})
}

// appendCmd is the script command "append DB FILE": append a sealed
// stream to a store through pkg/store, as arxi-append does (whose binary
// the scripts of arxi-seal do not have); a refusal is printed on stderr as
// "append: CODE: message".
func appendCmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: append DB FILE")
	}
	ctx := context.Background()
	s, err := backend.OpenStore(ctx, backend.Config{Store: ts.MkAbs(args[0])}, store.Config{})
	if err == nil {
		defer s.Close()
		var a *store.Appender
		if a, err = s.Appender(ctx); err == nil {
			defer a.Close()
			_, err = store.AppendStream(ctx, a, strings.NewReader(ts.ReadFile(args[1])), store.AppendOptions{})
		}
	}
	if err != nil {
		fmt.Fprintf(ts.Stderr(), "append: %v\n", err)
	}
	if (err != nil) != neg {
		ts.Fatalf("append %s: %v", args[1], err)
	}
}

func runSeal(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

const good = `{"event_type":"tool.call","actor_id":"agent:alpha","environment_id":"prod","adapter_id":"example","claimed_at":"2026-11-22T10:00:00Z","payload":{"ok":true}}` + "\n"

// line2 builds the second input line from good with one substitution.
func line2(old, new string) string {
	l := strings.Replace(good, old, new, 1)
	if l == good {
		panic("substitution did not apply: " + old)
	}
	return l
}

// TestBadInput covers every bad-input class of SPEC §2-4 and §16: exit 3,
// the right code and line number, the good first line sealed, nothing
// written for the bad line.
func TestBadInput(t *testing.T) {
	unseen := `"sha256:` + strings.Repeat("ab", 32) + `"`
	for _, tc := range []struct {
		name string
		bad  string
		code string
		args []string
	}{
		{"non-UTC time", line2(`10:00:00Z`, `10:00:00+01:00`), "input.non_utc_time", nil},
		{"zero offset", line2(`10:00:00Z`, `10:00:00+00:00`), "input.non_utc_time", nil},
		{"time out of range", line2(`2026-11-22T10:00:00Z`, `1969-12-31T23:59:59Z`), "input.field_invalid", nil},
		{"unknown field", line2(`"payload"`, `"extra":1,"payload"`), "input.unknown_field", nil},
		{"missing field", line2(`"adapter_id":"example",`, ``), "input.missing_field", nil},
		{"missing payload", line2(`,"payload":{"ok":true}`, ``), "input.missing_field", nil},
		{"blank actor", line2(`"agent:alpha"`, `" \t "`), "input.field_invalid", nil},
		{"control character", line2(`"prod"`, `"pr\u0000od"`), "input.field_invalid", nil},
		{"identifier too long", line2(`"agent:alpha"`, `"`+strings.Repeat("a", 257)+`"`), "input.field_invalid", nil},
		{"bad event type", line2(`"tool.call"`, `"Tool Call"`), "input.field_invalid", nil},
		{"non-v7 uuid", line2(`"payload"`, `"envelope_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","payload"`), "input.field_invalid", nil},
		{"schema version 2", line2(`"payload"`, `"schema_version":2,"payload"`), "input.field_invalid", nil},
		{"bad base64", line2(`"payload"`, `"attachments":[{"content_type":"text/plain","data":"%%%"}],"payload"`), "input.field_invalid", nil},
		{"empty attachment", line2(`"payload"`, `"attachments":[{"content_type":"text/plain","data":""}],"payload"`), "input.field_invalid", nil},
		{"unseen reference", line2(`"payload"`, `"attachments":[{"content_type":"text/plain","hash":`+unseen+`,"size":3}],"payload"`), "input.attachment_missing", nil},
		{"big integer", line2(`{"ok":true}`, `{"n":12345678901234567890}`), "input.number_precision", nil},
		{"duplicate keys", line2(`"payload"`, `"actor_id":"x","payload"`), "input.malformed_json", nil},
		{"invalid UTF-8", line2(`{"ok":true}`, "\"\xc3\x28\""), "input.malformed_json", nil},
		{"lone surrogate", line2(`{"ok":true}`, `"\ud83d"`), "input.malformed_json", nil},
		{"NaN", line2(`{"ok":true}`, `NaN`), "input.malformed_json", nil},
		{"too deep", line2(`{"ok":true}`, strings.Repeat("[", 65)+strings.Repeat("]", 65)), "input.too_deep", nil},
		{"line too large", line2(`{"ok":true}`, `"`+strings.Repeat("x", 400)+`"`), "input.too_large", []string{"--max-line-bytes", "400"}},
		{"payload too large", line2(`{"ok":true}`, `"`+strings.Repeat("x", 300)+`"`), "input.too_large", []string{"--max-payload-bytes", "200"}},
		{"blank line", "\n", "input.malformed_json", nil},
		{"not json", "hello\n", "input.malformed_json", nil},
		{"truncated last line", strings.TrimSuffix(good, "\n"), "input.malformed_json", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--recorder-id", "r", "--seal-at-end"}, tc.args...)
			code, stdout, stderr := runSeal(t, good+tc.bad+good, args...)
			if code != 3 {
				t.Fatalf("exit = %d, want 3; stderr: %s", code, stderr)
			}
			if want := "arxi-seal: error: line 2: " + tc.code + ": "; !strings.HasPrefix(stderr, want) {
				t.Errorf("stderr = %q, want prefix %q", stderr, want)
			}
			var kinds []string
			r := stream.NewReader(strings.NewReader(stdout), stream.Sealed, evidence.Limits{})
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("stdout is not a sealed stream: %v\n%s", err, stdout)
				}
				kinds = append(kinds, rec.Kind().String())
			}
			if got := strings.Join(kinds, ","); got != "genesis,envelope" {
				t.Errorf("stdout records = %s, want genesis,envelope (the first line only, no seal)", got)
			}
		})
	}
}

// TestBadInputAtDefaultLimits checks the real SPEC §16 limits, not lowered ones.
func TestBadInputAtDefaultLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 24 MiB line")
	}
	huge := line2(`{"ok":true}`, `"`+strings.Repeat("x", 24<<20)+`"`)
	code, _, stderr := runSeal(t, good+huge, "--recorder-id", "r")
	if code != 3 || !strings.Contains(stderr, "line 2: input.too_large") {
		t.Errorf("24 MiB line: exit %d, %s", code, stderr)
	}
	payload := line2(`{"ok":true}`, `"`+strings.Repeat("x", 4<<20)+`"`)
	code, _, stderr = runSeal(t, good+payload, "--recorder-id", "r")
	if code != 3 || !strings.Contains(stderr, "line 2: input.too_large") || !strings.Contains(stderr, "payload") {
		t.Errorf("4 MiB payload: exit %d, %s", code, stderr)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "seal.toml")
	os.WriteFile(cfg, []byte("[arxi-seal]\nrecorder-id = \"from-config\"\nseal-at-end = true\n"), 0o600)
	badCfg := filepath.Join(dir, "bad.toml")
	os.WriteFile(badCfg, []byte("[arxi-seal]\nrecorder-idd = \"x\"\n"), 0o600)
	bigCfg := filepath.Join(dir, "big.toml")
	os.WriteFile(bigCfg, bytes.Repeat([]byte("# padding\n"), 110_000), 0o600)
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		err   string
	}{
		{"ok", []string{"--recorder-id", "r"}, good, 0, ""},
		{"empty input", []string{"--recorder-id", "r", "--seal-at-end"}, "", 0, ""},
		{"help", []string{"--help"}, "", 0, ""},
		{"version", []string{"--version"}, "", 0, ""},
		{"no recorder", nil, good, 2, "usage.invalid"},
		{"bad recorder", []string{"--recorder-id", " "}, good, 2, "config.invalid"},
		{"unknown flag", []string{"--recorder-id", "r", "--nope"}, good, 2, "usage.invalid"},
		{"positional argument", []string{"--recorder-id", "r", "file"}, good, 2, "usage.invalid"},
		{"zero max envelopes", []string{"--recorder-id", "r", "--max-envelopes", "0"}, good, 2, "config.invalid"},
		{"negative duration", []string{"--recorder-id", "r", "--max-duration", "-1s"}, good, 2, "config.invalid"},
		{"zero duration", []string{"--recorder-id", "r", "--max-duration", "0s"}, good, 2, "config.invalid"},
		{"raise line limit", []string{"--recorder-id", "r", "--max-line-bytes", "100000000"}, good, 2, "config.invalid"},
		{"half predecessor", []string{"--recorder-id", "r", "--predecessor-segment", "01a202b2-c500-7fca-84b6-746b5f17ba11"}, good, 2, "usage.invalid"},
		{"bad predecessor head", []string{"--recorder-id", "r", "--predecessor-segment", "01a202b2-c500-7fca-84b6-746b5f17ba11", "--predecessor-head", "sha256:00"}, good, 2, "config.invalid"},
		{"config file", []string{"--config", cfg}, good, 0, ""},
		{"config unknown key", []string{"--config", badCfg}, good, 2, "config.invalid"},
		{"config too large", []string{"--config", bigCfg, "--recorder-id", "r"}, good, 2, "config.invalid"},
		{"config missing", []string{"--config", filepath.Join(dir, "none.toml"), "--recorder-id", "r"}, good, 2, "config.invalid"},
		{"missing key file", []string{"--recorder-id", "r", "--sign-key", filepath.Join(dir, "none.pem")}, good, 2, "key.malformed"},
		{"bad error format", []string{"--recorder-id", "r", "--error-format", "xml"}, good, 2, "usage.invalid"},
		{"bad progress", []string{"--recorder-id", "r", "--progress", "loud"}, good, 2, "usage.invalid"},
		{"malformed input", []string{"--recorder-id", "r"}, "{\n", 3, "input.malformed_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runSeal(t, tc.stdin, tc.args...)
			clitest.CheckExit(t, code, stderr, tc.code, tc.err)
		})
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("ARXI_RECORDER_ID", "from-env")
	t.Setenv("ARXI_SEAL_AT_END", "true")
	code, stdout, stderr := runSeal(t, good)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"recorder_id":"from-env"`) || !strings.Contains(stdout, `"reason":"end_of_stream"`) {
		t.Errorf("environment not applied: %s", stdout)
	}
	// A flag beats the environment.
	_, stdout, _ = runSeal(t, good, "--recorder-id", "from-flag")
	if !strings.Contains(stdout, `"recorder_id":"from-flag"`) {
		t.Errorf("flag did not win over environment: %s", stdout)
	}
}

func TestErrorFormatJSON(t *testing.T) {
	code, _, stderr := runSeal(t, good+line2(`"payload"`, `"bogus":1,"payload"`), "--recorder-id", "r", "--error-format", "json")
	if code != 3 {
		t.Fatalf("exit %d", code)
	}
	var e struct {
		Code, Field, Message, Tool string
		Line                       int
	}
	if err := json.Unmarshal([]byte(stderr), &e); err != nil {
		t.Fatalf("stderr is not one JSON object: %q", stderr)
	}
	if e.Code != "input.unknown_field" || e.Line != 2 || e.Field != "bogus" || e.Tool != "arxi-seal" {
		t.Errorf("error = %+v", e)
	}
}

func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key.pem")
	pass := filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("correct horse\n"), 0o600)
	code, stdout, stderr := runSeal(t, "", "keygen", "-o", key, "--sign-passphrase-file", pass)
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	st, err := os.Stat(key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %o, want 600", st.Mode().Perm())
	}
	var entry map[string]string
	if err := json.Unmarshal([]byte(stdout), &entry); err != nil {
		t.Fatalf("stdout is not a trust-root entry: %q", stdout)
	}
	pub, err := base64.StdEncoding.DecodeString(entry["public_key"])
	if err != nil || len(pub) != 32 || entry["algorithm"] != "ed25519" || entry["key_id"] != scalar.KeyIDOf(pub).String() {
		t.Errorf("trust-root entry = %v", entry)
	}
	pem, _ := os.ReadFile(key)
	if !bytes.Contains(pem, []byte("ENCRYPTED PRIVATE KEY")) {
		t.Errorf("key is not encrypted")
	}
	// Refuses to overwrite, and leaves the file alone.
	code, _, stderr = runSeal(t, "", "keygen", "-o", key, "--sign-passphrase-file", pass)
	if code != 2 || !strings.Contains(stderr, "key.exists") {
		t.Errorf("overwrite: exit %d: %s", code, stderr)
	}
	if again, _ := os.ReadFile(key); !bytes.Equal(again, pem) {
		t.Errorf("key file changed")
	}
	// Signing with it: the passphrase file, then a wrong one.
	code, stdout, stderr = runSeal(t, good, "--recorder-id", "r", "--sign-key", key, "--sign-passphrase-file", pass)
	if code != 0 || !strings.Contains(stdout, `"signatures":[{"algorithm":"ed25519"`) {
		t.Errorf("signed seal: exit %d %s", code, stderr)
	}
	os.WriteFile(pass, []byte("wrong\n"), 0o600)
	code, _, stderr = runSeal(t, good, "--recorder-id", "r", "--sign-key", key, "--sign-passphrase-file", pass)
	if code != 2 || !strings.Contains(stderr, "key.passphrase") {
		t.Errorf("wrong passphrase: exit %d %s", code, stderr)
	}
	// No passphrase and no opt-down.
	code, _, stderr = runSeal(t, "", "keygen", "-o", filepath.Join(dir, "k2.pem"))
	if code != 2 || !strings.Contains(stderr, "key.passphrase") {
		t.Errorf("keygen without passphrase: exit %d %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "k2.pem")); err == nil {
		t.Errorf("a failed keygen left a file")
	}
}

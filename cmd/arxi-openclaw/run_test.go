package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/zstdio"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"arxi-openclaw": main})
}

func TestScripts(t *testing.T) {
	golden, err := filepath.Abs("../../pkg/openclaw/testdata/golden")
	if err != nil {
		t.Fatal(err)
	}
	clitest.Scripts(t, testscript.Params{
		Setup: func(env *testscript.Env) error {
			env.Setenv("GOLDEN", golden)
			return nil
		},
	})
}

func runOC(stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, stdin, &out, &errb)
	return code, out.String(), errb.String()
}

const inputs = "../../testdata/openclaw/"

// TestExitCodes checks run's exit status (SPEC §12) for each class of
// outcome, and that a failure writes nothing on stdout.
func TestExitCodes(t *testing.T) {
	gap := "{\"type\":\"event\",\"event\":\"agent\",\"payload\":{\"runId\":\"r\",\"seq\":2,\"stream\":\"x\",\"ts\":1,\"data\":{}}}\n"
	for _, tc := range []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout bool   // something on stdout
		stderr string // substring of stderr
	}{
		{"frames", "", []string{inputs + "capture.frames.ndjson"}, 0, true, "arxi-openclaw: skipped 20 frames"},
		{"frames on stdin", "@capture.frames.ndjson", nil, 0, true, ""},
		{"frames on stdin as -", "@capture.frames.ndjson", []string{"-"}, 0, true, ""},
		{"payloads", "", []string{"--payloads", inputs + "capture.payloads.ndjson"}, 0, true, "warning: line 85: run \"run-00-002\" attempt 0: 1 tool call without a result"},
		{"transcript", "", []string{"--transcript", inputs + "v3-session.jsonl"}, 0, true, ""},
		{"sequence gap", gap, nil, 1, false, "line 1: openclaw.sequence_gap: run \"r\" attempt 0: missing 1 (received 2)"},
		{"sequence anomaly", gap, []string{"--sequence", "anomaly"}, 0, true, ""},
		{"require paired", "", []string{"--require-paired", inputs + "capture.frames.ndjson"}, 1, false, "openclaw.unpaired_tool"},
		{"tree", "", []string{"--transcript", "testdata/tree.jsonl"}, 1, false, "openclaw.transcript_tree"},
		{"malformed", "{\n", nil, 3, false, "line 1: input.malformed_json"},
		{"frames given as a transcript", "", []string{"--transcript", inputs + "capture.frames.ndjson"}, 3, false, "line 1: input.field_invalid: field \"$.type\""},
		{"transcript version", "{\"type\":\"session\",\"version\":9,\"id\":\"s\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"cwd\":\"/\"}\n", []string{"--transcript"}, 3, false, "openclaw.unsupported_version"},
		{"max input", "", []string{"--max-input", "100", inputs + "capture.frames.ndjson"}, 3, false, "input.too_large"},
		{"missing file", "", []string{filepath.Join(t.TempDir(), "nope")}, 4, false, "io.failed"},
		{"two files", "", []string{"a", "b"}, 2, false, "usage.invalid"},
		{"payloads and transcript", "", []string{"--payloads", "--transcript"}, 2, false, "exclude each other"},
		{"frame seq of payloads", "", []string{"--payloads", "--frame-seq"}, 2, false, "--frame-seq"},
		{"session key of frames", "", []string{"--session-key", "agent:main:main"}, 2, false, "--session-key"},
		{"bad sequence policy", "", []string{"--sequence", "lenient"}, 2, false, `config.invalid: field "sequence"`},
		{"other mapping version", "", []string{"--mapping-version", "arxi-openclaw/2"}, 2, false, "implements arxi-openclaw/1, not arxi-openclaw/2"},
		{"bad actor", "", []string{"--actor", " "}, 2, false, `field "actor"`},
		{"bad environment", "", []string{"--environment", "a\tb"}, 2, false, `field "environment"`},
		{"bad max-string", "", []string{"--max-string", "0"}, 2, false, `field "max-string"`},
		{"bad max-record", "", []string{"--max-record", "99999999"}, 2, false, `field "max-record"`},
		{"bad max-input", "", []string{"--max-input", "0"}, 2, false, `field "max-input"`},
		{"bad redact path", "", []string{"--redact-path", "data.args"}, 2, false, `field "redact-path"`},
		{"unknown flag", "", []string{"--nope"}, 2, false, "usage.invalid"},
		{"help", "", []string{"--help"}, 0, true, ""},
		{"version", "", []string{"--version"}, 0, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdin io.Reader = strings.NewReader(tc.stdin)
			if name, ok := strings.CutPrefix(tc.stdin, "@"); ok {
				f, err := os.Open(inputs + name)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				stdin = struct{ io.Reader }{f} // a reader that cannot seek: stdin is spooled
			}
			code, stdout, stderr := runOC(stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit = %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if (stdout != "") != tc.stdout {
				t.Errorf("stdout = %.200q, want output %v", stdout, tc.stdout)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr = %q, want %q", stderr, tc.stderr)
			}
			if tc.code != 0 && !strings.HasPrefix(stderr, "arxi-openclaw: error: ") {
				t.Errorf("stderr = %q, want arxi-openclaw: error: …", stderr)
			}
		})
	}
}

// TestGoldenCLI: arxi-openclaw writes exactly the library's golden output,
// from a file and from stdin.
func TestGoldenCLI(t *testing.T) {
	for _, tc := range []struct{ golden, args string }{
		{"capture.frames.ndjson", inputs + "capture.frames.ndjson"},
		{"capture.payloads.ndjson", "--payloads " + inputs + "capture.payloads.ndjson"},
		{"pi-mono-v1-before-compaction.ndjson", "--transcript " + inputs + "pi-mono-v1-before-compaction.lines1_629-642.jsonl"},
		{"v3-session.ndjson", "--transcript --session-key agent:main:webchat:dm:user-00 --environment prod " + inputs + "v3-session.jsonl"},
	} {
		want, err := os.ReadFile(filepath.Join("../../pkg/openclaw/testdata/golden", tc.golden))
		if err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runOC(nil, strings.Fields(tc.args)...)
		if code != 0 || stdout != string(want) {
			t.Errorf("arxi-openclaw %s: exit %d, output differs from %s; stderr: %s", tc.args, code, tc.golden, stderr)
		}
	}
}

func TestErrorFormatJSON(t *testing.T) {
	code, _, stderr := runOC(strings.NewReader("{\"type\":\"nope\"}\n"), "--error-format", "json")
	if code != 3 {
		t.Fatalf("exit %d", code)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(stderr), &e); err != nil || e["code"] != "input.field_invalid" || e["tool"] != "arxi-openclaw" ||
		e["line"] != 1.0 || e["field"] != "$.type" {
		t.Errorf("stderr = %s (%v)", stderr, err)
	}
}

// TestZstdInput: a zstd-compressed capture maps to exactly the plain
// capture's envelopes (its input_sha256 is of the decompressed bytes); a
// truncated one is input.zstd.
func TestZstdInput(t *testing.T) {
	raw, err := os.ReadFile(inputs + "capture.frames.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	w, err := zstdio.NewWriter(&z)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(raw)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "capture.ndjson.zst")
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runOC(nil, path)
	want, _ := os.ReadFile("../../pkg/openclaw/testdata/golden/capture.frames.ndjson")
	if code != 0 || stdout != string(want) {
		t.Errorf("exit %d, output differs from the plain capture's; stderr: %s", code, stderr)
	}
	code, _, stderr = runOC(bytes.NewReader(z.Bytes()[:z.Len()/2]))
	if code != 3 || !strings.Contains(stderr, "input.zstd") {
		t.Errorf("truncated zstd: exit %d, stderr %s", code, stderr)
	}
}

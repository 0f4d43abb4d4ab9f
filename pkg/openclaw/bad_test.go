package openclaw

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
)

const goodFrame = `{"type":"event","event":"agent","payload":{"runId":"r","seq":1,"stream":"assistant","ts":1795341600000,"data":{"delta":"x"}}}`

// frameWith is goodFrame with old replaced by new.
func frameWith(old, new string) string {
	if !strings.Contains(goodFrame, old) {
		panic(old)
	}
	return strings.Replace(goodFrame, old, new, 1)
}

func nested(depth int, leaf string) string {
	return strings.Repeat(`{"a":`, depth) + leaf + strings.Repeat(`}`, depth)
}

// TestBadInput: every case of OPENCLAW.md §7 is refused, before anything
// is written, with one error naming the line and the JSON path (exit 3).
func TestBadInput(t *testing.T) {
	header := `{"type":"session","version":3,"id":"s","timestamp":"2026-11-22T09:00:00Z","cwd":"/"}`
	for _, tc := range []struct {
		name   string
		format Format
		in     string
		code   errcode.Code
		line   int64
		field  string
		msg    string
	}{
		{"malformed JSON", Frames, goodFrame + "\n" + `{"type":"event",` + "\n", errcode.InputMalformedJSON, 2, "", "expected a string key"},
		{"invalid UTF-8", Frames, frameWith(`"delta":"x"`, "\"delta\":\"\xff\"") + "\n", errcode.InputMalformedJSON, 1, "$.payload.data.delta", "invalid UTF-8"},
		{"lone surrogate", Frames, frameWith(`"delta":"x"`, `"delta":"\ud800"`) + "\n", errcode.InputMalformedJSON, 1, "$.payload.data.delta", "surrogate"},
		{"duplicate key", Frames, frameWith(`"seq":1,`, `"seq":1,"seq":2,`) + "\n", errcode.InputMalformedJSON, 1, "$.payload", "duplicate"},
		{"blank line", Frames, goodFrame + "\n\n" + goodFrame + "\n", errcode.InputMalformedJSON, 2, "", "blank line"},
		{"whitespace line", Frames, goodFrame + "\n \t\n", errcode.InputMalformedJSON, 2, "", "blank line"},
		{"not an object", Payloads, "[1,2]\n", errcode.InputFieldInvalid, 1, "$", "must be an object"},
		{"missing runId", Frames, frameWith(`"runId":"r",`, ``) + "\n", errcode.InputMissingField, 1, "$.payload.runId", "missing"},
		{"missing seq", Frames, frameWith(`"seq":1,`, ``) + "\n", errcode.InputMissingField, 1, "$.payload.seq", "missing"},
		{"missing payload", Frames, `{"type":"event","event":"agent"}` + "\n", errcode.InputMissingField, 1, "$.payload", "missing"},
		{"missing data", Payloads, `{"runId":"r","seq":1,"stream":"x","ts":1}` + "\n", errcode.InputMissingField, 1, "$.data", "missing"},
		{"seq a string", Frames, frameWith(`"seq":1,`, `"seq":"1",`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.seq", "must be an integer, not a string"},
		{"seq a float", Frames, frameWith(`"seq":1,`, `"seq":1.0,`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.seq", "not the float 1.0"},
		{"seq negative", Frames, frameWith(`"seq":1,`, `"seq":-1,`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.seq", "non-negative"},
		{"seq beyond 2^53", Frames, frameWith(`"seq":1,`, `"seq":9007199254740993,`) + "\n", errcode.InputNumberPrecision, 1, "$.payload.seq", "±2^53"},
		{"ts beyond 2^53", Payloads, `{"runId":"r","seq":1,"stream":"x","ts":-90071992547409930,"data":{}}` + "\n", errcode.InputNumberPrecision, 1, "$.ts", "±2^53"},
		{"ts a float", Frames, frameWith(`"ts":1795341600000`, `"ts":1795341600000.5`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.ts", "float"},
		{"ts before 1970", Frames, frameWith(`"ts":1795341600000`, `"ts":-1`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.ts", "outside the range"},
		{"frame seq a float", Frames, strings.TrimSuffix(goodFrame, "}") + `,"seq":2.5}` + "\n", errcode.InputFieldInvalid, 1, "$.seq", "float"},
		{"empty stream", Frames, frameWith(`"stream":"assistant"`, `"stream":""`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.stream", "empty"},
		{"data a string", Frames, frameWith(`"data":{"delta":"x"}`, `"data":"x"`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.data", "must be an object"},
		{"runId not an identifier", Frames, frameWith(`"runId":"r"`, `"runId":"r\n1"`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.runId", "control character"},
		{"sessionKey a number", Frames, frameWith(`"seq":1,`, `"seq":1,"sessionKey":7,`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.sessionKey", "a string"},
		{"agentId blank", Frames, frameWith(`"seq":1,`, `"seq":1,"agentId":"\u0000",`) + "\n", errcode.InputFieldInvalid, 1, "$.payload.agentId", "actor_id"},
		{"toolCallId a number", Frames, strings.NewReplacer(`"assistant"`, `"tool"`, `{"delta":"x"}`, `{"phase":"start","toolCallId":7}`).Replace(goodFrame), errcode.InputFieldInvalid, 1, "$.payload.data.toolCallId", "a string"},
		{"toolCallId not an identifier", Frames, strings.NewReplacer(`"assistant"`, `"tool"`, `{"delta":"x"}`, `{"phase":"start","toolCallId":" "}`).Replace(goodFrame), errcode.InputFieldInvalid, 1, "$.payload.data.toolCallId", "blank"},
		{"gap notice without numbers", Frames, strings.NewReplacer(`"seq":1,"stream":"assistant"`, `"stream":"error"`, `{"delta":"x"}`, `{"reason":"seq gap","received":3}`).Replace(goodFrame), errcode.InputMissingField, 1, "$.payload.data.expected", "missing"},
		{"too deep", Frames, frameWith(`{"delta":"x"}`, nested(62, "1")) + "\n", errcode.InputTooDeep, 1, "$.payload.data" + strings.Repeat(".a", 61), "nests deeper than 63 levels"},
		{"too deep payload", Payloads, `{"runId":"r","seq":1,"stream":"x","ts":1,"data":` + nested(62, "[]") + "}\n", errcode.InputTooDeep, 1, "$.data" + strings.Repeat(".a", 61), "nests deeper than 62 levels"},
		{"unknown frame type", Frames, `{"type":"hello","id":"1"}` + "\n", errcode.InputFieldInvalid, 1, "$.type", `unknown frame type "hello"`},
		{"frame type missing", Frames, `{"event":"agent"}` + "\n", errcode.InputMissingField, 1, "$.type", "missing"},
		{"unknown frame key", Frames, strings.TrimSuffix(goodFrame, "}") + `,"extra":1}` + "\n", errcode.InputUnknownField, 1, "$", `unknown key "extra"`},
		{"res without ok", Frames, `{"type":"res","id":"1"}` + "\n", errcode.InputMissingField, 1, "$.ok", "missing"},
		{"header not a session", Transcript, `{"type":"message","id":"s"}` + "\n", errcode.InputFieldInvalid, 1, "$.type", "session header"},
		{"unknown version", Transcript, strings.Replace(header, `"version":3`, `"version":4`, 1) + "\n", errcode.OpenClawVersion, 1, "$.version", "unsupported transcript version 4"},
		{"version a string", Transcript, strings.Replace(header, `"version":3`, `"version":"3"`, 1) + "\n", errcode.OpenClawVersion, 1, "$.version", `"3"`},
		{"header time with offset", Transcript, strings.Replace(header, `09:00:00Z`, `09:00:00+00:00`, 1) + "\n", errcode.InputNonUTCTime, 1, "$.timestamp", ""},
		{"header without cwd", Transcript, strings.Replace(header, `,"cwd":"/"`, ``, 1) + "\n", errcode.InputMissingField, 1, "$.cwd", "missing"},
		{"entry without id", Transcript, header + "\n" + `{"type":"label","parentId":null,"timestamp":"2026-11-22T09:00:00Z"}` + "\n", errcode.InputMissingField, 2, "$.id", "missing"},
		{"entry without parentId", Transcript, header + "\n" + `{"type":"label","id":"a","timestamp":"2026-11-22T09:00:00Z"}` + "\n", errcode.InputMissingField, 2, "$.parentId", "missing"},
		{"parentId a number", Transcript, header + "\n" + `{"type":"label","id":"a","parentId":1,"timestamp":"2026-11-22T09:00:00Z"}` + "\n", errcode.InputFieldInvalid, 2, "$.parentId", "string or null"},
		{"entry time local", Transcript, header + "\n" + `{"type":"label","id":"a","parentId":null,"timestamp":"2026-11-22T10:00:00+01:00"}` + "\n", errcode.InputNonUTCTime, 2, "$.timestamp", ""},
		{"v1 entry without a time", Transcript, `{"type":"session","id":"s","timestamp":"2026-11-22T09:00:00Z","cwd":"/"}` + "\n" + `{"type":"message","message":{"role":"user"}}` + "\n", errcode.InputMissingField, 2, "$.timestamp", "missing"},
		{"message time a float", Transcript, `{"type":"session","id":"s","timestamp":"2026-11-22T09:00:00Z","cwd":"/"}` + "\n" + `{"type":"message","message":{"role":"user","timestamp":1.5}}` + "\n", errcode.InputFieldInvalid, 2, "$.message.timestamp", "float"},
		{"second header", Transcript, header + "\n" + header + "\n", errcode.InputFieldInvalid, 2, "$.type", "a session header after line 1"},
		{"toolCall without id", Transcript, header + "\n" + `{"type":"message","id":"a","parentId":null,"timestamp":"2026-11-22T09:00:00Z","message":{"role":"assistant","content":[{"type":"toolCall","name":"x"}]}}` + "\n", errcode.InputMissingField, 2, "$.message.content[0].id", "missing"},
		{"empty transcript", Transcript, "", errcode.InputMissingField, 1, "", "empty transcript"},
		{"unsealed events", Frames, `{"event_type":"tool.call","actor_id":"a","environment_id":"e","adapter_id":"x","claimed_at":"2026-11-22T10:00:00Z","payload":{}}` + "\n", errcode.InputWrongKind, 1, "", "Arxi unsealed events, not an OpenClaw capture"},
		{"sealed stream", Payloads, `{"created_at":"2026-11-22T10:00:00Z","record":"genesis"}` + "\n", errcode.InputWrongKind, 1, "", "Arxi genesis records"},
		{"store", Frames, "SQLite format 3\x00\x10\x00\n", errcode.InputWrongKind, 1, "", "SQLite database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := mapCapture(t, []byte(tc.in), Config{Format: tc.format})
			e, ok := errcode.As(err)
			if !ok {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			if e.Code != tc.code || e.Line != tc.line || e.Field != tc.field || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("err = %v\nwant line %d: %s: field %q: …%s…", err, tc.line, tc.code, tc.field, tc.msg)
			}
			if errcode.ExitStatus(err) != errcode.ExitRejected {
				t.Errorf("exit %d, want 3", errcode.ExitStatus(err))
			}
			if len(out) != 0 {
				t.Error("output written")
			}
		})
	}
}

// TestLimits: a line over MaxLine and a capture over MaxInput are refused
// naming the line; a last line without its newline is accepted and the
// input hash covers exactly the bytes read.
func TestLimits(t *testing.T) {
	long := frameWith(`"delta":"x"`, `"delta":"`+strings.Repeat("x", MaxLine)+`"`)
	_, _, err := mapCapture(t, ndjson(goodFrame, long), Config{})
	if e, ok := errcode.As(err); !ok || e.Code != errcode.InputTooLarge || e.Line != 2 {
		t.Errorf("long line: %v", err)
	}
	in := ndjson(goodFrame, frameWith(`"seq":1`, `"seq":2`), frameWith(`"seq":1`, `"seq":3`))
	_, _, err = mapCapture(t, in, Config{MaxInput: int64(len(in)) - 1})
	if e, ok := errcode.As(err); !ok || e.Code != errcode.InputTooLarge || !strings.Contains(e.Msg, "input exceeds") || e.Line == 0 {
		t.Errorf("max input: %v", err)
	}
	if _, _, err := mapCapture(t, in, Config{MaxInput: int64(len(in))}); err != nil {
		t.Errorf("input of exactly MaxInput: %v", err)
	}
	trimmed := bytes.TrimSuffix(in, []byte("\n"))
	out, c, err := mapCapture(t, trimmed, Config{})
	if err != nil || len(lines(t, out)) != 3 || c.InputSHA256 != sha256.Sum256(trimmed) || c.Size != int64(len(trimmed)) || c.Lines != 3 {
		t.Errorf("no final newline: %v, %d lines", err, c.Lines)
	}
}

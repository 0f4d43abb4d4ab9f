package dg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/google/go-cmp/cmp"
)

var transcriptPath = filepath.Join("testdata", "mcp_transcript.json")

func mapTranscript(t testing.TB, path string, cfg Config) ([]byte, error) {
	t.Helper()
	tr, err := ReadTranscript(path)
	if err != nil {
		return nil, err
	}
	out, _, err := emitAll(func(e Emit) (Stats, error) { return tr.Map(cfg, e) })
	return out, err
}

func TestTranscriptGolden(t *testing.T) {
	got, err := mapTranscript(t, transcriptPath, Config{})
	if err != nil {
		t.Fatal(err)
	}
	again, _ := mapTranscript(t, transcriptPath, Config{})
	if !bytes.Equal(got, again) {
		t.Fatal("second run differs")
	}
	path := filepath.Join("testdata", "golden", "mcp_transcript.ndjson")
	if *update {
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(string(got), "\n")); diff != "" {
		t.Errorf("output differs from %s (-want +got):\n%s", path, diff)
	}
}

func TestTranscriptMapping(t *testing.T) {
	raw, _ := os.ReadFile(transcriptPath)
	sum := sha256.Sum256(raw)
	epoch := mustTime("2026-11-22T10:00:00Z")
	out, err := mapTranscript(t, transcriptPath, Config{LogicalEpoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("TRANSCRIPT-SECRET")) {
		t.Fatal("a secret from the transcript's arguments or error data is in the output")
	}
	for i, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if !canonical.IsCanonical(l) {
			t.Errorf("line %d not canonical", i+1)
		}
		if _, err := evidence.NewDecoder(evidence.DefaultLimits).Sealed(l); err != nil {
			t.Errorf("line %d: %v", i+1, err)
		}
	}
	envs := envelopes(t, out)
	var got []string
	for i, m := range envs {
		p := payload(m)
		seq := uint64(i/2 + 1)
		claimed := epoch.Add(0).Time().UnixMilli() + int64(seq)
		if ts, _ := scalar.UnixMilliTimestamp(claimed); m["claimed_at"] != ts.String() {
			t.Errorf("envelope %d: claimed_at = %v, want %s", i, m["claimed_at"], ts)
		}
		id := EnvelopeID(mustTime(m["claimed_at"].(string)), sum, m["event_type"].(string), seq)
		if m["envelope_id"] != id.String() || m["trace_id"] != hex.EncodeToString(sum[:]) || m["environment_id"] != DefaultTranscriptEnvironment {
			t.Errorf("envelope %d: id %v (want %s), trace %v, environment %v", i, m["envelope_id"], id, m["trace_id"], m["environment_id"])
		}
		rs, _ := canonical.Marshal(p["redactions"])
		got = append(got, m["event_type"].(string)+" "+p["method"].(string)+" "+string(rs))
	}
	want := []string{
		`mcp.request tools/list []`,
		`mcp.response tools/list []`,
		`mcp.request tools/call ["$.params.arguments"]`,
		`mcp.response tools/call ["$.response.result.content"]`,
		`mcp.request tools/call ["$.params.arguments"]`,
		`mcp.response tools/call ["$.response.error.data"]`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envelopes (-want +got):\n%s", diff)
	}
	if tool := payload(envs[2])["tool"]; tool != "scenario_trigger" {
		t.Errorf("tool = %v", tool)
	}
	// With redaction off, record_sha256 is the hash of the record written.
	plain, err := mapTranscript(t, transcriptPath, Config{Policy: mustPolicy(t, PolicyConfig{DisableDefaults: true})})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range envelopes(t, plain) {
		p := payload(m)
		if got := hexSum(mustJCS(t, p["record"])); got != p["source"].(map[string]any)["record_sha256"] {
			t.Errorf("%s: record_sha256 is not the hash of the record", m["event_type"])
		}
	}
}

func TestTranscriptAttach(t *testing.T) {
	out, err := mapTranscript(t, transcriptPath, Config{AttachArtifacts: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(transcriptPath)
	ls := lines(t, out)
	if ls[0]["record"] != "attachment" || ls[0]["hash"] != "sha256:"+hexSum(raw) {
		t.Errorf("first line = %v, want the transcript as an attachment", ls[0])
	}
}

func TestTranscriptMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"not an array", `{}`, `dg.malformed: field "$": must be an array, not an object`},
		{"duplicate sequence", `[{"error":null,"method":"m","request":{},"response":{},"sequence":1},{"error":null,"method":"m","request":{},"response":{},"sequence":1}]`,
			`field "$[1].sequence": sequence 1 is also the sequence of $[0]`},
		{"float sequence", `[{"error":null,"method":"m","request":{},"response":{},"sequence":1.0}]`, `field "$[0].sequence": must be an integer, not the float 1.0`},
		{"negative sequence", `[{"error":null,"method":"m","request":{},"response":{},"sequence":-1}]`, `field "$[0].sequence": must be a non-negative integer`},
		{"unknown key", `[{"error":null,"method":"m","request":{},"response":{},"sequence":1,"x":2}]`, `field "$[0]": unknown key "x"`},
		{"missing error", `[{"method":"m","request":{},"response":{},"sequence":1}]`, `field "$[0].error": missing`},
		{"error not a string", `[{"error":{},"method":"m","request":{},"response":{},"sequence":1}]`, `field "$[0].error": must be a string or null`},
		{"method not a string", `[{"error":null,"method":1,"request":{},"response":{},"sequence":1}]`, `field "$[0].method": must be a string, not a number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "t.json")
			os.WriteFile(p, []byte(tc.src), 0o644)
			_, err := mapTranscript(t, p, Config{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errcode.DGMalformed) {
				t.Errorf("err = %v, want dg.malformed %q", err, tc.want)
			}
		})
	}
}

// TestTranscriptRejectsAgentSessions: an agent session transcript
// (pi-mono/OpenClaw JSONL) is not the DG.md §5 format and is rejected with
// one dg.malformed line, not misread.
func TestTranscriptRejectsAgentSessions(t *testing.T) {
	p := filepath.Join("testdata", "openclaw", "pi-mono-v1-before-compaction.lines1_629-642.jsonl")
	_, err := ReadTranscript(p)
	if !errors.Is(err, errcode.DGMalformed) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one dg.malformed line", err)
	}
	// One line of it, as an array, is still not a transcript entry.
	b, _ := os.ReadFile(p)
	one := append(append([]byte("["), bytes.SplitN(b, []byte("\n"), 2)[0]...), ']')
	q := filepath.Join(t.TempDir(), "one.json")
	os.WriteFile(q, one, 0o644)
	if _, err := ReadTranscript(q); !errors.Is(err, errcode.DGMalformed) || !strings.Contains(err.Error(), `unknown key`) {
		t.Errorf("err = %v, want an unknown-key error", err)
	}
}

func TestTranscriptReadErrors(t *testing.T) {
	if _, err := ReadTranscript(filepath.Join(t.TempDir(), "none.json")); !errors.Is(err, errcode.IOFailed) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.json")
	os.WriteFile(big, bytes.Repeat([]byte(" "), MaxFileSize+1), 0o644)
	if _, err := ReadTranscript(big); !errors.Is(err, errcode.InputTooLarge) {
		t.Errorf("big file: %v", err)
	}
}

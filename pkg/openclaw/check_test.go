package openclaw

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/google/go-cmp/cmp"
)

const baseMillis = 1795341600000 // 2026-11-22T10:00:00Z

// agentFrame is an agent event frame of run with seq, at baseMillis+ms.
func agentFrame(run string, seq int, stream, data string) string {
	return fmt.Sprintf(`{"type":"event","event":"agent","payload":{"runId":%q,"seq":%d,"stream":%q,"ts":%d,"data":%s,"sessionKey":"agent:main:main"}}`,
		run, seq, stream, baseMillis+seq, data)
}

// seqs is a capture of run r's events with the given seqs (assistant
// deltas).
func seqs(run string, ns ...int) []string {
	var ls []string
	for _, n := range ns {
		ls = append(ls, agentFrame(run, n, "assistant", `{"delta":"x"}`))
	}
	return ls
}

func lifecycle(run string, seq int, phase string) string {
	return agentFrame(run, seq, "lifecycle", `{"phase":"`+phase+`"}`)
}

func tool(run string, seq int, phase, id string) string {
	return agentFrame(run, seq, "tool", `{"phase":"`+phase+`","name":"exec","toolCallId":"`+id+`"}`)
}

// problems lists a *CheckError's lines.
func problems(t *testing.T, err error) []string {
	t.Helper()
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a *CheckError", err)
	}
	if errcode.ExitStatus(err) != errcode.ExitInvalid {
		t.Errorf("exit status %d, want 1", errcode.ExitStatus(err))
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, p.Error())
	}
	return out
}

// findings is the anomaly envelope's findings, as JSON lines.
func findings(t *testing.T, out []byte) []string {
	t.Helper()
	ms := lines(t, out)
	if len(ms) == 0 || ms[0]["event_type"] != EventAnomaly {
		t.Fatalf("first envelope is not %s", EventAnomaly)
	}
	var fs []string
	for _, f := range payload(ms[0])["findings"].([]any) {
		b, _ := json.Marshal(f)
		fs = append(fs, string(b))
	}
	return fs
}

// TestSequenceFindings: each finding kind under both policies — Strict
// refuses the capture with one line per finding and writes nothing;
// Anomaly writes the openclaw.sequence_anomaly envelope first, then maps
// every line.
func TestSequenceFindings(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       []string
		cfg      Config
		strict   []string // Strict's lines
		findings []string // Anomaly's findings
	}{
		{"gap", seqs("r", 1, 2, 5, 6), Config{},
			[]string{`line 3: openclaw.sequence_gap: run "r" attempt 0: missing 3-4 (received 5)`},
			[]string{`{"attempt":0,"expected":3,"kind":"gap","line":3,"missing":[3,4],"received":5,"run_id":"r"}`}},
		{"late start", seqs("r", 2, 3), Config{},
			[]string{`line 1: openclaw.sequence_gap: run "r" attempt 0: missing 1 (received 2)`},
			[]string{`{"attempt":0,"expected":1,"kind":"gap","line":1,"missing":[1,1],"received":2,"run_id":"r"}`}},
		{"duplicate", seqs("r", 1, 2, 2, 3), Config{},
			[]string{`line 3: openclaw.sequence_gap: run "r" attempt 0: seq 2 again (expected 3)`},
			[]string{`{"attempt":0,"expected":3,"kind":"duplicate","line":3,"missing":null,"received":2,"run_id":"r"}`}},
		{"out of order", seqs("r", 1, 3, 2, 4), Config{},
			[]string{
				`line 2: openclaw.sequence_gap: run "r" attempt 0: missing 2 (received 3)`,
				`line 3: openclaw.sequence_gap: run "r" attempt 0: seq 2 out of order (expected 4)`,
			},
			[]string{
				`{"attempt":0,"expected":2,"kind":"gap","line":2,"missing":[2,2],"received":3,"run_id":"r"}`,
				`{"attempt":0,"expected":4,"kind":"out_of_order","line":3,"missing":null,"received":2,"run_id":"r"}`,
			}},
		{"seq 0", seqs("r", 1, 0, 0, 2), Config{},
			[]string{
				`line 2: openclaw.sequence_gap: run "r" attempt 0: seq 0 out of order (expected 2)`,
				`line 3: openclaw.sequence_gap: run "r" attempt 0: seq 0 again (expected 2)`,
			},
			[]string{
				`{"attempt":0,"expected":2,"kind":"out_of_order","line":2,"missing":null,"received":0,"run_id":"r"}`,
				`{"attempt":0,"expected":2,"kind":"duplicate","line":3,"missing":null,"received":0,"run_id":"r"}`,
			}},
		{"restart without an end is a duplicate", []string{lifecycle("r", 1, "start"), lifecycle("r", 1, "start")}, Config{},
			[]string{`line 2: openclaw.sequence_gap: run "r" attempt 0: seq 1 again (expected 2)`},
			[]string{`{"attempt":0,"expected":2,"kind":"duplicate","line":2,"missing":null,"received":1,"run_id":"r"}`}},
		{"gap in a second attempt", append([]string{lifecycle("r", 1, "start"), lifecycle("r", 2, "error")}, seqs("r", 1, 3)...), Config{},
			[]string{`line 4: openclaw.sequence_gap: run "r" attempt 1: missing 2 (received 3)`},
			[]string{`{"attempt":1,"expected":2,"kind":"gap","line":4,"missing":[2,2],"received":3,"run_id":"r"}`}},
		{"frame gap", []string{
			`{"type":"event","event":"tick","payload":{},"seq":1}`,
			`{"type":"event","event":"tick","payload":{},"seq":2}`,
			`{"type":"event","event":"tick","payload":{},"seq":5}`,
			`{"type":"event","event":"tick","payload":{},"seq":3}`,
			`{"type":"res","id":"c2","ok":true,"payload":{"type":"hello-ok"}}`,
			`{"type":"event","event":"tick","payload":{},"seq":1}`,
			`{"type":"event","event":"agent","payload":{"runId":"r","seq":1,"stream":"x","ts":1,"data":{}}}`,
			`{"type":"event","event":"tick","payload":{},"seq":2}`,
		}, Config{FrameSeq: true},
			[]string{
				`line 3: openclaw.sequence_gap: frame seq: missing 3-4 (received 5)`,
				`line 4: openclaw.sequence_gap: frame seq: 3 after 5 (expected 6)`,
			},
			[]string{
				`{"attempt":null,"expected":3,"kind":"frame_gap","line":3,"missing":[3,4],"received":5,"run_id":null}`,
				`{"attempt":null,"expected":6,"kind":"frame_gap","line":4,"missing":null,"received":3,"run_id":null}`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ndjson(tc.in...)
			out, _, err := mapCapture(t, in, tc.cfg)
			if diff := cmp.Diff(tc.strict, problems(t, err)); diff != "" {
				t.Errorf("strict (-want +got):\n%s", diff)
			}
			if len(out) != 0 {
				t.Errorf("strict wrote %d bytes", len(out))
			}
			cfg := tc.cfg
			cfg.Sequence = Anomaly
			out = mustRun(t, in, cfg)
			if diff := cmp.Diff(tc.findings, findings(t, out)); diff != "" {
				t.Errorf("anomaly findings (-want +got):\n%s", diff)
			}
			agents := strings.Count(string(in), `"event":"agent"`)
			if n := len(lines(t, out)); n != 1+agents {
				t.Errorf("anomaly wrote %d envelopes, want 1 + %d", n, agents)
			}
			checkEnvelopes(t, out)
		})
	}
}

// TestFrameSeqOff: without --frame-seq a frame seq is recorded, not
// checked.
func TestFrameSeqOff(t *testing.T) {
	in := ndjson(`{"type":"event","event":"agent","payload":{"runId":"r","seq":1,"stream":"x","ts":1,"data":{}},"seq":7}`,
		`{"type":"event","event":"agent","payload":{"runId":"r","seq":2,"stream":"x","ts":2,"data":{}},"seq":3}`)
	ms := lines(t, mustRun(t, in, Config{}))
	if fs := payload(ms[1])["source"].(map[string]any)["frame_seq"]; fs != json.Number("3") {
		t.Errorf("frame_seq = %v, want 3", fs)
	}
}

// TestAnomalyEnvelope: the anomaly envelope's fields and id.
func TestAnomalyEnvelope(t *testing.T) {
	in := ndjson(seqs("r", 1, 3)...)
	out, c, err := mapCapture(t, in, Config{Sequence: Anomaly, Actor: scalar.MustLabel("recorder-a")})
	if err != nil {
		t.Fatal(err)
	}
	m := lines(t, out)[0]
	at := mustTime(t, "2026-11-22T10:00:00.001Z")
	want := scalar.DeriveUUID7(at, append([]byte("arxi/v1/openclaw\x00anomaly\x00"), c.InputSHA256[:]...))
	if m["envelope_id"] != want.String() || m["claimed_at"] != at.String() || m["trace_id"] != nil || m["actor_id"] != "recorder-a" {
		t.Errorf("anomaly envelope %v", m)
	}
	p := payload(m)
	src := p["source"].(map[string]any)
	if p["mapping_version"] != MappingVersion || p["omitted"] != json.Number("0") || src["input_sha256"] != fmt.Sprintf("%x", sha256.Sum256(in)) {
		t.Errorf("anomaly payload %v", p)
	}
}

// TestRepeatsGetOccurrences: under Anomaly each repeat of a seq gets the
// next occurrence, and so its own envelope id.
func TestRepeatsGetOccurrences(t *testing.T) {
	out := mustRun(t, ndjson(seqs("r", 1, 1, 1, 2)...), Config{Sequence: Anomaly})
	var got []string
	for _, m := range lines(t, out)[1:] {
		r := payload(m)["run"].(map[string]any)
		got = append(got, fmt.Sprint(r["seq"], "/", r["occurrence"]))
		at := mustTime(t, m["claimed_at"].(string))
		seq, _ := r["seq"].(json.Number).Int64()
		occ, _ := r["occurrence"].(json.Number).Int64()
		if want := AgentEnvelopeID(at, "r", 0, uint64(seq), uint64(occ)); m["envelope_id"] != want.String() {
			t.Errorf("seq %d occurrence %d: id %v, want %v", seq, occ, m["envelope_id"], want)
		}
	}
	if diff := cmp.Diff([]string{"1/0", "1/1", "1/2", "2/0"}, got); diff != "" {
		t.Error(diff)
	}
}

// TestAttempts: seq 1 after a lifecycle end or error starts the next
// attempt of the run; other runs are independent.
func TestAttempts(t *testing.T) {
	in := ndjson(lifecycle("r", 1, "start"), lifecycle("r", 2, "end"), agentFrame("q", 1, "x", `{}`),
		lifecycle("r", 1, "start"), lifecycle("r", 2, "error"), lifecycle("r", 1, "start"), agentFrame("r", 2, "assistant", `{}`))
	var got []string
	for _, m := range lines(t, mustRun(t, in, Config{})) {
		r := payload(m)["run"].(map[string]any)
		got = append(got, fmt.Sprintf("%v %v %v", r["run_id"], r["attempt"], r["seq"]))
	}
	want := []string{"r 0 1", "r 0 2", "q 0 1", "r 1 1", "r 1 2", "r 2 1", "r 2 2"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

// TestGapNotice: the gateway's gap notice needs no seq, maps to
// openclaw.gap_notice and takes no part in the sequence checks.
func TestGapNotice(t *testing.T) {
	notice := `{"type":"event","event":"agent","payload":{"runId":"r","stream":"error","ts":1795341600009,"data":{"reason":"seq gap","expected":3,"received":5},"sessionKey":"agent:main:main"}}`
	out := mustRun(t, ndjson(seqs("r", 1, 2)[0], seqs("r", 2)[0], notice, seqs("r", 3)[0]), Config{})
	ms := lines(t, out)
	n := ms[2]
	if n["event_type"] != EventGapNotice {
		t.Fatalf("event type %v", n["event_type"])
	}
	at := mustTime(t, n["claimed_at"].(string))
	var seed []byte
	seed = append(seed, "arxi/v1/openclaw\x00notice\x00r\x00"...)
	seed = binary.BigEndian.AppendUint64(seed, 3)
	if n["envelope_id"] != scalar.DeriveUUID7(at, seed).String() {
		t.Errorf("notice id %v", n["envelope_id"])
	}
	if r := payload(n)["run"].(map[string]any); r["seq"] != nil || r["attempt"] != json.Number("0") {
		t.Errorf("notice run %v", r)
	}
	// A gap notice with a seq is still a notice: its seq is not checked.
	withSeq := strings.Replace(notice, `"stream":"error"`, `"seq":99,"stream":"error"`, 1)
	mustRun(t, ndjson(seqs("r", 1)[0], withSeq, seqs("r", 2)[0]), Config{})
}

// TestEnvelopeIDFormula checks AgentEnvelopeID and TranscriptEnvelopeID
// against OPENCLAW.md's formulas, computed here by hand.
func TestEnvelopeIDFormula(t *testing.T) {
	at := mustTime(t, "2026-11-22T10:00:00.123Z")
	u64 := func(b []byte, n uint64) []byte { return binary.BigEndian.AppendUint64(b, n) }
	uuid7 := func(seed []byte) string {
		h := sha256.Sum256(seed)
		var u [16]byte
		ms := uint64(at.UnixMilli())
		for i := range 6 {
			u[i] = byte(ms >> (40 - 8*i))
		}
		copy(u[6:], h[:10])
		u[6] = 0x70 | u[6]&0x0f
		u[8] = 0x80 | u[8]&0x3f
		return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	}
	seed := u64(u64(u64([]byte("arxi/v1/openclaw\x00agent\x00run-1\x00"), 2), 17), 1)
	if got := AgentEnvelopeID(at, "run-1", 2, 17, 1).String(); got != uuid7(seed) {
		t.Errorf("AgentEnvelopeID = %s, want %s", got, uuid7(seed))
	}
	seed = u64([]byte("arxi/v1/openclaw\x00transcript\x00sess\x00a1b2\x00"), 3)
	if got := TranscriptEnvelopeID(at, "sess", "a1b2", 3).String(); got != uuid7(seed) {
		t.Errorf("TranscriptEnvelopeID = %s, want %s", got, uuid7(seed))
	}
}

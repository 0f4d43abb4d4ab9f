package openclaw

import (
	"encoding/json"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/scalar"
	"github.com/google/go-cmp/cmp"
)

const v3Header = `{"type":"session","version":3,"id":"sess-1","timestamp":"2026-11-22T09:00:00Z","cwd":"/w"}`

func v3Entry(id, parent string) string {
	p := `null`
	if parent != "" {
		p = `"` + parent + `"`
	}
	return `{"type":"label","id":"` + id + `","parentId":` + p + `,"timestamp":"2026-11-22T09:00:01Z","targetId":"x","label":"l"}`
}

// TestTreeFindings: a repeated entry id or a parentId naming no earlier
// entry is a tree finding, under both policies; under Anomaly a repeated
// id's envelope is keyed by its line, so ids stay unique.
func TestTreeFindings(t *testing.T) {
	in := ndjson(v3Header, v3Entry("a", ""), v3Entry("b", "a"), v3Entry("b", "a"), v3Entry("c", "zz"), v3Entry("d", "d"), v3Entry("e", "c"))
	cfg := Config{Format: Transcript}
	out, _, err := mapCapture(t, in, cfg)
	want := []string{
		`line 4: openclaw.transcript_tree: entry id "b" repeats an earlier entry's`,
		`line 5: openclaw.transcript_tree: entry "c": parentId "zz" names no earlier entry`,
		`line 6: openclaw.transcript_tree: entry "d": parentId "d" names no earlier entry`,
	}
	if diff := cmp.Diff(want, problems(t, err)); diff != "" {
		t.Errorf("strict (-want +got):\n%s", diff)
	}
	if len(out) != 0 {
		t.Error("strict wrote output")
	}
	cfg.Sequence = Anomaly
	out = mustRun(t, in, cfg)
	wantF := []string{
		`{"entry_id":"b","kind":"tree","line":4,"parent_id":"a","reason":"duplicate_id"}`,
		`{"entry_id":"c","kind":"tree","line":5,"parent_id":"zz","reason":"unknown_parent"}`,
		`{"entry_id":"d","kind":"tree","line":6,"parent_id":"d","reason":"unknown_parent"}`,
	}
	if diff := cmp.Diff(wantF, findings(t, out)); diff != "" {
		t.Errorf("anomaly (-want +got):\n%s", diff)
	}
	ms := lines(t, out)
	if len(ms) != 1+7 || ms[0]["trace_id"] != "sess-1" {
		t.Fatalf("%d envelopes; anomaly %v", len(ms), ms[0])
	}
	at := mustTime(t, "2026-11-22T09:00:01Z")
	if ms[4]["envelope_id"] != TranscriptEnvelopeID(at, "sess-1", "line:4", 0).String() ||
		ms[3]["envelope_id"] != TranscriptEnvelopeID(at, "sess-1", "b", 0).String() {
		t.Errorf("repeated id's envelope ids %v %v", ms[3]["envelope_id"], ms[4]["envelope_id"])
	}
	checkEnvelopes(t, out)
}

// TestTranscriptFields: trace_id is the header's id, session_id the
// --session-key, the actor derived from it, keys as OPENCLAW.md §5 says.
func TestTranscriptFields(t *testing.T) {
	in := readInput(t, "pi-mono-v1-large-session.head10.jsonl")
	for _, tc := range []struct {
		cfg            Config
		session, actor any
	}{
		{Config{Format: Transcript}, nil, "openclaw"},
		{Config{Format: Transcript, SessionKey: scalar.MustLabel("agent:ops:telegram:dm:42")}, "agent:ops:telegram:dm:42", "agent:ops"},
		{Config{Format: Transcript, SessionKey: scalar.MustLabel("main"), Actor: scalar.MustLabel("auditor")}, "main", "auditor"},
	} {
		ms := lines(t, mustRun(t, in, tc.cfg))
		for _, m := range ms {
			if m["trace_id"] != "d703a1a9-1b7b-4fb1-b512-c9738b1fe617" || m["session_id"] != tc.session || m["actor_id"] != tc.actor || m["adapter_id"] != AdapterID {
				t.Fatalf("%+v: envelope %v", tc.cfg, m)
			}
		}
		at := mustTime(t, "2025-11-20T23:33:50.805Z")
		if ms[0]["envelope_id"] != TranscriptEnvelopeID(at, "d703a1a9-1b7b-4fb1-b512-c9738b1fe617", "session", 0).String() {
			t.Errorf("header id %v", ms[0]["envelope_id"])
		}
		at = mustTime(t, "2025-11-20T23:33:54.572Z")
		if ms[6]["envelope_id"] != TranscriptEnvelopeID(at, "d703a1a9-1b7b-4fb1-b512-c9738b1fe617", "line:6", 2).String() {
			t.Errorf("tool call id %v", ms[6]["envelope_id"])
		}
	}
}

// TestTranscriptTimes: claimed_at is the entry's timestamp, else (version
// 1) its message's, in milliseconds.
func TestTranscriptTimes(t *testing.T) {
	in := ndjson(`{"type":"session","id":"s","timestamp":"2026-11-22T09:00:00Z","cwd":"/"}`,
		`{"type":"message","message":{"role":"user","content":"hi","timestamp":1795338000123}}`,
		`{"type":"message","timestamp":"2026-11-22T09:00:05.5Z","message":{"role":"user","content":"hi","timestamp":1}}`)
	var got []string
	for _, m := range lines(t, mustRun(t, in, Config{Format: Transcript})) {
		got = append(got, m["claimed_at"].(string))
	}
	want := []string{"2026-11-22T09:00:00.000000000Z", "2026-11-22T09:00:00.123000000Z", "2026-11-22T09:00:05.500000000Z"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}

// TestEntryTypes: every entry type and message role of OPENCLAW.md §5.
func TestEntryTypes(t *testing.T) {
	want := map[string]string{}
	for typ, ev := range map[string]string{"model_change": "openclaw.model-change", "thinking_level_change": "openclaw.thinking-level-change",
		"compaction": "openclaw.compaction", "branch_summary": "openclaw.branch-summary", "custom": "openclaw.custom",
		"custom_message": "openclaw.custom-message", "label": "openclaw.label", "session_info": "openclaw.session-info", "novel_type": "openclaw.entry"} {
		want[`{"type":"`+typ+`","timestamp":"2026-11-22T09:00:01Z"}`] = ev
	}
	for role, ev := range map[string]string{"user": "openclaw.message.user", "assistant": "openclaw.message.assistant", "bashExecution": "openclaw.message.bash",
		"custom": "openclaw.message.custom", "hookMessage": "openclaw.message.custom", "branchSummary": "openclaw.message.summary",
		"compactionSummary": "openclaw.message.summary", "toolResult": "openclaw.tool.result", "system": "openclaw.message"} {
		want[`{"type":"message","timestamp":"2026-11-22T09:00:01Z","message":{"role":"`+role+`","toolCallId":"t"}}`] = ev
	}
	for entry, ev := range want {
		ms := lines(t, mustRun(t, ndjson(`{"type":"session","id":"s","timestamp":"2026-11-22T09:00:00Z","cwd":"/"}`, entry), Config{Format: Transcript}))
		if ms[0]["event_type"] != EventSession || ms[1]["event_type"] != ev {
			t.Errorf("%s: %v, %v; want %s", entry, ms[0]["event_type"], ms[1]["event_type"], ev)
		}
	}
}

// TestTranscriptLinks: a toolResult links to its toolCall block's entry
// and envelope.
func TestTranscriptLinks(t *testing.T) {
	out := mustRun(t, readInput(t, "v3-session.jsonl"), Config{Format: Transcript})
	ms := lines(t, out)
	byID := map[string]map[string]any{}
	for _, m := range ms {
		byID[m["envelope_id"].(string)] = m
	}
	n := 0
	for _, m := range ms {
		l, ok := payload(m)["links"].(map[string]any)
		if !ok {
			continue
		}
		n++
		call := byID[l["call_envelope_id"].(string)]
		if call == nil || call["event_type"] != EventToolCall || payload(call)["record"].(map[string]any)["id"] != l["tool_call_id"] {
			t.Errorf("links %v name no call", l)
		}
		if src := payload(call)["source"].(map[string]any); src["line"] != json.Number("6") || l["call_entry_id"] != "a1000005" {
			t.Errorf("links %v, call source %v", l, src)
		}
	}
	if n != 2 {
		t.Errorf("%d links, want 2", n)
	}
	if strings.Contains(string(out), EventUnpaired) {
		t.Error("unpaired envelope in a paired transcript")
	}
}

package openclaw

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/openclaw/internal/capturegen"
	"github.com/google/go-cmp/cmp"
)

// summary renders each envelope as "event_type links|calls".
func summary(t *testing.T, out []byte) []string {
	var got []string
	for _, m := range lines(t, out) {
		p := payload(m)
		s := m["event_type"].(string)
		if l := p["links"]; l != nil {
			b, _ := json.Marshal(l)
			s += " " + string(b)
		}
		if c := p["calls"]; c != nil {
			var ids []string
			for _, x := range c.([]any) {
				ids = append(ids, x.(map[string]any)["tool_call_id"].(string))
			}
			s += fmt.Sprintf(" calls %v after line %v", ids, p["source"].(map[string]any)["line"])
		}
		got = append(got, s)
	}
	return got
}

// idAt is the envelope id of the nth envelope.
func idAt(t *testing.T, out []byte, n int) string { return lines(t, out)[n]["envelope_id"].(string) }

// TestPairing: results link to their calls (run, attempt, toolCallId);
// calls still open at an attempt's end give an openclaw.tool.unpaired
// envelope after the attempt's last event, results without a call say so;
// --require-paired refuses both, one line each.
func TestPairing(t *testing.T) {
	in := ndjson(
		lifecycle("r", 1, "start"),
		tool("r", 2, "start", "c1"),
		tool("r", 3, "update", "c1"),
		tool("r", 4, "start", "c2"),
		tool("r", 5, "result", "c1"),
		tool("r", 6, "result", "c9"),          // no call
		lifecycle("r", 7, "error"),            // c2 is still open
		agentFrame("r", 8, "assistant", `{}`), // the attempt's last event
		lifecycle("r", 1, "start"),            // attempt 1
		tool("r", 2, "result", "c2"),          // c2 was attempt 0's
		tool("q", 1, "start", "c1"),           // another run's c1, never answered
	)
	out, c, err := mapCapture(t, in, Config{})
	if err != nil {
		t.Fatal(err)
	}
	got := summary(t, out)
	want := []string{
		"openclaw.lifecycle",
		"openclaw.tool.call",
		"openclaw.tool.update",
		"openclaw.tool.call",
		`openclaw.tool.result {"call_envelope_id":"` + idAt(t, out, 1) + `","call_seq":2,"tool_call_id":"c1"}`,
		`openclaw.tool.result {"call_envelope_id":null,"call_seq":null,"tool_call_id":"c9","unpaired":true}`,
		"openclaw.lifecycle",
		"openclaw.assistant",
		"openclaw.tool.unpaired calls [c2] after line 8",
		"openclaw.lifecycle",
		`openclaw.tool.result {"call_envelope_id":null,"call_seq":null,"tool_call_id":"c2","unpaired":true}`,
		"openclaw.tool.call",
		"openclaw.tool.unpaired calls [c1] after line 11",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envelopes (-want +got):\n%s", diff)
	}
	u := lines(t, out)[8]
	if u["claimed_at"] != lines(t, out)[7]["claimed_at"] || u["trace_id"] != "r" || u["session_id"] != "agent:main:main" {
		t.Errorf("unpaired envelope %v", u)
	}
	if call := payload(u)["calls"].([]any)[0].(map[string]any); call["call_envelope_id"] != idAt(t, out, 3) || call["name"] != "exec" {
		t.Errorf("unpaired call %v", call)
	}
	wantWarn := []string{
		`line 6: run "r" attempt 0: tool result "c9" has no call; its links say unpaired`,
		`line 8: run "r" attempt 0: 1 tool call without a result ("c2"), listed in an openclaw.tool.unpaired envelope`,
		`line 10: run "r" attempt 1: tool result "c2" has no call; its links say unpaired`,
		`line 11: run "q" attempt 0: 1 tool call without a result ("c1"), listed in an openclaw.tool.unpaired envelope`,
	}
	if diff := cmp.Diff(wantWarn, c.Warnings()); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	out, _, err = mapCapture(t, in, Config{RequirePaired: true})
	wantErr := []string{
		`line 4: openclaw.unpaired_tool: run "r" attempt 0: tool call "c2" has no result`,
		`line 6: openclaw.unpaired_tool: run "r" attempt 0: tool result "c9" has no call`,
		`line 10: openclaw.unpaired_tool: run "r" attempt 1: tool result "c2" has no call`,
		`line 11: openclaw.unpaired_tool: run "q" attempt 0: tool call "c1" has no result`,
	}
	if diff := cmp.Diff(wantErr, problems(t, err)); diff != "" {
		t.Errorf("--require-paired (-want +got):\n%s", diff)
	}
	if len(out) != 0 {
		t.Error("--require-paired wrote output")
	}
}

// TestPairedCapture: the generated capture's failed attempts leave one
// call open each, which --require-paired refuses; a capture without
// failures passes.
func TestPairedCapture(t *testing.T) {
	_, _, err := mapCapture(t, readInput(t, "capture.frames.ndjson"), Config{RequirePaired: true})
	if got := len(problems(t, err)); got != 3 {
		t.Errorf("%d problems, want the 3 calls of the failed attempts", got)
	}
	var b bytes.Buffer
	if _, err := capturegen.Write(&b, capturegen.Config{Runs: 2}); err != nil {
		t.Fatal(err)
	}
	out, c, err := mapCapture(t, b.Bytes(), Config{RequirePaired: true})
	if err != nil || len(c.Warnings()) != 0 || strings.Contains(string(out), EventUnpaired) {
		t.Errorf("err %v, warnings %q", err, c.Warnings())
	}
}

// TestRepeatedCallStart: a repeated tool start (a duplicate frame) does
// not make a second call.
func TestRepeatedCallStart(t *testing.T) {
	in := ndjson(tool("r", 1, "start", "c1"), tool("r", 1, "start", "c1"), tool("r", 2, "result", "c1"))
	out := mustRun(t, in, Config{Sequence: Anomaly})
	got := summary(t, out)
	want := []string{
		"openclaw.sequence_anomaly",
		"openclaw.tool.call",
		"openclaw.tool.call",
		`openclaw.tool.result {"call_envelope_id":"` + idAt(t, out, 1) + `","call_seq":1,"tool_call_id":"c1"}`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

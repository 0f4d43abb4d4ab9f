package openclaw_test

import (
	"context"
	"fmt"
	"strings"

	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/openclaw"
	"github.com/tidwall/gjson"
)

// Read checks a whole capture of gateway frames, then Map writes one
// envelope per agent event: a tool call and its result, linked, with the
// tool's arguments and result redacted.
func Example() {
	capture := `{"type":"event","event":"agent","payload":{"runId":"run-1","seq":1,"stream":"lifecycle","ts":1795341600000,"data":{"phase":"start"},"sessionKey":"agent:main:main"},"seq":1}
{"type":"event","event":"tick","payload":{"ts":1795341600001},"seq":2}
{"type":"event","event":"agent","payload":{"runId":"run-1","seq":2,"stream":"tool","ts":1795341600002,"data":{"phase":"start","name":"read","toolCallId":"c1","args":{"path":"/etc/app.env"}},"sessionKey":"agent:main:main"},"seq":3}
{"type":"event","event":"agent","payload":{"runId":"run-1","seq":3,"stream":"tool","ts":1795341600003,"data":{"phase":"result","name":"read","toolCallId":"c1","result":"API_KEY=…"},"sessionKey":"agent:main:main"},"seq":4}
`
	ctx := context.Background()
	c, err := openclaw.Read(ctx, strings.NewReader(capture), openclaw.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	st, err := c.Map(ctx, func(r evidence.Record) error {
		u := r.(*evidence.Unsealed)
		fmt.Println(u.ClaimedAt, u.EventType, u.ActorID, gjson.Get(u.Payload, "redactions"), gjson.Get(u.Payload, "links").Raw)
		return nil
	})
	fmt.Println(st.Envelopes, "envelopes;", c.Skipped["event tick"], "tick skipped;", err)
	// Output:
	// 2026-11-22T10:00:00.000000000Z openclaw.lifecycle agent:main [] null
	// 2026-11-22T10:00:00.002000000Z openclaw.tool.call agent:main ["/data/args"] null
	// 2026-11-22T10:00:00.003000000Z openclaw.tool.result agent:main ["/data/result"] {"call_envelope_id":"01a202b2-c502-7ebe-84d7-3f341a494ee6","call_seq":2,"tool_call_id":"c1"}
	// 3 envelopes; 1 tick skipped; <nil>
}

// A gap in a run's seqs rejects the capture under the default Strict
// policy, one error per finding; nothing is mapped.
func ExampleCapture_Map_gap() {
	capture := `{"runId":"run-1","seq":1,"stream":"assistant","ts":1795341600000,"data":{"delta":"a"}}
{"runId":"run-1","seq":4,"stream":"assistant","ts":1795341600001,"data":{"delta":"b"}}
`
	ctx := context.Background()
	c, err := openclaw.Read(ctx, strings.NewReader(capture), openclaw.Config{Format: openclaw.Payloads})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	_, err = c.Map(ctx, func(evidence.Record) error { return nil })
	fmt.Println(err)
	// Output:
	// line 2: openclaw.sequence_gap: run "run-1" attempt 0: missing 2-3 (received 4)
}

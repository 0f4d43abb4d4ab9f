// Package benchdata generates realistic unsealed envelopes for benchmarks:
// agent tool calls and results of about 1 KiB each, deterministic, with
// varied ids, numbers, nested arguments and non-ASCII text, as a recorder
// in front of an agent runtime would see them.
package benchdata

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Base is the claimed_at of the first generated event.
var Base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var tools = []string{"search.documents", "crm.lookup", "tickets.update", "calendar.create", "code.run", "web.fetch"}

// Line returns event i as one unsealed NDJSON line (with newline) of about
// 1 KiB.
func Line(i int) []byte {
	tool := tools[i%len(tools)]
	at := Base.Add(time.Duration(i) * 1500 * time.Microsecond).Format(time.RFC3339Nano)
	kind := "tool.call"
	if i%2 == 1 {
		kind = "tool.result"
	}
	pad := strings.Repeat("résumé-ready text, ", 18)
	return fmt.Appendf(nil, `{"event_type":%q,"actor_id":"agent:planner-%d","environment_id":"prod-eu-west","adapter_id":"mcp-gateway","trace_id":"trace-%08x","session_id":"session-%04d","claimed_at":%q,"payload":{"tool":%q,"call_id":"call-%010d","args":{"query":"quarterly revenue by region and product line %d","filters":{"region":["emea","apac","amer"],"since":"2026-01-01","limit":%d},"options":{"rank":true,"highlight":false,"timeout_ms":2500}},"result":{"ok":%t,"hits":[{"id":"doc-%d","score":0.%03d,"title":"Q3 revenue summary"},{"id":"doc-%d","score":0.%03d,"title":"Regional breakdown"}],"took_ms":%d},"notes":%q}}`+"\n",
		kind, i%7, i/4, i/64, at, tool, i, i%97, 10+i%40, i%5 != 0, i*3, 900-i%500, i*3+1, 800-i%400, 20+i%300, pad)
}

// Write writes events 0..n-1 to w.
func Write(w io.Writer, n int) error {
	for i := range n {
		if _, err := w.Write(Line(i)); err != nil {
			return err
		}
	}
	return nil
}

// Bytes returns events 0..n-1 as one buffer.
func Bytes(n int) []byte {
	var b []byte
	for i := range n {
		b = append(b, Line(i)...)
	}
	return b
}

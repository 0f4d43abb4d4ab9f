// Package events generates the unsealed events of the tests and
// benchmarks: deterministic, varied the way a Shape says, as records for
// an in-process Sealer or as NDJSON lines for arxi-seal. A line keeps its
// members in the order a producer writes them (event_type first), not
// canonical order, as real input does.
//
// Bench is the realistic shape: agent tool calls and results of about
// 1 KiB each, with varied ids, numbers, nested arguments and non-ASCII
// text, as a recorder in front of an agent runtime would see them. Other
// shapes belong to the tests that depend on them.
package events

import (
	"fmt"
	"io"
	"strings"
	"time"

	b64 "encoding/base64"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Base is the claimed_at of event 0.
var Base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// Shape says how events vary with their index i. Trace and Session return
// "" for null.
type Shape struct {
	Types                                       []string // event i has Types[i%len(Types)]
	Actor, Environment, Adapter, Trace, Session func(i int) string
	Step                                        time.Duration      // claimed_at of event i is Base + i*Step
	Payload                                     func(i int) string // JSON text
	// Attachment, when set, returns the bytes event i carries inline as
	// text/plain, or nil.
	Attachment func(i int) []byte
}

// At returns the claimed_at of event i.
func (s *Shape) At(i int) time.Time { return Base.Add(time.Duration(i) * s.Step) }

// Event returns event i as an unsealed record.
func (s *Shape) Event(i int) *evidence.Unsealed {
	ts, err := scalar.TimestampOf(s.At(i))
	if err != nil {
		panic(err)
	}
	u := &evidence.Unsealed{Content: evidence.Content{
		EventType:     scalar.MustToken(s.Types[i%len(s.Types)]),
		ActorID:       scalar.MustLabel(s.Actor(i)),
		EnvironmentID: scalar.MustLabel(s.Environment(i)),
		AdapterID:     scalar.MustToken(s.Adapter(i)),
		ClaimedAt:     ts,
	}}
	payload, err := canonical.Transform([]byte(s.Payload(i)))
	if err != nil {
		panic(err)
	}
	u.Payload = string(payload)
	if t := s.Trace(i); t != "" {
		u.TraceID = scalar.MustLabel(t)
	}
	if t := s.Session(i); t != "" {
		u.SessionID = scalar.MustLabel(t)
	}
	if data := s.attachment(i); data != nil {
		u.SetAttachments([]evidence.AttachmentRef{{
			ContentType: scalar.MustContentType("text/plain"),
			Hash:        scalar.Sum(data),
			Size:        int64(len(data)),
		}}, [][]byte{data})
	}
	return u
}

func (s *Shape) attachment(i int) []byte {
	if s.Attachment == nil {
		return nil
	}
	return s.Attachment(i)
}

// AppendLine appends event i as an unsealed NDJSON line, with its newline.
func (s *Shape) AppendLine(dst []byte, i int) []byte {
	str := func(key, v string) {
		dst = append(dst, `,"`+key+`":`...)
		if v == "" {
			dst = append(dst, "null"...)
		} else {
			dst = canonical.AppendString(dst, v)
		}
	}
	dst = append(dst, `{"event_type":`...)
	dst = canonical.AppendString(dst, s.Types[i%len(s.Types)])
	str("actor_id", s.Actor(i))
	str("environment_id", s.Environment(i))
	str("adapter_id", s.Adapter(i))
	str("trace_id", s.Trace(i))
	str("session_id", s.Session(i))
	str("claimed_at", s.At(i).Format(time.RFC3339Nano))
	dst = append(dst, `,"payload":`...)
	dst = append(dst, s.Payload(i)...)
	if data := s.attachment(i); data != nil {
		dst = fmt.Appendf(dst, `,"attachments":[{"content_type":"text/plain","data":%q}]`, base64(data))
	}
	return append(dst, "}\n"...)
}

// Line returns event i as an unsealed NDJSON line, with its newline.
func (s *Shape) Line(i int) []byte { return s.AppendLine(nil, i) }

// Lines returns events from..to-1 as NDJSON.
func (s *Shape) Lines(from, to int) []byte {
	var b []byte
	for i := from; i < to; i++ {
		b = s.AppendLine(b, i)
	}
	return b
}

// Write writes events 0..n-1 to w as NDJSON.
func (s *Shape) Write(w io.Writer, n int) error {
	var b []byte
	for i := range n {
		b = s.AppendLine(b[:0], i)
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

var tools = []string{"search.documents", "crm.lookup", "tickets.update", "calendar.create", "code.run", "web.fetch"}

// Bench is the shape of the benchmarks: 1 KiB lines (1024 bytes with the
// newline), a trace every 4 events, a session every 64, seven actors.
var Bench = &Shape{
	Types:       []string{"tool.call", "tool.result"},
	Actor:       func(i int) string { return fmt.Sprintf("agent:planner-%d", i%7) },
	Environment: func(int) string { return "prod-eu-west" },
	Adapter:     func(int) string { return "mcp-gateway" },
	Trace:       func(i int) string { return fmt.Sprintf("trace-%08x", i/4) },
	Session:     func(i int) string { return fmt.Sprintf("session-%04d", i/64) },
	Step:        1500 * time.Microsecond,
	Payload: func(i int) string {
		return fmt.Sprintf(`{"tool":%q,"call_id":"call-%010d","args":{"query":"quarterly revenue by region and product line %d","filters":{"region":["emea","apac","amer"],"since":"2026-01-01","limit":%d},"options":{"rank":true,"highlight":false,"timeout_ms":2500}},"result":{"ok":%t,"hits":[{"id":"doc-%d","score":0.%03d,"title":"Q3 revenue summary"},{"id":"doc-%d","score":0.%03d,"title":"Regional breakdown"}],"took_ms":%d},"notes":%q}`,
			tools[i%len(tools)], i, i%97, 10+i%40, i%5 != 0, i*3, 900-i%500, i*3+1, 800-i%400, 20+i%300, strings.Repeat("résumé-ready text, ", 18))
	},
}

// Store is the shape of the store benchmarks' workload (internal/
// storebench), which every backend shares: sealed envelope lines of about
// 1 KiB (1026 bytes), labels in runs, as real traffic has them: a trace is
// 50 consecutive events, a session 500; one event in ten belongs instead
// to one of 100 long traces spread evenly over the whole store (1000 of
// each per million events), the worst case for reading a page of one
// trace.
var Store = &Shape{
	Types:       []string{"tool.call", "tool.result", "policy.decision", "session.start"},
	Actor:       func(i int) string { return fmt.Sprintf("agent:%d", i%10) },
	Environment: func(int) string { return "prod" },
	Adapter:     func(int) string { return "bench" },
	Trace: func(i int) string {
		if i%10 == 0 {
			return fmt.Sprintf("long-%03d", (i/10)%100)
		}
		return fmt.Sprintf("trace-%07d", i/50)
	},
	Session: func(i int) string { return fmt.Sprintf("session-%06d", i/500) },
	Step:    time.Millisecond,
	Payload: func(i int) string { return fmt.Sprintf(`{"i":%d,"pad":%q}`, i, strings.Repeat("x", 428)) },
}

func base64(b []byte) string { return b64.StdEncoding.EncodeToString(b) }

package openclaw

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/redact"
	"arxi.dev/arxi/pkg/scalar"
)

// maxAnomalyBytes bounds the findings listed in the anomaly envelope, so
// that its payload stays within SPEC §16; the rest are counted.
const maxAnomalyBytes = 2 << 20

// streamEvents are the event types of the agent streams OPENCLAW.md §2
// names, but tool.
var streamEvents = map[string]string{
	"lifecycle":      "openclaw.lifecycle",
	"assistant":      "openclaw.assistant",
	"thinking":       "openclaw.thinking",
	"compaction":     "openclaw.compaction",
	"error":          "openclaw.error",
	"item":           "openclaw.item",
	"plan":           "openclaw.plan",
	"approval":       "openclaw.approval",
	"patch":          "openclaw.patch",
	"command_output": "openclaw.command-output",
}

// tokens holds the event_type of every event type this package writes.
var tokens = func() map[string]scalar.Token {
	m := map[string]scalar.Token{}
	for _, s := range []string{EventAnomaly, EventGapNotice, EventToolCall, EventToolUpdate, EventToolResult, EventTool,
		EventUnpaired, EventStream, EventSession, EventEntry} {
		m[s] = scalar.MustToken(s)
	}
	for _, s := range streamEvents {
		m[s] = scalar.MustToken(s)
	}
	for _, s := range entryTypes {
		m[s] = scalar.MustToken(s)
	}
	for _, r := range []string{"user", "assistant", "bashExecution", "custom", "xSummary", "other"} {
		m[roleEvent(r)] = scalar.MustToken(roleEvent(r))
	}
	return m
}()

// agentEvent is the event type of an agent event (OPENCLAW.md §2).
func agentEvent(ev *event) string {
	switch {
	case ev.notice:
		return EventGapNotice
	case ev.stream == "tool":
		switch ev.phase {
		case "start":
			return EventToolCall
		case "update":
			return EventToolUpdate
		case "result":
			return EventToolResult
		}
		return EventTool
	}
	if e, ok := streamEvents[ev.stream]; ok {
		return e
	}
	return EventStream
}

// Stats counts what a mapping wrote.
type Stats struct {
	Events    int // records mapped: agent events, or transcript lines
	Envelopes int // envelopes written
}

// Map writes the capture's envelopes to emit, in line order (the second
// pass, see the package doc). When a check failed under Strict, or a tool
// call or result is unpaired under Config.RequirePaired, it writes
// nothing and returns a *CheckError. Map may be called again; it is not
// safe for concurrent use.
func (c *Capture) Map(ctx context.Context, emit Emit) (Stats, error) {
	if err := c.check(); err != nil {
		return Stats{}, err
	}
	m := &mapper{c: c, emit: emit, red: c.cfg.policy().Redactor(), d: newDecoder(), t: newTracker(false),
		env: c.cfg.environment(), adapter: scalar.MustToken(AdapterID)}
	m.sum = hex.AppendEncode(nil, c.InputSHA256[:])
	if len(c.findings) > 0 {
		if err := m.anomaly(); err != nil {
			return m.st, err
		}
	}
	in := spoolReader{r: bufio.NewReaderSize(io.NewSectionReader(c.spool, 0, 1<<62), 256<<10)}
	transcript := c.cfg.Format == Transcript
	for i := 0; ; i++ {
		ev := &m.ev
		if transcript {
			ev = nil
		}
		line, fseq, canon, err := in.record(ev)
		if errors.Is(err, io.EOF) {
			return m.st, nil
		}
		if err != nil {
			return m.st, err
		}
		if i&1023 == 1023 {
			if err := ctx.Err(); err != nil {
				return m.st, errcode.Wrap(errcode.IOFailed, err, "interrupted at line %d", line)
			}
			if c.cfg.Progress != nil {
				c.cfg.Progress(1024)
			}
		}
		if transcript {
			err = m.entry(line, canon)
		} else {
			err = m.agent(line, fseq)
		}
		if err != nil {
			return m.st, err
		}
		m.st.Events++
		if u := c.ends[line]; u != nil {
			if err := m.unpaired(u); err != nil {
				return m.st, err
			}
		}
	}
}

// check returns the *CheckError that keeps Map from writing, if any.
func (c *Capture) check() error {
	ce := &CheckError{}
	if c.cfg.Sequence == Strict {
		for i := range c.findings {
			ce.Problems = append(ce.Problems, c.findings[i].Error())
		}
		ce.Omitted += c.omitted
	}
	if c.cfg.RequirePaired {
		ce.Problems = append(ce.Problems, c.problems...)
		ce.Omitted += c.dropped
	}
	if len(ce.Problems) == 0 {
		return nil
	}
	return ce
}

// mapper holds the state of one Map call.
type mapper struct {
	c       *Capture
	emit    Emit
	red     *redact.Redactor
	d       *decoder
	t       *tracker
	tr      transcriptState
	env     scalar.Label
	adapter scalar.Token
	sum     []byte // hex of the input's SHA-256
	ev      event
	e       entry
	buf     []byte
	u       evidence.Unsealed // the envelope emitted, reused
	hashBuf []byte
	st      Stats
}

func (m *mapper) internal(line int64, err error) error {
	return &errcode.Error{Code: errcode.Internal, Line: line, Msg: "spooled record no longer decodes", Err: err}
}

// agent writes the envelope of the agent event m.ev, spooled from line.
func (m *mapper) agent(line, fseq int64) error {
	ev := &m.ev
	canon := ev.canon
	actor := m.c.cfg.actorOf(ev.actor)
	d := m.t.observe(ev, line, actor)
	rec, paths := m.red.Redact(sourceAgent, canon)
	b := append(m.buf[:0], `{"links":`...)
	b = appendLink(b, d.link, false)
	b = append(b, `,"mapping_version":"`+MappingVersion+`","phase":`...)
	b = appendOptString(b, ev.phase, ev.hasPhase)
	b = append(b, `,"record":`...)
	b = append(b, rec...)
	b = append(b, `,"redactions":`...)
	b = redact.AppendList(b, paths)
	b = append(b, `,"run":{"attempt":`...)
	b = strconv.AppendUint(b, d.attempt, 10)
	b = append(b, `,"occurrence":`...)
	b = strconv.AppendUint(b, d.occurrence, 10)
	b = append(b, `,"run_id":`...)
	b = canonical.AppendString(b, ev.runID.String())
	b = append(b, `,"seq":`...)
	if ev.hasSeq {
		b = strconv.AppendUint(b, ev.seq, 10)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `},"source":`...)
	b = m.source(b, line, fseq, -1, canon)
	b = append(b, `,"stream":`...)
	b = canonical.AppendString(b, ev.stream)
	b = append(b, '}')
	m.buf = b
	return m.envelope(evidence.Content{
		EnvelopeID: d.env, EventType: tokens[agentEvent(ev)], ActorID: actor,
		TraceID: ev.runID, SessionID: ev.sessionKey, ClaimedAt: ev.ts, Payload: string(b),
	})
}

// source appends the payload's source object; block < 0 for none.
func (m *mapper) source(b []byte, line, fseq int64, block int, canon string) []byte {
	b = append(b, '{')
	if m.c.cfg.Format == Transcript {
		b = append(b, `"block":`...)
		if block < 0 {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, int64(block), 10)
		}
		b = append(b, ',')
	}
	b = append(b, `"format":"`...)
	b = append(b, m.c.cfg.Format.String()...)
	b = append(b, `","frame_seq":`...)
	if fseq < 0 {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, fseq, 10)
	}
	b = append(b, `,"input_sha256":"`...)
	b = append(b, m.sum...)
	b = append(b, `","line":`...)
	b = strconv.AppendInt(b, line, 10)
	b = append(b, `,"record_sha256":"`...)
	m.hashBuf = append(m.hashBuf[:0], canon...)
	sum := sha256.Sum256(m.hashBuf)
	b = hex.AppendEncode(b, sum[:])
	return append(b, `"}`...)
}

// appendLink appends a tool result's links, or null.
func appendLink(b []byte, l *link, transcript bool) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	c := l.call
	b = append(b, '{')
	if transcript {
		b = append(b, `"call_entry_id":`...)
		if c == nil {
			b = append(b, "null"...)
		} else {
			b = canonical.AppendString(b, c.entry)
		}
		b = append(b, ',')
	}
	b = append(b, `"call_envelope_id":`...)
	if c == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = c.env.Append(b)
		b = append(b, '"')
	}
	if !transcript {
		b = append(b, `,"call_seq":`...)
		if c == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendUint(b, c.seq, 10)
		}
	}
	b = append(b, `,"tool_call_id":`...)
	b = appendOptString(b, l.toolCallID, l.hasID)
	if c == nil {
		b = append(b, `,"unpaired":true`...)
	}
	return append(b, '}')
}

func (m *mapper) envelope(c evidence.Content) error {
	c.EnvironmentID = m.env
	c.AdapterID = m.adapter
	m.st.Envelopes++
	m.u.Content = c
	return m.emit(&m.u)
}

// entry writes the envelopes of the transcript line spooled from line:
// the entry's, then one per tool call of its content.
func (m *mapper) entry(line int64, canon string) error {
	e := &m.e
	if err := m.d.transcriptLine(canon, canon, &m.tr, e); err != nil {
		return m.internal(line, err)
	}
	cfg := &m.c.cfg
	ref := cfg.transcriptRef(line, e.at)
	d := m.t.entry(e, line, &m.tr, ref)
	if err := m.transcriptEnvelope(tokens[e.event], d.env, ref, line, -1, canon, d.link); err != nil {
		return err
	}
	for i, b := range e.calls {
		if err := m.transcriptEnvelope(tokens[EventToolCall], d.blocks[i], ref, line, b.index, b.canon, nil); err != nil {
			return err
		}
	}
	return nil
}

func (m *mapper) transcriptEnvelope(event scalar.Token, id scalar.UUID, ref eventRef, line int64, block int, canon string, l *link) error {
	source := sourceTranscript
	if block >= 0 {
		source = sourceBlock
	}
	rec, paths := m.red.Redact(source, canon)
	b := append(m.buf[:0], `{"links":`...)
	b = appendLink(b, l, true)
	b = append(b, `,"mapping_version":"`+MappingVersion+`","phase":null,"record":`...)
	b = append(b, rec...)
	b = append(b, `,"redactions":`...)
	b = redact.AppendList(b, paths)
	b = append(b, `,"run":null,"source":`...)
	b = m.source(b, line, -1, block, canon)
	b = append(b, `,"stream":null}`...)
	m.buf = b
	return m.envelope(evidence.Content{
		EnvelopeID: id, EventType: event, ActorID: ref.actor,
		TraceID: m.tr.session, SessionID: ref.session, ClaimedAt: ref.at, Payload: string(b),
	})
}

// unpaired writes an openclaw.tool.unpaired envelope.
func (m *mapper) unpaired(u *unpaired) error {
	b := append(m.buf[:0], `{"calls":[`...)
	for i, c := range u.calls {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"call_envelope_id":"`...)
		b = c.env.Append(b)
		b = append(b, `","name":`...)
		b = appendOptString(b, errcode.Abbrev(c.name, 256), c.name != "")
		b = append(b, `,"tool_call_id":`...)
		b = canonical.AppendString(b, c.id)
		b = append(b, '}')
	}
	b = append(b, `],"mapping_version":"`+MappingVersion+`","omitted":`...)
	b = strconv.AppendInt(b, int64(u.omitted), 10)
	b = append(b, `,"run":`...)
	trace := m.tr.session
	id := deriveID(u.last.at, "unpaired-transcript", trace.String())
	if u.runID == "" {
		b = append(b, "null"...)
	} else {
		trace = scalar.MustLabel(u.runID) // a run id is a label
		id = deriveID(u.last.at, "unpaired-agent", u.runID, u.attempt)
		b = append(b, `{"attempt":`...)
		b = strconv.AppendUint(b, u.attempt, 10)
		b = append(b, `,"run_id":`...)
		b = canonical.AppendString(b, u.runID)
		b = append(b, '}')
	}
	b = append(b, `,"source":{"format":"`...)
	b = append(b, m.c.cfg.Format.String()...)
	b = append(b, `","input_sha256":"`...)
	b = append(b, m.sum...)
	b = append(b, `","line":`...)
	b = strconv.AppendInt(b, u.last.line, 10)
	b = append(b, `}}`...)
	m.buf = b
	return m.envelope(evidence.Content{
		EnvelopeID: id, EventType: tokens[EventUnpaired], ActorID: u.last.actor,
		TraceID: trace, SessionID: u.last.session, ClaimedAt: u.last.at, Payload: string(b),
	})
}

// anomaly writes the openclaw.sequence_anomaly envelope: every finding
// that fits, in line order.
func (m *mapper) anomaly() error {
	c := m.c
	b := append(m.buf[:0], `{"findings":[`...)
	omitted, n := c.omitted, 0
	for i := range c.findings {
		mark := len(b)
		if n > 0 {
			b = append(b, ',')
		}
		b = c.findings[i].appendJSON(b)
		if len(b) > maxAnomalyBytes {
			b = b[:mark]
			omitted += len(c.findings) - i
			break
		}
		n++
	}
	b = append(b, `],"mapping_version":"`+MappingVersion+`","omitted":`...)
	b = strconv.AppendInt(b, int64(omitted), 10)
	b = append(b, `,"source":{"format":"`...)
	b = append(b, c.cfg.Format.String()...)
	b = append(b, `","input_sha256":"`...)
	b = append(b, m.sum...)
	b = append(b, `"}}`...)
	m.buf = b
	seed := append([]byte(idDomain+"anomaly\x00"), c.InputSHA256[:]...)
	at := c.first // the Unix epoch when there is no event
	ref := eventRef{actor: c.cfg.actorOf(scalar.Label{})}
	if c.cfg.Format == Transcript {
		ref = c.cfg.transcriptRef(0, at)
	}
	return m.envelope(evidence.Content{
		EnvelopeID: scalar.DeriveUUID7(at, seed), EventType: tokens[EventAnomaly], ActorID: ref.actor,
		TraceID: c.session, SessionID: ref.session, ClaimedAt: at, Payload: string(b),
	})
}

package openclaw

import (
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
)

// entry is one decoded transcript line: the header or an entry.
type entry struct {
	canon     string // the entry's canonical JSON (the record)
	event     string // its event type
	version   uint64 // the header's
	id        string // the v2/v3 entry id; the header's session id
	hasParent bool
	parent    string
	at        scalar.Timestamp
	result    string      // a toolResult message's toolCallId
	calls     []blockCall // a message's toolCall blocks
}

// blockCall is the toolCall block at index of a message's content.
type blockCall struct {
	index    int
	id, name string
	canon    string // the block's text: canonical when the entry was decoded from its canonical form
}

// transcriptState is what a transcript's lines share: its header.
type transcriptState struct {
	version uint64 // 0 before the header
	session scalar.Label
}

// entryTypes maps entry types to their event types (OPENCLAW.md §5).
var entryTypes = map[string]string{
	"model_change":          "openclaw.model-change",
	"thinking_level_change": "openclaw.thinking-level-change",
	"compaction":            "openclaw.compaction",
	"branch_summary":        "openclaw.branch-summary",
	"custom":                "openclaw.custom",
	"custom_message":        "openclaw.custom-message",
	"label":                 "openclaw.label",
	"session_info":          "openclaw.session-info",
}

// roleEvent is the event type of a message of the role.
func roleEvent(role string) string {
	switch role {
	case "user":
		return "openclaw.message.user"
	case "assistant":
		return "openclaw.message.assistant"
	case "bashExecution":
		return "openclaw.message.bash"
	case "custom", "hookMessage":
		return "openclaw.message.custom"
	case "toolResult":
		return EventToolResult
	}
	if strings.HasSuffix(role, "Summary") {
		return "openclaw.message.summary"
	}
	return "openclaw.message"
}

// header decodes line 1, o of type typ:
// {"type":"session","version"?,"id","timestamp","cwd",…}.
func (d *decoder) header(o *jsonobj.Object, typ string, e *entry) error {
	e.event, e.version = EventSession, 1
	if typ != "session" {
		return o.Errorf("type", "the first line of a transcript must be its session header (type \"session\"), not type %s", errcode.Abbrev(strconv.Quote(typ), 64))
	}
	if v := o.Get("version"); v.Exists() {
		switch v.Raw {
		case "1", "2", "3":
			e.version = uint64(v.Raw[0] - '0')
		default:
			return &errcode.Error{Code: errcode.OpenClawVersion, Field: o.KeyPath("version"),
				Msg: "unsupported transcript version " + errcode.Abbrev(v.Raw, 64) + ": want 1, 2 or 3 (or none, for 1)"}
		}
	}
	l, err := label(o, "id", "a trace_id")
	if err != nil {
		return err
	}
	e.id = l.String()
	if e.at, err = o.Timestamp("timestamp"); err != nil {
		return err
	}
	_, err = o.String("cwd")
	return err
}

// entry decodes a transcript entry o of type typ and the given version.
func (d *decoder) entry(o *jsonobj.Object, typ string, version uint64, e *entry) error {
	var err error
	if typ == "session" {
		return o.Errorf("type", "a session header after line 1")
	}
	if version >= 2 {
		if e.id, err = o.String("id"); err != nil {
			return err
		}
		switch v := o.Get("parentId"); v.Type() {
		case jsonobj.Null:
		case jsonobj.String:
			e.parent, e.hasParent = v.Str(), true
		default:
			if err := o.Require("parentId"); err != nil {
				return err
			}
			return o.Errorf("parentId", "must be a string or null, not %s", v.Type())
		}
	}
	timed := false
	if version >= 2 || o.Has("timestamp") {
		if e.at, err = o.Timestamp("timestamp"); err != nil {
			return err
		}
		timed = true
	}
	switch typ {
	case "message":
		m, err := o.Object("message")
		if err != nil {
			return err
		}
		if err := d.message(&m, e, timed); err != nil {
			return err
		}
	default:
		if e.event = entryTypes[typ]; e.event == "" {
			e.event = EventEntry
		}
		if !timed {
			return o.Require("timestamp")
		}
	}
	return nil
}

// message decodes an entry's message: its role, its time when the entry
// has none, a tool result's call id and an assistant's tool calls.
func (d *decoder) message(m *jsonobj.Object, e *entry, timed bool) error {
	role, err := m.String("role")
	if err != nil {
		return err
	}
	e.event = roleEvent(role)
	if !timed {
		if !m.Has("timestamp") {
			return &errcode.Error{Code: errcode.InputMissingField, Field: "$.timestamp", Msg: "missing, and the message has no timestamp either"}
		}
		ms, err := m.Int("timestamp")
		if err != nil {
			return err
		}
		if e.at, err = millis(m, "timestamp", ms); err != nil {
			return err
		}
	}
	switch role {
	case "toolResult":
		l, err := label(m, "toolCallId", "a tool call id")
		if err != nil {
			return err
		}
		e.result = l.String()
	case "assistant":
		if m.Get("content").Type() != jsonobj.Array {
			return nil
		}
		content, err := m.Array("content")
		if err != nil {
			return err
		}
		return content.Each(func(i int, v jsonobj.Value) error {
			if v.Type() != jsonobj.ObjectType {
				return nil
			}
			b, err := content.Object(i, v)
			if err != nil {
				return err
			}
			if t, _, _ := b.OptString("type"); t != "toolCall" {
				return nil
			}
			id, err := label(&b, "id", "a tool call id")
			if err != nil {
				return err
			}
			name, _, err := b.OptString("name")
			if err != nil {
				return err
			}
			e.calls = append(e.calls, blockCall{index: i, id: id.String(), name: name, canon: v.Raw})
			return nil
		})
	}
	return nil
}

// transcriptLine decodes and checks one transcript line in the first
// pass, and spools it.
func (p *pass1) transcriptLine(line []byte, n int64) error {
	if err := p.d.parse(line, false); err != nil {
		return err
	}
	var e entry
	st := &p.tr
	if err := p.d.transcriptLine(string(line), string(p.d.buf), st, &e); err != nil {
		return err
	}
	if e.event == EventSession {
		p.c.session = st.session
	}
	p.t.entry(&e, n, st, p.c.cfg.transcriptRef(n, e.at))
	return p.spool(n, -1, nil, []byte(e.canon), e.at)
}

// transcriptLine decodes a transcript line, as written and in canonical
// form: the header when st has none yet (which it then records), else an
// entry.
func (d *decoder) transcriptLine(text, canon string, st *transcriptState, e *entry) error {
	o, err := d.st.Object(jsonobj.Value{Raw: text})
	if err != nil {
		return err
	}
	typ, err := o.String("type")
	if err != nil {
		return err
	}
	*e = entry{canon: canon}
	if st.version != 0 {
		return d.entry(&o, typ, st.version, e)
	}
	if err := d.header(&o, typ, e); err != nil {
		return err
	}
	st.version = e.version
	st.session = scalar.MustLabel(e.id) // checked by header
	return nil
}

// transcriptEnd checks the transcript had a header and schedules its
// unpaired calls.
func (p *pass1) transcriptEnd() error {
	if p.tr.version == 0 {
		return &errcode.Error{Code: errcode.InputMissingField, Line: 1, Msg: "empty transcript: line 1 must be its session header"}
	}
	p.t.endTranscript()
	return nil
}

// transcriptRef is what a transcript entry's envelope takes from the
// Config: its session and actor.
func (c *Config) transcriptRef(line int64, at scalar.Timestamp) eventRef {
	var actor scalar.Label
	if id, ok := sessionAgent(c.SessionKey.String()); ok {
		actor, _ = scalar.ParseLabel("agent:" + id)
	}
	return eventRef{line: line, at: at, session: c.SessionKey, actor: c.actorOf(actor)}
}

// entryDerived is what the tracker derives for a transcript line.
type entryDerived struct {
	key    string
	env    scalar.UUID
	blocks []scalar.UUID // the envelope ids of its tool calls
	link   *link
}

// entry runs the tree and pairing checks on a transcript line and derives
// its key, envelope ids and link.
func (t *tracker) entry(e *entry, line int64, st *transcriptState, ref eventRef) entryDerived {
	session := st.session.String()
	var d entryDerived
	switch {
	case e.event == EventSession:
		d.key = "session"
	case st.version == 1:
		d.key = "line:" + strconv.FormatInt(line, 10)
	default:
		if t.ids == nil {
			t.ids = map[string]bool{}
		}
		d.key = e.id
		f := Finding{Kind: FindingTree, Line: line, EntryID: e.id, ParentID: e.parent, HasParent: e.hasParent}
		if t.ids[e.id] {
			d.key = "line:" + strconv.FormatInt(line, 10)
			f.Reason = ReasonDuplicateID
			t.find(f)
		}
		if e.hasParent && !t.ids[e.parent] {
			f.Reason = ReasonUnknownParent
			t.find(f)
		}
		t.ids[e.id] = true
	}
	d.env = TranscriptEnvelopeID(e.at, session, d.key, 0)
	r := &t.transcript
	r.last = ref
	d.blocks = t.blockBuf[:0]
	for _, b := range e.calls {
		env := TranscriptEnvelopeID(e.at, session, d.key, uint64(b.index)+1)
		d.blocks = append(d.blocks, env)
		if r.calls == nil {
			r.calls = map[string]*call{}
		}
		if r.calls[b.id] == nil {
			c := &call{id: b.id, name: b.name, env: env, entry: d.key, line: line}
			r.calls[b.id] = c
			r.order = append(r.order, c)
			r.open++
		}
	}
	t.blockBuf = d.blocks
	if e.event == EventToolResult {
		t.linkBuf = link{toolCallID: e.result, hasID: true}
		if c := r.calls[e.result]; c != nil {
			if !c.closed {
				c.closed = true
				r.open--
			}
			t.linkBuf.call = c
		} else {
			t.unpairedResult(line, "tool result "+callName(e.result)+" has no call")
		}
		d.link = &t.linkBuf
	}
	return d
}

// endTranscript schedules the transcript's calls still open.
func (t *tracker) endTranscript() { t.finish("", &t.transcript) }

package openclaw

import (
	"bytes"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// maxMillis is 9999-12-31T23:59:59.999Z, the last instant of SPEC §2.
const maxMillis = 253402300799999

// event is one decoded agent payload.
type event struct {
	canon      string // the payload's canonical JSON (the record), in the second pass
	raw        []byte // the same in the first pass, in the decoder's buffer
	runID      scalar.Label
	seq        uint64
	hasSeq     bool
	stream     string
	phase      string
	hasPhase   bool
	ts         scalar.Timestamp
	sessionKey scalar.Label // zero for none
	actor      scalar.Label // from agentId or the session key; zero for none
	toolCallID string       // "" for none
	toolName   string
	notice     bool // the gateway's gap notice
}

// frameKind says what a frame line holds.
type frameKind uint8

const (
	frameAgent   frameKind = iota // an agent event
	frameSkipped                  // another event, a request or a response
	frameHello                    // a hello-ok response: a new connection
)

// decoder decodes the lines of one capture strictly. Its errors name the
// JSON path of the value ("$.payload.seq"); the caller adds the line.
type decoder struct {
	st    jsonobj.Style // the root's
	sub   map[string]*jsonobj.Style
	canon canonical.Canonicalizer
	buf   []byte
	tail  []byte
	// members holds the members of the objects being decoded, by depth:
	// frame, payload, data.
	members [3][]jsonobj.Member
	actors  map[string]scalar.Label // agent:<id> by agentId or session key
}

func newDecoder() *decoder {
	return &decoder{st: jsonobj.Style{Root: "$", Document: true}, sub: map[string]*jsonobj.Style{}, actors: map[string]scalar.Label{}}
}

// style is the Style of the values at path.
func (d *decoder) style(path string) *jsonobj.Style {
	st := d.sub[path]
	if st == nil {
		st = &jsonobj.Style{Root: path, Document: true}
		d.sub[path] = st
	}
	return st
}

// object decodes v, at the root of st, as an object whose members are
// split into the buffer of the given depth. It is st.Object without an
// allocation per object.
func (d *decoder) object(st *jsonobj.Style, v jsonobj.Value, depth int) (jsonobj.Object, error) {
	if v.Type() != jsonobj.ObjectType {
		return st.Object(v) // the error
	}
	ms := d.members[depth][:0]
	gjson.Parse(v.Raw).ForEach(func(k, val gjson.Result) bool {
		ms = append(ms, jsonobj.Member{Key: k.Str, Value: jsonobj.Of(val)})
		return true
	})
	d.members[depth] = ms
	return st.Members(ms), nil
}

// uintOf is o.Uint(key) without its allocation on the common path.
func uintOf(o *jsonobj.Object, key string) (uint64, error) {
	if v := o.Get(key); plainDigits(v.Raw) {
		if n, err := strconv.ParseUint(v.Raw, 10, 64); err == nil {
			return n, nil
		}
	}
	return o.Uint(key)
}

// intOf is o.Int(key) without its allocation on the common path.
func intOf(o *jsonobj.Object, key string) (int64, error) {
	if v := o.Get(key); plainDigits(v.Raw) {
		if n, err := strconv.ParseInt(v.Raw, 10, 64); err == nil {
			return n, nil
		}
	}
	return o.Int(key)
}

// plainDigits reports whether s is a non-empty run of decimal digits.
func plainDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// actor is the label "agent:"+id, cached.
func (d *decoder) actor(id string) (scalar.Label, error) {
	if l, ok := d.actors[id]; ok {
		return l, nil
	}
	l, err := scalar.ParseLabel("agent:" + id)
	if err == nil && len(d.actors) < 4096 {
		d.actors[strings.Clone(id)] = l
	}
	return l, err
}

// parse validates line as strict JSON whose record nests at most
// maxRecordDepth levels (one more for a frame, whose record is its
// payload) and keeps its canonical form in d.buf until the next call.
// The line's fields are then decoded from the line itself, whose number
// literals are as written (the canonical form writes 1.0 as 1).
func (d *decoder) parse(line []byte, frame bool) error {
	depth := maxRecordDepth
	if frame {
		depth++
	}
	d.canon.MaxDepth = depth
	out, err := d.canon.Append(d.buf[:0], line)
	if err != nil {
		return d.parseError(line, err, depth, frame)
	}
	d.buf = out
	return nil
}

// parseError names, where it can, the path of the value the canonicaliser
// refused: the first value in document order that it refuses on its own,
// or the first container nested too deep.
func (d *decoder) parseError(line []byte, err error, depth int, frame bool) error {
	e, ok := errcode.As(err)
	if !ok {
		return errcode.Wrap(errcode.InputMalformedJSON, err, "invalid JSON")
	}
	e2 := *e
	if e.Code == errcode.InputTooDeep {
		what := "the record"
		if frame {
			what = "the frame"
		}
		e2.Msg = what + " nests deeper than " + strconv.Itoa(depth) + " levels, so its envelope would nest deeper than the 64 of SPEC §3 (" + e.Msg + ")"
	}
	if line = trimSpace(line); len(line) > 0 {
		e2.Field = locate(&d.st, jsonobj.Value{Raw: string(line)}, "$", e.Code, 1, depth)
	}
	return &e2
}

func trimSpace(b []byte) []byte {
	return []byte(strings.Trim(string(b), " \t\r\n"))
}

// locate returns the path of the first value inside v (at path, nested
// level levels deep) that canonical JSON refuses with code on its own, or
// of the first container deeper than max when code is input.too_deep; ""
// when there is none. It runs only on lines already refused, so its cost
// does not matter.
func locate(st *jsonobj.Style, v jsonobj.Value, path string, code errcode.Code, level, max int) string {
	switch v.Type() {
	case jsonobj.Array:
		if level > max {
			return tooDeep(path, code)
		}
		at := *st
		at.Root = path
		list, err := at.List(v)
		if err != nil {
			return ""
		}
		found := ""
		list.Each(func(i int, e jsonobj.Value) error {
			if found = locate(st, e, list.IndexPath(i), code, level+1, max); found != "" {
				return errStop
			}
			return nil
		})
		return found
	case jsonobj.ObjectType:
		if level > max {
			return tooDeep(path, code)
		}
		o, err := st.ObjectAt(path, v)
		if err != nil {
			return ""
		}
		seen := make(map[string]bool, o.Len())
		for _, m := range o.Members() {
			if code == errcode.InputMalformedJSON && seen[m.Key] {
				return path // a duplicate key
			}
			seen[m.Key] = true
			if found := locate(st, m.Value, o.KeyPath(m.Key), code, level+1, max); found != "" {
				return found
			}
		}
		return ""
	}
	if _, err := canonical.Transform([]byte(v.Raw)); err != nil && errcode.CodeOf(err) == code {
		return path
	}
	return ""
}

func tooDeep(path string, code errcode.Code) string {
	if code == errcode.InputTooDeep {
		return path
	}
	return ""
}

// errStop ends a walk early.
var errStop = errcode.New(errcode.Internal, "stop")

// frame decodes a frame line: an agent event into ev (with the frame's
// seq, or -1), or the kind of frame skipped, named for the count on
// stderr ("event tick", "res").
func (d *decoder) frame(line []byte, ev *event) (kind frameKind, name string, frameSeq int64, err error) {
	if err := d.parse(line, true); err != nil {
		return 0, "", -1, err
	}
	o, err := d.object(&d.st, jsonobj.Value{Raw: string(line)}, 0)
	if err != nil {
		return 0, "", -1, err
	}
	typ, err := o.String("type")
	if err != nil {
		return 0, "", -1, err
	}
	frameSeq = -1
	switch typ {
	case "event":
		if err := o.Only("event", "payload", "seq", "stateVersion", "type"); err != nil {
			return 0, "", -1, err
		}
		name, err := o.String("event")
		if err != nil {
			return 0, "", -1, err
		}
		if o.Has("seq") {
			n, err := uintOf(&o, "seq")
			if err != nil {
				return 0, "", -1, err
			}
			frameSeq = int64(n) // ≤ 2^53: the canonicaliser refuses more
		}
		if name != "agent" {
			return frameSkipped, "event " + name, frameSeq, nil
		}
		p, err := d.object(d.style("$.payload"), o.Get("payload"), 1)
		if err != nil {
			return 0, "", -1, err
		}
		return frameAgent, "", frameSeq, d.agent(&p, d.payloadSpan(&o, frameSeq), "$.payload.data", ev)
	case "req":
		if err := o.Only("id", "method", "params", "type"); err != nil {
			return 0, "", -1, err
		}
		if _, err := o.String("id"); err != nil {
			return 0, "", -1, err
		}
		if _, err := o.String("method"); err != nil {
			return 0, "", -1, err
		}
		return frameSkipped, "req", -1, nil
	case "res":
		if err := o.Only("error", "id", "ok", "payload", "type"); err != nil {
			return 0, "", -1, err
		}
		if _, err := o.String("id"); err != nil {
			return 0, "", -1, err
		}
		if _, err := o.Bool("ok"); err != nil {
			return 0, "", -1, err
		}
		if p, ok, _ := o.OptObject("payload"); ok {
			if t, _, _ := p.OptString("type"); t == "hello-ok" {
				return frameHello, "res", -1, nil
			}
		}
		return frameSkipped, "res", -1, nil
	}
	return 0, "", -1, o.Errorf("type", "unknown frame type %s: want event, req or res", errcode.Abbrev(strconv.Quote(typ), 64))
}

// payload decodes a bare agent payload line.
func (d *decoder) payload(line []byte, ev *event) error {
	if err := d.parse(line, false); err != nil {
		return err
	}
	o, err := d.object(&d.st, jsonobj.Value{Raw: string(line)}, 1)
	if err != nil {
		return err
	}
	return d.agent(&o, d.buf, "$.data", ev)
}

// payloadSpan returns the agent payload's canonical text within the
// canonical frame: JCS writes the frame's members in key order, so it is
// {"event":"agent","payload":P then the seq, the stateVersion and
// "type":"event"}, each in canonical form.
func (d *decoder) payloadSpan(o *jsonobj.Object, seq int64) []byte {
	const head = `{"event":"agent","payload":`
	tail := d.tail[:0]
	if seq >= 0 {
		tail = strconv.AppendInt(append(tail, `,"seq":`...), seq, 10)
	}
	if sv := o.Get("stateVersion"); sv.Exists() {
		var err error
		if tail, err = canonical.Append(append(tail, `,"stateVersion":`...), []byte(sv.Raw)); err != nil {
			return []byte(gjson.GetBytes(d.buf, "payload").Raw)
		}
	}
	tail = append(tail, `,"type":"event"}`...)
	d.tail = tail
	b := d.buf
	if len(b) < len(head)+len(tail) || string(b[:len(head)]) != head || string(b[len(b)-len(tail):]) != string(tail) {
		return []byte(gjson.GetBytes(d.buf, "payload").Raw) // cannot happen: the frame's keys are checked
	}
	return b[len(head) : len(b)-len(tail)]
}

// agent decodes an agent payload (OPENCLAW.md §1) into ev; canon is its
// canonical text and dataPath the path of its data.
func (d *decoder) agent(o *jsonobj.Object, canon []byte, dataPath string, ev *event) error {
	*ev = event{raw: canon}
	var err error
	if ev.runID, err = label(o, "runId", "a trace_id"); err != nil {
		return err
	}
	if ev.stream, err = o.String("stream"); err != nil {
		return err
	}
	if ev.stream == "" {
		return o.Errorf("stream", "must not be empty")
	}
	ms, err := intOf(o, "ts")
	if err != nil {
		return err
	}
	if ev.ts, err = millis(o, "ts", ms); err != nil {
		return err
	}
	// Of data only a few members are read, each by a lookup that stops at
	// its key: a tool result's data can be kilobytes after them.
	data := lazyObject{d: d, st: d.style(dataPath), v: o.Get("data")}
	if data.v.Type() != jsonobj.ObjectType {
		_, err := data.object()
		return err
	}
	if ph := data.get("phase"); ph.Type() == jsonobj.String {
		ev.phase, ev.hasPhase = ph.Str(), true
	}
	if ev.stream == "error" {
		if r := data.get("reason"); r.Type() == jsonobj.String && r.Str() == "seq gap" {
			ev.notice = true
			for _, k := range []string{"expected", "received"} {
				if !plainDigits(data.get(k).Raw) {
					if err := data.fail(func(o *jsonobj.Object) error { _, err := o.Uint(k); return err }); err != nil {
						return err
					}
				}
			}
		}
	}
	if o.Has("seq") || !ev.notice {
		if ev.seq, err = uintOf(o, "seq"); err != nil {
			return err
		}
		ev.hasSeq = !ev.notice
	}
	if ev.sessionKey, err = optLabel(o, "sessionKey", "a session_id"); err != nil {
		return err
	}
	if _, _, err := o.OptString("sessionId"); err != nil {
		return err
	}
	if id, ok, err := o.OptString("agentId"); err != nil {
		return err
	} else if ok {
		if ev.actor, err = d.actor(id); err != nil {
			return o.Errorf("agentId", "agent:<agentId> cannot be an actor_id: %s", errMsg(err))
		}
	} else if id, ok := sessionAgent(ev.sessionKey.String()); ok {
		ev.actor, _ = d.actor(id) // a part of a label: valid but for an empty id, refused by sessionAgent
	}
	if ev.stream == "tool" {
		switch v := data.get("toolCallId"); v.Type() {
		case jsonobj.Absent, jsonobj.Null:
		case jsonobj.String:
			if _, err := scalar.ParseLabel(v.Str()); err == nil {
				ev.toolCallID = v.Str()
				break
			}
			fallthrough
		default:
			return data.fail(func(o *jsonobj.Object) error { _, err := optLabel(o, "toolCallId", "a tool call id"); return err })
		}
		switch v := data.get("name"); v.Type() {
		case jsonobj.Absent, jsonobj.Null:
		case jsonobj.String:
			ev.toolName = v.Str()
		default:
			return data.fail(func(o *jsonobj.Object) error { _, _, err := o.OptString("name"); return err })
		}
	}
	return nil
}

// lazyObject is an object whose members are looked up one by one; only
// to report an error is it decoded whole, by pkg/jsonobj.
type lazyObject struct {
	d  *decoder
	st *jsonobj.Style // of the object
	v  jsonobj.Value
}

// get returns the member key (a plain name: no gjson path syntax).
func (l *lazyObject) get(key string) jsonobj.Value { return jsonobj.Of(gjson.Get(l.v.Raw, key)) }

func (l *lazyObject) object() (jsonobj.Object, error) { return l.d.object(l.st, l.v, 2) }

// fail returns the error check reports on the whole object.
func (l *lazyObject) fail(check func(*jsonobj.Object) error) error {
	o, err := l.object()
	if err != nil {
		return err
	}
	return check(&o)
}

// wrongKind is input.wrong_kind for a first line that is not an OpenClaw
// capture's but an Arxi file's (its records, or a store), else nil.
func wrongKind(line []byte) error {
	what := ""
	switch o := gjson.ParseBytes(line); {
	case bytes.HasPrefix(line, []byte("SQLite format 3\x00")):
		what = "an SQLite database (an Arxi store?)"
	case !gjson.ValidBytes(line) || !o.IsObject():
	case o.Get("record").Type == gjson.String:
		what = "Arxi " + errcode.Abbrev(o.Get("record").Str, 32) + " records"
	case o.Get("event_type").Exists() && o.Get("adapter_id").Exists():
		what = "Arxi unsealed events"
	}
	if what == "" {
		return nil
	}
	return &errcode.Error{Code: errcode.InputWrongKind, Line: 1, Msg: "the input holds " + what + ", not an OpenClaw capture",
		Hint: "arxi-openclaw reads gateway frames, bare agent payloads (--payloads) or a session transcript (--transcript); Arxi's own files go to arxi-seal, arxi-append or arxi-verify"}
}

// sessionAgent is the <id> of a session key agent:<id>:….
func sessionAgent(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, "agent:")
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, ":")
	return id, ok && id != ""
}

// label decodes o.key as a string that is also a valid Arxi label.
func label(o *jsonobj.Object, key, what string) (scalar.Label, error) {
	s, err := o.String(key)
	if err != nil {
		return scalar.Label{}, err
	}
	l, err := scalar.ParseLabel(s)
	if err != nil {
		return scalar.Label{}, o.Errorf(key, "cannot be %s: %s", what, errMsg(err))
	}
	return l, nil
}

// optLabel is label for an optional member (absent or null: zero).
func optLabel(o *jsonobj.Object, key, what string) (scalar.Label, error) {
	if o.Get(key).IsNull() {
		return scalar.Label{}, nil
	}
	return label(o, key, what)
}

// errMsg is an error's message without its code.
func errMsg(err error) string {
	if e, ok := errcode.As(err); ok {
		return e.Msg
	}
	return err.Error()
}

// millis checks that ms (o.key) is an instant Arxi records.
func millis(o *jsonobj.Object, key string, ms int64) (scalar.Timestamp, error) {
	if ms < 0 || ms > maxMillis {
		return scalar.Timestamp{}, o.Errorf(key, "%d ms is outside the range Arxi records (1970-01-01 to 9999-12-31)", ms)
	}
	return scalar.UnixMilliTimestamp(ms)
}

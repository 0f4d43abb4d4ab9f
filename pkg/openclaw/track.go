package openclaw

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

// idDomain starts the seed of every envelope id this package derives.
const idDomain = "arxi/v1/openclaw\x00"

// AgentEnvelopeID derives the envelope id of an agent event
// (OPENCLAW.md §2): uuid7(claimedAt, "arxi/v1/openclaw\0" || "agent\0" ||
// runID || "\0" || attempt || seq || occurrence), the last three 8 bytes
// big-endian each.
func AgentEnvelopeID(claimedAt scalar.Timestamp, runID string, attempt, seq, occurrence uint64) scalar.UUID {
	return deriveID(claimedAt, "agent", runID, attempt, seq, occurrence)
}

// TranscriptEnvelopeID derives the envelope id of a transcript entry, or
// of the tool call in block i of its content with block = i+1
// (OPENCLAW.md §5): uuid7(claimedAt, "arxi/v1/openclaw\0" ||
// "transcript\0" || sessionID || "\0" || key || "\0" || block), block 8
// bytes big-endian; key is the entry id, "line:N" for a version 1 entry
// (or a repeated id) and "session" for the header.
func TranscriptEnvelopeID(claimedAt scalar.Timestamp, sessionID, key string, block uint64) scalar.UUID {
	seed := make([]byte, 0, len(idDomain)+len(sessionID)+len(key)+32)
	seed = append(seed, idDomain+"transcript\x00"...)
	seed = append(seed, sessionID...)
	seed = append(seed, 0)
	seed = append(seed, key...)
	seed = append(seed, 0)
	seed = binary.BigEndian.AppendUint64(seed, block)
	return scalar.DeriveUUID7(claimedAt, seed)
}

// deriveID is uuid7(t, domain || kind || "\0" || name || "\0" || the
// numbers, 8 bytes big-endian each).
func deriveID(t scalar.Timestamp, kind, name string, nums ...uint64) scalar.UUID {
	var buf [128]byte
	seed := append(buf[:0], idDomain...)
	seed = append(seed, kind...)
	seed = append(seed, 0)
	seed = append(seed, name...)
	seed = append(seed, 0)
	for _, n := range nums {
		seed = binary.BigEndian.AppendUint64(seed, n)
	}
	return scalar.DeriveUUID7(t, seed)
}

// Finding kinds (OPENCLAW.md §3).
const (
	FindingGap        = "gap"
	FindingDuplicate  = "duplicate"
	FindingOutOfOrder = "out_of_order"
	FindingFrameGap   = "frame_gap"
	FindingTree       = "tree"
)

// Tree finding reasons.
const (
	ReasonDuplicateID   = "duplicate_id"
	ReasonUnknownParent = "unknown_parent"
)

// Finding is one failed sequence or tree check.
type Finding struct {
	Kind string
	Line int64
	// Sequence findings: the run and attempt (none for a frame_gap), the
	// seq expected and the seq received, and for a gap the missing seqs
	// Missing[0] to Missing[1].
	RunID              string
	Attempt            uint64
	Expected, Received uint64
	Missing            [2]uint64
	// Tree findings: the entry, its parent (HasParent false for null) and
	// why it fails.
	EntryID, ParentID string
	HasParent         bool
	Reason            string
}

// Code is the error code of the finding under Strict.
func (f *Finding) Code() errcode.Code {
	if f.Kind == FindingTree {
		return errcode.OpenClawTranscriptTree
	}
	return errcode.OpenClawSequenceGap
}

// Message describes the finding: "run R attempt 0: missing 5-7 (received 8)".
func (f *Finding) Message() string {
	missing := func() string {
		if f.Missing[0] == f.Missing[1] {
			return strconv.FormatUint(f.Missing[0], 10)
		}
		return fmt.Sprintf("%d-%d", f.Missing[0], f.Missing[1])
	}
	run := "run " + strconv.Quote(f.RunID) + " attempt " + strconv.FormatUint(f.Attempt, 10) + ": "
	switch f.Kind {
	case FindingGap:
		return fmt.Sprintf("%smissing %s (received %d)", run, missing(), f.Received)
	case FindingDuplicate:
		return fmt.Sprintf("%sseq %d again (expected %d)", run, f.Received, f.Expected)
	case FindingOutOfOrder:
		return fmt.Sprintf("%sseq %d out of order (expected %d)", run, f.Received, f.Expected)
	case FindingFrameGap:
		if f.Received > f.Expected {
			return fmt.Sprintf("frame seq: missing %s (received %d)", missing(), f.Received)
		}
		return fmt.Sprintf("frame seq: %d after %d (expected %d)", f.Received, f.Expected-1, f.Expected)
	}
	id := errcode.Abbrev(strconv.Quote(f.EntryID), 80)
	if f.Reason == ReasonDuplicateID {
		return "entry id " + id + " repeats an earlier entry's"
	}
	return "entry " + id + ": parentId " + errcode.Abbrev(strconv.Quote(f.ParentID), 80) + " names no earlier entry"
}

// Error is the finding as the error Strict reports.
func (f *Finding) Error() *errcode.Error {
	return &errcode.Error{Code: f.Code(), Line: f.Line, Msg: f.Message()}
}

// appendJSON appends the finding's JCS object.
func (f *Finding) appendJSON(b []byte) []byte {
	if f.Kind == FindingTree {
		b = append(b, `{"entry_id":`...)
		b = canonical.AppendString(b, f.EntryID)
		b = append(b, `,"kind":"tree","line":`...)
		b = strconv.AppendInt(b, f.Line, 10)
		b = append(b, `,"parent_id":`...)
		b = appendOptString(b, f.ParentID, f.HasParent)
		b = append(b, `,"reason":"`...)
		b = append(b, f.Reason...)
		return append(b, `"}`...)
	}
	frame := f.Kind == FindingFrameGap
	b = append(b, `{"attempt":`...)
	if frame {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendUint(b, f.Attempt, 10)
	}
	b = append(b, `,"expected":`...)
	b = strconv.AppendUint(b, f.Expected, 10)
	b = append(b, `,"kind":"`...)
	b = append(b, f.Kind...)
	b = append(b, `","line":`...)
	b = strconv.AppendInt(b, f.Line, 10)
	b = append(b, `,"missing":`...)
	if f.Received > f.Expected {
		b = append(b, '[')
		b = strconv.AppendUint(b, f.Missing[0], 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, f.Missing[1], 10)
		b = append(b, ']')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"received":`...)
	b = strconv.AppendUint(b, f.Received, 10)
	b = append(b, `,"run_id":`...)
	b = appendOptString(b, f.RunID, !frame)
	return append(b, '}')
}

func appendOptString(b []byte, s string, ok bool) []byte {
	if !ok {
		return append(b, "null"...)
	}
	return canonical.AppendString(b, s)
}

// CheckError is a capture refused by its checks: every finding under
// Strict, and with Config.RequirePaired every unpaired tool call and
// result, one error each, in line order by kind. It unwraps to the first,
// so its exit status is that of the codes (1).
type CheckError struct {
	Problems []*errcode.Error
	Omitted  int // problems beyond those listed
}

func (e *CheckError) Error() string {
	s := e.Problems[0].Error()
	if n := len(e.Problems) - 1 + e.Omitted; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return s
}

// Unwrap returns the first problem.
func (e *CheckError) Unwrap() error { return e.Problems[0] }

// span is a run of missing seqs, from and to included.
type span struct{ from, to uint64 }

// eventRef is what an openclaw.tool.unpaired envelope takes from the last
// event of its run attempt.
type eventRef struct {
	line    int64
	at      scalar.Timestamp
	session scalar.Label
	actor   scalar.Label
}

// call is a tool call seen, waiting for or paired with its result.
type call struct {
	id, name string
	env      scalar.UUID
	seq      uint64 // the call's seq; for a transcript, 0
	entry    string // a transcript call's entry key
	line     int64
	closed   bool
}

// unpaired is one openclaw.tool.unpaired envelope to write after the line
// of last.
type unpaired struct {
	runID   string // "" for a transcript
	attempt uint64
	last    eventRef
	calls   []*call
	omitted int
}

// run is the state of one run id: its current attempt's sequence and its
// tool calls.
type run struct {
	attempt uint64
	next    uint64 // the seq expected
	ended   bool   // a lifecycle end or error was seen in this attempt
	missing []span // seqs below next not seen yet, in order
	zero    bool   // seq 0 was seen
	repeats map[uint64]uint64
	calls   map[string]*call
	order   []*call // calls in the order they started
	open    int     // calls without their result
	last    eventRef
}

func (r *run) reset() {
	*r = run{attempt: r.attempt + 1, next: 1}
}

// repeat counts one more sighting of seq and returns its occurrence.
func (r *run) repeat(seq uint64) uint64 {
	if r.repeats == nil {
		r.repeats = map[uint64]uint64{}
	}
	r.repeats[seq]++
	return r.repeats[seq]
}

// takeMissing reports whether seq was missing, and marks it seen.
func (r *run) takeMissing(seq uint64) bool {
	for i, s := range r.missing {
		if seq < s.from || seq > s.to {
			continue
		}
		switch {
		case s.from == s.to:
			r.missing = append(r.missing[:i], r.missing[i+1:]...)
		case seq == s.from:
			r.missing[i].from++
		case seq == s.to:
			r.missing[i].to--
		default:
			r.missing = append(r.missing[:i+1], r.missing[i:]...)
			r.missing[i].to = seq - 1
			r.missing[i+1].from = seq + 1
		}
		return true
	}
	return false
}

// evict forgets the calls already paired, once the attempt has ended, so
// that memory stays with the open calls.
func (r *run) evict() {
	order := r.order[:0]
	for _, c := range r.order {
		if c.closed {
			delete(r.calls, c.id)
		} else {
			order = append(order, c)
		}
	}
	clear(r.order[len(order):])
	r.order = order
}

// link is what a tool result's payload says of its call.
type link struct {
	toolCallID string
	hasID      bool
	call       *call // nil when unpaired
}

// derived is what the tracker derives for one event.
type derived struct {
	attempt, occurrence uint64
	env                 scalar.UUID
	link                *link
}

// tracker runs the sequence and pairing checks over a capture's events in
// line order. Both passes run one: the first collects findings, pairing
// problems and the openclaw.tool.unpaired envelopes to write; the second
// derives the same attempts, occurrences, ids and links again as it maps.
type tracker struct {
	first        bool // the checking pass
	runs         map[string]*run
	findings     []Finding
	omitted      int // findings beyond maxFindings
	problems     []*errcode.Error
	dropped      int // pairing problems beyond maxFindings
	warnings     []string
	moreWarnings int
	ends         map[int64]*unpaired // by the line they follow
	calls        int                 // unpaired calls
	results      int                 // unpaired results
	frameNext    uint64              // the frame seq expected; 0 before the first
	linkBuf      link

	// A transcript's entry ids, and its tool calls as one attempt.
	ids        map[string]bool
	transcript run
	blockBuf   []scalar.UUID
}

func newTracker(first bool) *tracker {
	return &tracker{first: first, runs: map[string]*run{}, ends: map[int64]*unpaired{}}
}

func (t *tracker) find(f Finding) {
	if !t.first {
		return
	}
	if len(t.findings) >= maxFindings {
		t.omitted++
		return
	}
	t.findings = append(t.findings, f)
}

// frameSeq checks a frame's seq (--frame-seq).
func (t *tracker) frameSeq(line int64, seq uint64) {
	e := t.frameNext
	t.frameNext = seq + 1
	if e == 0 || seq == e {
		return
	}
	f := Finding{Kind: FindingFrameGap, Line: line, Expected: e, Received: seq}
	if seq > e {
		f.Missing = [2]uint64{e, seq - 1}
	}
	t.find(f)
}

// observe runs the checks on the agent event ev at line, attributed to
// actor, and derives its attempt, occurrence, envelope id and link.
func (t *tracker) observe(ev *event, line int64, actor scalar.Label) derived {
	id := ev.runID.String()
	r := t.runs[id]
	if ev.notice {
		d := derived{env: deriveID(ev.ts, "notice", id, uint64(line))}
		if r != nil {
			d.attempt = r.attempt
		}
		return d
	}
	if r == nil {
		r = &run{next: 1}
		t.runs[id] = r
	} else if r.ended && ev.seq == 1 {
		t.finish(id, r)
		r.reset()
	}
	var d derived
	s, e := ev.seq, r.next
	f := Finding{Line: line, RunID: id, Attempt: r.attempt, Expected: e, Received: s}
	switch {
	case s == e:
		r.next++
	case s > e:
		f.Kind, f.Missing = FindingGap, [2]uint64{e, s - 1}
		r.missing = append(r.missing, span{e, s - 1})
		r.next = s + 1
	case s == 0 && !r.zero:
		f.Kind, r.zero = FindingOutOfOrder, true
	case s == 0:
		f.Kind, d.occurrence = FindingDuplicate, r.repeat(0)
	case r.takeMissing(s):
		f.Kind = FindingOutOfOrder
	default:
		f.Kind, d.occurrence = FindingDuplicate, r.repeat(s)
	}
	if f.Kind != "" {
		t.find(f)
	}
	d.attempt = r.attempt
	// The first pass needs the ids of tool calls only, for their results'
	// links.
	if !t.first || ev.stream == "tool" && ev.phase == "start" {
		d.env = AgentEnvelopeID(ev.ts, id, r.attempt, s, d.occurrence)
	}
	r.last = eventRef{line: line, at: ev.ts, session: ev.sessionKey, actor: actor}
	if ev.stream == "tool" {
		d.link = t.pair(r, ev, d.env, line, id)
	}
	if ev.stream == "lifecycle" && (ev.phase == "end" || ev.phase == "error") {
		r.ended = true
		r.evict()
	}
	return d
}

// pair tracks a tool call, or links a tool result to its call.
func (t *tracker) pair(r *run, ev *event, env scalar.UUID, line int64, runID string) *link {
	switch ev.phase {
	case "start":
		if ev.toolCallID == "" {
			return nil
		}
		if r.calls == nil {
			r.calls = map[string]*call{}
		}
		if r.calls[ev.toolCallID] == nil { // a repeated start keeps the first
			c := &call{id: ev.toolCallID, name: ev.toolName, env: env, seq: ev.seq, line: line}
			r.calls[ev.toolCallID] = c
			r.order = append(r.order, c)
			r.open++
		}
	case "result":
		t.linkBuf = link{toolCallID: ev.toolCallID, hasID: ev.toolCallID != ""}
		if c := r.calls[ev.toolCallID]; c != nil && ev.toolCallID != "" {
			if !c.closed {
				c.closed = true
				r.open--
			}
			t.linkBuf.call = c
		} else {
			t.unpairedResult(line, fmt.Sprintf("run %q attempt %d: tool result %s has no call", runID, r.attempt, callName(ev.toolCallID)))
		}
		return &t.linkBuf
	}
	return nil
}

func callName(id string) string {
	if id == "" {
		return "without a toolCallId"
	}
	return errcode.Abbrev(strconv.Quote(id), 80)
}

func (t *tracker) unpairedResult(line int64, msg string) {
	if !t.first {
		return
	}
	t.results++
	t.problem(&errcode.Error{Code: errcode.OpenClawUnpairedTool, Line: line, Msg: msg})
	t.warn(fmt.Sprintf("line %d: %s; its links say unpaired", line, msg))
}

func (t *tracker) problem(e *errcode.Error) {
	if len(t.problems) >= maxFindings {
		t.dropped++
		return
	}
	t.problems = append(t.problems, e)
}

// finish ends the current attempt of run id (of the transcript for ""):
// its calls still open make an openclaw.tool.unpaired envelope after its
// last event.
func (t *tracker) finish(id string, r *run) {
	if !t.first || r.open == 0 {
		return
	}
	u := &unpaired{runID: id, attempt: r.attempt, last: r.last}
	where := fmt.Sprintf("run %q attempt %d", id, r.attempt)
	if id == "" {
		where = "transcript"
	}
	for _, c := range r.order {
		if c.closed {
			continue
		}
		if len(u.calls) == maxListedCalls {
			u.omitted++
			continue
		}
		u.calls = append(u.calls, c)
	}
	t.ends[u.last.line] = u
	n := len(u.calls) + u.omitted
	t.calls += n
	names := make([]string, 0, 3)
	for _, c := range u.calls {
		t.problem(&errcode.Error{Code: errcode.OpenClawUnpairedTool, Line: c.line,
			Msg: where + ": tool call " + callName(c.id) + " has no result"})
		if len(names) < cap(names) {
			names = append(names, callName(c.id))
		}
	}
	more := ""
	if n > len(names) {
		more = fmt.Sprintf(" and %d more", n-len(names))
	}
	t.warn(fmt.Sprintf("line %d: %s: %s without a result (%s%s), listed in an %s envelope",
		u.last.line, where, plural(n, "tool call"), strings.Join(names, ", "), more, EventUnpaired))
}

// warn adds a warning, the first maxWarnings only.
func (t *tracker) warn(msg string) {
	if len(t.warnings) < maxWarnings {
		t.warnings = append(t.warnings, msg)
		return
	}
	t.moreWarnings++
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// end finishes every run's last attempt, at the end of the capture.
func (t *tracker) end() {
	ids := make([]string, 0, len(t.runs))
	for id, r := range t.runs {
		if r.open > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(t.runs[a].last.line, t.runs[b].last.line) })
	for _, id := range ids {
		t.finish(id, t.runs[id])
	}
}

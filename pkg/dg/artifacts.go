package dg

import (
	"bytes"
	"sort"
	"sync"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// source describes one mapped artifact.
type source struct {
	name   string // the --redact-path prefix
	path   string
	event  string
	object bool // a JSON object rather than an array of records
	decode func(d decoder, v gjson.Result, field string, r *record) error
}

// Source indexes, in mapping order (DG.md §3).
const (
	srcTriggers = iota
	srcGateEvals
	srcDecisions
	srcPackets
	srcSubmissions
	srcToolCalls
	srcVerifierReport
	nSources
)

var sources = [nSources]source{
	{"triggers", triggersPath, EventTrigger, false, decodeTrigger},
	{"gate_evals", gateEvalsPath, EventGateEval, false, decodeGateEval},
	{"decisions", decisionsPath, EventDecision, false, decodeDecision},
	{"packets", packetsPath, EventPacket, false, decodePacket},
	{"submissions", submissionsPath, EventSubmission, false, decodeSubmission},
	{"tool_calls", toolCallsPath, EventToolCall, false, decodeToolCall},
	{"verifier_report", verifierReportPath, EventVerifierReport, true, decodeVerifierReport},
}

// sourceData is a decoded artifact.
type sourceData struct {
	file *file
	recs []*record // in mapping order (triggers and decisions by seq)
}

// record is one decoded DG record.
type record struct {
	index int    // position in its artifact array (0 for objects)
	canon string // JCS form of the original record
	time  dgTime // the DG time claimed_at comes from
	// hasTime is false for a gate evaluation whose trigger is not in the
	// runpack, and for a verifier report without generated_at; those map
	// to the manifest's generated_at.
	hasTime bool

	seq         uint64
	triggerID   string // triggers, gate_evals, decisions
	decisionID  string // decisions, packets
	correlation string // triggers, tool_calls: correlation_id or ""
	hasCorr     bool

	// tool calls
	method   string
	reqHash  scalar.Digest
	respHash scalar.Digest
	errCanon string // JCS of error, "" when null
	outcome  string // decisions: outcome.kind
	eventJCS string // triggers: JCS of event, the request of scenario.trigger
	links    *links
}

// decodeSources decodes every mapped artifact that could be read, each in
// its own goroutine (they are independent; results are kept in source
// order, so the outcome does not depend on scheduling). An artifact that
// does not decode is recorded in decodeErrs and skipped.
func (rp *Runpack) decodeSources() {
	var errs [nSources]error
	var wg sync.WaitGroup
	for i := range sources {
		f := rp.byPath[sources[i].path]
		if f == nil || f.data == nil {
			continue
		}
		wg.Go(func() {
			var c canonical.Canonicalizer
			rp.srcs[i], errs[i] = decodeSource(&c, &sources[i], f)
		})
	}
	wg.Wait()
	for i := range sources {
		f := rp.byPath[sources[i].path]
		switch {
		case f == nil:
		case f.data == nil:
			rp.skipped = append(rp.skipped, sources[i].path)
		case errs[i] != nil:
			rp.srcs[i] = nil
			rp.decodeErrs = append(rp.decodeErrs, errs[i])
			rp.skipped = append(rp.skipped, sources[i].path)
		}
	}
}

// decodeSource decodes one artifact file. Fields are decoded from the raw
// text, so a fraction where DG writes an integer is caught before the
// canonical form normalises "1.0" to "1"; records are kept in canonical
// form.
func decodeSource(c *canonical.Canonicalizer, s *source, f *file) (*sourceData, error) {
	d := decoder{file: s.path, m: &members{}}
	canon, err := d.parse(c, f.data)
	if err != nil {
		return nil, err
	}
	craw := string(canon)
	raw := craw
	if !bytes.Equal(canon, f.data) {
		raw = string(f.data)
	}
	sd := &sourceData{file: f}
	rroot, croot := gjson.Parse(raw), gjson.Parse(craw)
	if s.object {
		if err := d.object(rroot, "$"); err != nil {
			return nil, err
		}
		r := &record{canon: craw}
		if err := s.decode(d, rroot, "$", r); err != nil {
			return nil, err
		}
		sd.recs = []*record{r}
		return sd, nil
	}
	if err := d.array(rroot, "$"); err != nil {
		return nil, err
	}
	relems := rroot.Array()
	celems := relems
	if raw != craw {
		celems = croot.Array()
	}
	sd.recs = make([]*record, len(relems))
	for i, v := range relems {
		field := index("$", i)
		if err := d.object(v, field); err != nil {
			return nil, err
		}
		r := &record{index: i, canon: celems[i].Raw}
		if err := s.decode(d, v, field, r); err != nil {
			return nil, err
		}
		sd.recs[i] = r
	}
	if s.path == triggersPath || s.path == decisionsPath {
		sort.SliceStable(sd.recs, func(a, b int) bool { return sd.recs[a].seq < sd.recs[b].seq })
	}
	return sd, nil
}

func decodeTrigger(d decoder, v gjson.Result, field string, r *record) error {
	var err error
	if r.seq, err = d.uint(v, "seq", field); err != nil {
		return err
	}
	ev := d.member(v, "event")
	efield := field + ".event"
	if err := d.object(ev, efield); err != nil {
		return err
	}
	if r.triggerID, err = d.str(ev, "trigger_id", efield); err != nil {
		return err
	}
	if r.time, err = d.time(ev, "time", efield); err != nil {
		return err
	}
	r.hasTime = true
	for _, k := range []string{"tenant_id", "namespace_id"} {
		if _, err := d.uint(ev, k, efield); err != nil {
			return err
		}
	}
	if _, err := d.str(ev, "run_id", efield); err != nil {
		return err
	}
	if r.correlation, r.hasCorr, err = d.optStr(ev, "correlation_id", efield); err != nil {
		return err
	}
	return nil
}

func decodeGateEval(d decoder, v gjson.Result, field string, r *record) error {
	var err error
	r.triggerID, err = d.str(v, "trigger_id", field)
	return err
}

func decodeDecision(d decoder, v gjson.Result, field string, r *record) error {
	var err error
	if r.seq, err = d.uint(v, "seq", field); err != nil {
		return err
	}
	if r.decisionID, err = d.str(v, "decision_id", field); err != nil {
		return err
	}
	if r.triggerID, err = d.str(v, "trigger_id", field); err != nil {
		return err
	}
	if r.time, err = d.time(v, "decided_at", field); err != nil {
		return err
	}
	r.hasTime = true
	out := d.member(v, "outcome")
	if err := d.object(out, field+".outcome"); err != nil {
		return err
	}
	r.outcome, err = d.str(out, "kind", field+".outcome")
	return err
}

func decodePacket(d decoder, v gjson.Result, field string, r *record) error {
	var err error
	if r.decisionID, err = d.str(v, "decision_id", field); err != nil {
		return err
	}
	env := d.member(v, "envelope")
	if err := d.object(env, field+".envelope"); err != nil {
		return err
	}
	r.time, err = d.time(env, "issued_at", field+".envelope")
	r.hasTime = err == nil
	return err
}

func decodeSubmission(d decoder, v gjson.Result, field string, r *record) error {
	var err error
	r.time, err = d.time(v, "submitted_at", field)
	r.hasTime = err == nil
	return err
}

func decodeToolCall(d decoder, v gjson.Result, field string, r *record) error {
	var err error
	if _, err = d.str(v, "call_id", field); err != nil {
		return err
	}
	if r.method, err = d.str(v, "method", field); err != nil {
		return err
	}
	if r.time, err = d.time(v, "called_at", field); err != nil {
		return err
	}
	r.hasTime = true
	if r.reqHash, err = d.digest(v, "request_hash", field); err != nil {
		return err
	}
	if r.respHash, err = d.digest(v, "response_hash", field); err != nil {
		return err
	}
	if r.correlation, r.hasCorr, err = d.optStr(v, "correlation_id", field); err != nil {
		return err
	}
	if e := d.member(v, "error"); e.Exists() && e.Type != gjson.Null {
		if !e.IsObject() {
			return d.errf(field+".error", "must be an object or null, not %s", typeName(e))
		}
	}
	return nil
}

func decodeVerifierReport(d decoder, v gjson.Result, field string, r *record) error {
	if _, _, err := d.optStr(v, "status", field); err != nil {
		return err
	}
	if c := d.member(v, "checked_files"); c.Exists() {
		if _, err := d.uint(v, "checked_files", field); err != nil {
			return err
		}
	}
	if t := d.member(v, "generated_at"); t.Exists() {
		var err error
		if r.time, err = d.time(v, "generated_at", field); err != nil {
			return err
		}
		r.hasTime = true
	}
	return nil
}

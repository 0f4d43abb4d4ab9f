package dg

import (
	"bytes"
	"sort"
	"sync"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
)

// source describes one mapped artifact.
type source struct {
	name   string // the --redact-path prefix
	path   string
	event  string
	object bool // a JSON object rather than an array of records
	decode func(o *jsonobj.Object, r *record) error
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
	d := newDecoder(s.path)
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
	if s.object {
		o, err := d.st.Object(jsonobj.Value{Raw: raw})
		if err != nil {
			return nil, err
		}
		r := &record{canon: craw}
		if err := s.decode(&o, r); err != nil {
			return nil, err
		}
		sd.recs = []*record{r}
		return sd, nil
	}
	list, err := d.st.List(jsonobj.Value{Raw: raw})
	if err != nil {
		return nil, err
	}
	relems := list.Values()
	celems := relems
	if raw != craw {
		clist, _ := d.st.List(jsonobj.Value{Raw: craw})
		celems = clist.Values()
	}
	sd.recs = make([]*record, len(relems))
	for i, v := range relems {
		o, err := list.Object(i, v)
		if err != nil {
			return nil, err
		}
		r := &record{index: i, canon: celems[i].Raw}
		if err := s.decode(&o, r); err != nil {
			return nil, err
		}
		sd.recs[i] = r
	}
	if s.path == triggersPath || s.path == decisionsPath {
		sort.SliceStable(sd.recs, func(a, b int) bool { return sd.recs[a].seq < sd.recs[b].seq })
	}
	return sd, nil
}

func decodeTrigger(o *jsonobj.Object, r *record) error {
	var err error
	if r.seq, err = o.Uint("seq"); err != nil {
		return err
	}
	ev, err := o.Object("event")
	if err != nil {
		return err
	}
	if r.triggerID, err = ev.String("trigger_id"); err != nil {
		return err
	}
	if r.time, err = timeOf(&ev, "time"); err != nil {
		return err
	}
	r.hasTime = true
	for _, k := range []string{"tenant_id", "namespace_id"} {
		if _, err := ev.Uint(k); err != nil {
			return err
		}
	}
	if _, err := ev.String("run_id"); err != nil {
		return err
	}
	if r.correlation, r.hasCorr, err = ev.OptString("correlation_id"); err != nil {
		return err
	}
	return nil
}

func decodeGateEval(o *jsonobj.Object, r *record) error {
	var err error
	r.triggerID, err = o.String("trigger_id")
	return err
}

func decodeDecision(o *jsonobj.Object, r *record) error {
	var err error
	if r.seq, err = o.Uint("seq"); err != nil {
		return err
	}
	if r.decisionID, err = o.String("decision_id"); err != nil {
		return err
	}
	if r.triggerID, err = o.String("trigger_id"); err != nil {
		return err
	}
	if r.time, err = timeOf(o, "decided_at"); err != nil {
		return err
	}
	r.hasTime = true
	out, err := o.Object("outcome")
	if err != nil {
		return err
	}
	r.outcome, err = out.String("kind")
	return err
}

func decodePacket(o *jsonobj.Object, r *record) error {
	var err error
	if r.decisionID, err = o.String("decision_id"); err != nil {
		return err
	}
	env, err := o.Object("envelope")
	if err != nil {
		return err
	}
	r.time, err = timeOf(&env, "issued_at")
	r.hasTime = err == nil
	return err
}

func decodeSubmission(o *jsonobj.Object, r *record) error {
	var err error
	r.time, err = timeOf(o, "submitted_at")
	r.hasTime = err == nil
	return err
}

func decodeToolCall(o *jsonobj.Object, r *record) error {
	var err error
	if _, err = o.String("call_id"); err != nil {
		return err
	}
	if r.method, err = o.String("method"); err != nil {
		return err
	}
	if r.time, err = timeOf(o, "called_at"); err != nil {
		return err
	}
	r.hasTime = true
	if r.reqHash, err = digest(o, "request_hash"); err != nil {
		return err
	}
	if r.respHash, err = digest(o, "response_hash"); err != nil {
		return err
	}
	if r.correlation, r.hasCorr, err = o.OptString("correlation_id"); err != nil {
		return err
	}
	_, _, err = o.OptObject("error")
	return err
}

func decodeVerifierReport(o *jsonobj.Object, r *record) error {
	if _, _, err := o.OptString("status"); err != nil {
		return err
	}
	if o.Has("checked_files") {
		if _, err := o.Uint("checked_files"); err != nil {
			return err
		}
	}
	if o.Has("generated_at") {
		var err error
		if r.time, err = timeOf(o, "generated_at"); err != nil {
			return err
		}
		r.hasTime = true
	}
	return nil
}

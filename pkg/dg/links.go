package dg

import (
	"fmt"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// links ties a tool call to the trigger and decision it produced, with
// whether DG's request and response hashes recompute from the runpack.
//
// DG records a tool call as {request_hash, response_hash}, each the SHA-256
// of the JCS form of the call's request and response (control plane
// build_tool_call_record). For scenario.trigger the request is the trigger
// event as recorded in triggers.json and the response is the TriggerResult
// {"decision", "packets", "status"}: the decision made for that trigger,
// the packets issued with it (packets.json entries with its decision_id, in
// order) and the run status after it. For a failed call the response is
// the call's error object (build_tool_call_record_error).
type links struct {
	triggerID  *string
	decisionID *string
	request    bool
	response   bool
}

func (l *links) appendJSON(b []byte) []byte {
	opt := func(b []byte, s *string) []byte {
		if s == nil {
			return append(b, "null"...)
		}
		return canonical.AppendString(b, *s)
	}
	b = append(b, `{"decision_id":`...)
	b = opt(b, l.decisionID)
	b = append(b, `,"request_hash_verified":`...)
	b = strconv.AppendBool(b, l.request)
	b = append(b, `,"response_hash_verified":`...)
	b = strconv.AppendBool(b, l.response)
	b = append(b, `,"trigger_id":`...)
	b = opt(b, l.triggerID)
	return append(b, '}')
}

// runStatuses are DG's RunStatus values (serde snake_case). The runpack
// does not record the status a call returned, so each is tried; the one
// the decision's outcome implies comes first.
var runStatuses = [...]string{"active", "completed", "failed"}

// link resolves the references between records: each gate evaluation's
// trigger (its time), and each tool call's trigger and decision.
func (rp *Runpack) link() {
	trig, ge, dec := rp.srcs[srcTriggers], rp.srcs[srcGateEvals], rp.srcs[srcDecisions]
	pk, tc := rp.srcs[srcPackets], rp.srcs[srcToolCalls]
	byTrigger := map[string]*record{}
	if trig != nil {
		for _, r := range trig.recs {
			r.eventJCS = gjson.Get(r.canon, "event").Raw
			if byTrigger[r.triggerID] == nil {
				byTrigger[r.triggerID] = r
			}
		}
	}
	if ge != nil {
		for _, r := range ge.recs {
			if t := byTrigger[r.triggerID]; t != nil {
				r.time, r.hasTime = t.time, true
			} else if trig != nil {
				rp.fail(CheckTriggerReference, gateEvalsPath, "a trigger in "+triggersPath+" with trigger_id "+abbrev(strconv.Quote(r.triggerID)),
					fmt.Sprintf("$[%d] names a trigger that is not there", r.index))
			}
		}
	}
	if tc == nil {
		return
	}
	decisionOf := map[string]*record{}
	if dec != nil {
		for _, r := range dec.recs {
			if decisionOf[r.triggerID] == nil {
				decisionOf[r.triggerID] = r
			}
		}
	}
	packetsOf := map[string][]string{}
	if pk != nil {
		for _, r := range pk.recs {
			packetsOf[r.decisionID] = append(packetsOf[r.decisionID], r.canon)
		}
	}
	// Triggers by time and correlation id, in seq order.
	at := map[callKey][]*record{}
	if trig != nil {
		for _, r := range trig.recs {
			k := keyOf(r)
			at[k] = append(at[k], r)
		}
	}
	for _, r := range tc.recs {
		if e := gjson.Get(r.canon, "error"); e.Exists() && e.Type != gjson.Null {
			r.errCanon = e.Raw
		}
		r.links = linkToolCall(r, at[keyOf(r)], decisionOf, packetsOf)
	}
}

// callKey is what ties a scenario.trigger call to its trigger: DG records
// the call at the trigger's time with the trigger's correlation id.
type callKey struct {
	logical     bool
	value       int64
	hasCorr     bool
	correlation string
}

func keyOf(r *record) callKey { return callKey{r.time.logical, r.time.value, r.hasCorr, r.correlation} }

// linkToolCall links a tool call; candidates are the triggers recorded at
// its time with its correlation id.
func linkToolCall(r *record, candidates []*record, decisionOf map[string]*record, packetsOf map[string][]string) *links {
	isTrigger := r.method == "scenario.trigger"
	if !isTrigger && r.errCanon == "" {
		return nil // neither side can be reconstructed
	}
	l := &links{}
	if r.errCanon != "" {
		l.response = scalar.Sum([]byte(r.errCanon)) == r.respHash
	}
	if !isTrigger {
		return l
	}
	// The trigger is the one recorded at the call's time with its
	// correlation id; among several, the one whose event hashes to the
	// request hash, else the first.
	var t *record
	for _, c := range candidates {
		if scalar.Sum([]byte(c.eventJCS)) == r.reqHash {
			t, l.request = c, true
			break
		}
		if t == nil {
			t = c
		}
	}
	if t == nil {
		return l
	}
	l.triggerID = &t.triggerID
	if r.errCanon != "" {
		return l // a failed call made no decision
	}
	d := decisionOf[t.triggerID]
	if d == nil {
		return l
	}
	l.decisionID = &d.decisionID
	statuses := runStatuses[:]
	switch d.outcome {
	case "complete":
		statuses = []string{"completed", "active", "failed"}
	case "fail":
		statuses = []string{"failed", "active", "completed"}
	}
	for _, st := range statuses {
		if scalar.Sum(triggerResult(d.canon, packetsOf[d.decisionID], st)) == r.respHash {
			l.response = true
			break
		}
	}
	return l
}

// triggerResult is the JCS form of DG's TriggerResult.
func triggerResult(decision string, packets []string, status string) []byte {
	var b strings.Builder
	b.WriteString(`{"decision":`)
	b.WriteString(decision)
	b.WriteString(`,"packets":[`)
	b.WriteString(strings.Join(packets, ","))
	b.WriteString(`],"status":"`)
	b.WriteString(status)
	b.WriteString(`"}`)
	return []byte(b.String())
}

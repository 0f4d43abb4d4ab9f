package verify

import (
	"cmp"
	"slices"
	"strings"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// finish makes the end-of-input checks, collects the checker's results and
// settles every phase's status.
func (w *walker) finish() *Verdict {
	if w.readErr == nil {
		if err := w.grammar.End(); err != nil {
			w.readErr = errcode.AtLine(err, w.line)
		}
	}
	if w.readErr == nil {
		w.endSegment()
		w.endOfInput()
	}
	w.duplicateIDs()
	if c := w.checker; c != nil {
		w.v.Warnings = append(c.warnings(), w.v.Warnings...)
	}
	if w.readErr != nil {
		w.unreadable(w.readErr)
	}
	if skipped := w.cfg.Phases.skipped(); len(skipped) > 0 {
		// Config.Phases lowers assurance: a verdict says so, and --strict
		// counts it (SPEC §10).
		w.v.Warnings = append(w.v.Warnings, Warning{Code: WarnPhasesSkipped,
			Message: "phases were not run: " + strings.Join(skipped, ", ") + "; the verdict does not cover what they check"})
	}
	if w.on(PhaseSignatures) && w.cfg.TrustRoot == nil {
		w.v.Warnings = append([]Warning{{Code: WarnSignatureSkipped,
			Message: "no trust root was given: signatures were not checked"}}, w.v.Warnings...)
	}
	for i := range w.v.Phases {
		p := &w.v.Phases[i]
		switch {
		case len(p.Failures) > 0 || p.Omitted > 0:
			p.Status = Fail
		case !w.on(p.Phase) && !w.forced[p.Phase], p.Phase == PhaseSignatures && w.cfg.TrustRoot == nil:
			p.Status = Skipped
		default:
			p.Status = Pass
		}
	}
	sortWarnings(w.v.Warnings)
	return &w.v
}

// duplicateIDs fails phase 3 for every disclosed envelope whose
// envelope_id an envelope before it has, in input order. The ids are
// sorted once at the end, so each costs 24 bytes and no map.
func (w *walker) duplicateIDs() {
	ids := w.ids
	slices.SortStableFunc(ids, func(a, b envelopeID) int { return a.id.Compare(b.id) }) // equal ids stay in input order
	var dups []envelopeID
	for i := 1; i < len(ids); i++ {
		if ids[i].id == ids[i-1].id {
			dups = append(dups, ids[i])
		}
	}
	slices.SortFunc(dups, func(a, b envelopeID) int { return cmp.Or(cmp.Compare(a.seg, b.seg), cmp.Compare(a.seq, b.seq)) })
	for _, d := range dups {
		seg := w.segs[d.seg].id
		w.fail(PhaseContent, errcode.BundleDuplicateID, seg, uint64(d.seq), "sequence "+seq(uint64(d.seq))+" of segment "+seg.String()+
			" has envelope_id "+d.id.String()+", which an envelope before it has")
	}
}

// endOfInput checks what only the whole input can tell: segments and
// blobs the manifest lists but the bundle lacks, and predecessors.
func (w *walker) endOfInput() {
	var zero scalar.UUID
	if w.m != nil {
		for _, e := range w.m.Segments {
			if _, ok := w.index[e.SegmentID]; !ok {
				w.fail(PhaseManifest, errcode.BundleManifestMismatch, e.SegmentID, 0, "segment "+e.SegmentID.String()+
					" listed in the manifest is missing")
			}
		}
		for i, seen := range w.blobSeen {
			if !seen {
				w.fail(PhaseManifest, errcode.BundleManifestMismatch, zero, 0, "blob "+w.m.Attachments[i].Hash.String()+
					" listed in the manifest is missing")
			}
		}
	}
	omitted := map[scalar.UUID]bool{}
	successor := map[scalar.UUID]scalar.UUID{} // predecessor → the first segment naming it
	for i := range w.segs {
		s := &w.segs[i]
		if s.pred == nil || s.pred.SegmentID == s.id { // a segment naming itself failed when it was read
			continue
		}
		if first, fork := successor[s.pred.SegmentID]; fork {
			w.fail(PhaseCrossSegment, errcode.ChainDiscontinuity, s.id, 0, "segments "+first.String()+" and "+s.id.String()+
				" both continue segment "+s.pred.SegmentID.String()+": the chain forks")
		} else {
			successor[s.pred.SegmentID] = s.id
		}
		j, ok := w.index[s.pred.SegmentID]
		switch {
		case ok && j > i:
			w.fail(PhaseCrossSegment, errcode.ChainDiscontinuity, s.id, 0, "segment "+s.id.String()+" continues segment "+
				s.pred.SegmentID.String()+", which comes after it")
		case ok:
			// checked when the successor was read
		default:
			omitted[s.pred.SegmentID] = true
			w.omittedParent(s)
		}
	}
	if w.m != nil {
		for _, p := range w.m.OmittedParents {
			if _, included := w.index[p]; included || !omitted[p] {
				w.fail(PhaseManifest, errcode.BundleManifestMismatch, p, 0, "omitted_parents lists segment "+p.String()+
					", which is not the missing predecessor of an included segment")
			}
		}
	}
}

func (w *walker) omittedParent(s *segInfo) {
	p := s.pred.SegmentID
	if w.m != nil && !w.m.OmitsParent(p) {
		w.fail(PhaseCrossSegment, errcode.BundleManifestMismatch, s.id, 0, "segment "+s.id.String()+" continues segment "+
			p.String()+", which is neither included nor listed in omitted_parents")
		return
	}
	if w.on(PhaseCrossSegment) {
		w.v.Warnings = append(w.v.Warnings, Warning{Code: WarnOmittedParent,
			Message: "segment " + s.id.String() + " continues segment " + p.String() +
				", which is not included: the link to it (head " + s.pred.ChainHead.String() + ") is not verified"})
	}
}

// unreadable records the line that ended the walk.
func (w *walker) unreadable(err error) {
	e, ok := errcode.As(err)
	if !ok {
		e = &errcode.Error{Code: errcode.Internal, Msg: err.Error()}
	}
	phase := PhaseManifest
	f := Failure{Code: e.Code}
	if raw := w.readRaw; raw != nil && gjson.GetBytes(raw, "record").Str == "envelope" && e.Code != errcode.InputUnexpectedRecord {
		phase = PhaseContent
		if id, err := scalar.ParseUUID(gjson.GetBytes(raw, "segment_id").Str); err == nil {
			f.SegmentID = id
		}
		if n := gjson.GetBytes(raw, "sequence"); n.Type == gjson.Number && n.Uint() > 0 {
			f.Sequence = n.Uint()
		}
	}
	msg := e.Msg
	if e.Field != "" {
		msg = "field " + quote(e.Field) + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	line := e.Line
	if line == 0 {
		line = w.line
	}
	f.Message = "line " + itoa64(line) + ": " + msg + "; the rest of the input was not verified"
	w.forced[phase] = true
	w.v.Phase(phase).add(f)
}

package verify

import (
	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
)

// sealRecord checks a seal: against the recomputed chain and the time of
// the segment's last envelope (phase 7), and its signatures over its
// checkpoint against the trust root's policy (phase 6), as envelopes are
// held to it (SPEC §10, §11.2).
func (w *walker) sealRecord(s *evidence.Seal) {
	seg := w.seg
	seg.sealed = true
	seg.merkle = s.MerkleRoot
	info := &w.segs[seg.idx]
	info.sealed, info.head = true, s.HeadChainHash
	w.check(PhaseSeals)
	if err := seg.chain.CheckSeal(s); err != nil {
		e, _ := errcode.As(err)
		w.fail(PhaseSeals, e.Code, seg.g.SegmentID, 0, e.Msg)
	} else if !seg.lastElided {
		// An elided last envelope's time is not disclosed: it cannot be
		// checked, and that is not a failure.
		if err := evidence.CheckSealedAt(s, seg.lastClaimed); err != nil {
			e, _ := errcode.As(err)
			w.fail(PhaseSeals, e.Code, seg.g.SegmentID, 0, "sealed_at: "+e.Msg)
		}
	}
	if c := w.checker; c != nil && c.trust != nil {
		id := seg.g.SegmentID
		r := w.v.Phase(PhaseSignatures)
		r.Checked++
		o := c.trust.seal(checkpoint.Append(nil, seg.g.GenesisHash, s), s.Signatures)
		c.signatures(r, signed{segment: id, what: "the seal of segment " + id.String(),
			unsigned: errcode.SignatureSealUnsigned, sigs: len(s.Signatures)}, &o)
	}
}

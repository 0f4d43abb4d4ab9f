package verify

import (
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

func (w *walker) genesis(g *evidence.Genesis) error {
	w.endSegment()
	if len(w.segs) >= w.lim.Segments {
		return w.limitError("more than " + itoa(w.lim.Segments) + " segments")
	}
	id := g.SegmentID
	w.seg = &segment{g: g, chain: evidence.NewChain(g), idx: len(w.segs), lastClaimed: g.CreatedAt}
	if w.checker != nil && w.checker.trust != nil {
		w.checker.trust.lineage.segment(g)
	}
	w.v.Summary.Segments++
	w.check(PhaseChain)
	if w.on(PhaseChain) && !g.Verify() {
		w.fail(PhaseChain, errcode.ChainHashMismatch, id, 0, "genesis_hash of segment "+id.String()+" does not match its fields")
	}
	if w.m != nil {
		w.genesisInManifest(g)
	}
	w.check(PhaseCrossSegment)
	if _, dup := w.index[id]; dup {
		w.fail(PhaseCrossSegment, errcode.ChainDiscontinuity, id, 0, "segment "+id.String()+" appears twice")
	} else {
		w.index[id] = len(w.segs)
	}
	w.segs = append(w.segs, segInfo{id: id, recorder: g.RecorderID, pred: g.Predecessor})
	if p := g.Predecessor; p != nil {
		if p.SegmentID == id {
			w.fail(PhaseCrossSegment, errcode.ChainDiscontinuity, id, 0, "segment "+id.String()+" names itself as its predecessor")
		} else if j, ok := w.index[p.SegmentID]; ok && j < len(w.segs)-1 {
			w.link(&w.segs[j], g, p)
		}
	}
	return nil
}

// link checks that segment g continues its included, earlier predecessor
// p. Forks (two segments continuing one) are found at the end of input.
func (w *walker) link(p *segInfo, g *evidence.Genesis, l *evidence.Link) {
	id := g.SegmentID
	switch {
	case p.recorder != g.RecorderID:
		w.fail(PhaseCrossSegment, errcode.ChainDiscontinuity, id, 0, "segment "+id.String()+" of recorder "+quote(g.RecorderID.String())+
			" continues segment "+p.id.String()+" of recorder "+quote(p.recorder.String())+"; a recorder continues only its own segments")
	case !p.sealed:
		w.fail(PhaseCrossSegment, errcode.ChainDiscontinuity, id, 0, "segment "+id.String()+" continues segment "+p.id.String()+
			", which is not sealed")
	case p.head != l.ChainHead:
		w.fail(PhaseCrossSegment, errcode.ChainDiscontinuity, id, 0, "segment "+id.String()+" names predecessor head "+
			l.ChainHead.String()+", but segment "+p.id.String()+" is sealed with head "+p.head.String())
	}
}

// endSegment closes the segment being read.
func (w *walker) endSegment() {
	s := w.seg
	if s == nil {
		return
	}
	w.seg = nil
	id := s.g.SegmentID
	if !s.sealed && w.on(PhaseSeals) {
		w.v.Warnings = append(w.v.Warnings, Warning{Code: WarnUnsealedSegment,
			Message: "segment " + id.String() + " is not sealed: more envelopes may follow sequence " + seq(s.disclosed+s.elided)})
	}
	if w.m == nil || s.idx >= len(w.m.Segments) || w.m.Segments[s.idx].SegmentID != id {
		return
	}
	e := &w.m.Segments[s.idx]
	mismatch := func(what string, got, want uint64) {
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "segment "+id.String()+" holds "+plural(got, what)+
			"; the manifest says "+seq(want))
	}
	if n := s.disclosed + s.elided; n != e.EnvelopeCount {
		mismatch("envelope and elided record", n, e.EnvelopeCount)
	}
	if s.chain.Head != e.HeadChainHash {
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "segment "+id.String()+" ends at chain hash "+s.chain.Head.String()+
			"; the manifest's head_chain_hash is "+e.HeadChainHash.String())
	}
	if s.sealed && e.MerkleRoot != nil && s.merkle != *e.MerkleRoot {
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "segment "+id.String()+" is sealed with Merkle root "+s.merkle.String()+
			"; the manifest's merkle_root is "+e.MerkleRoot.String())
	}
	if s.disclosed != e.Disclosed {
		mismatch("disclosed envelope", s.disclosed, e.Disclosed)
	}
	if s.elided != e.Elided {
		mismatch("elided record", s.elided, e.Elided)
	}
	switch {
	case s.sealed && !e.Sealed:
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "segment "+id.String()+" is sealed; the manifest says it is not")
	case !s.sealed && e.Sealed:
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "segment "+id.String()+" has no seal; the manifest says it is sealed")
	}
}

func (w *walker) attachment(a *evidence.Attachment) error {
	if w.v.Summary.Attachments >= uint64(w.lim.Attachments) {
		return w.limitError("more than " + itoa(w.lim.Attachments) + " attachments")
	}
	w.v.Summary.Attachments++
	line := w.line
	w.check(PhaseAttachments)
	if w.on(PhaseAttachments) && !a.Verify() {
		w.fail(PhaseAttachments, errcode.AttachmentCorrupt, w.seg.g.SegmentID, 0, "blob "+a.Hash.String()+" on line "+itoa64(line)+
			" does not hash to its hash")
	}
	w.pending = append(w.pending, pendingBlob{hash: a.Hash, size: a.Size(), line: line})
	if w.m == nil {
		if _, dup := w.streamBlobs[a.Hash]; dup {
			w.fail(PhaseManifest, errcode.InputUnexpectedRecord, w.seg.g.SegmentID, 0, "blob "+a.Hash.String()+" appears a second time, on line "+itoa64(line))
		}
		w.streamBlobs[a.Hash] = a.Size()
		return nil
	}
	i, ok := w.m.Blob(a.Hash)
	switch {
	case !ok:
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, w.seg.g.SegmentID, 0, "blob "+a.Hash.String()+" on line "+itoa64(line)+
			" is not listed in the manifest")
	case w.blobSeen[i]:
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, w.seg.g.SegmentID, 0, "blob "+a.Hash.String()+" appears a second time, on line "+itoa64(line))
	case w.m.Attachments[i].Size != a.Size():
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, w.seg.g.SegmentID, 0, "blob "+a.Hash.String()+" holds "+itoa64(a.Size())+
			" bytes; the manifest says "+itoa64(w.m.Attachments[i].Size))
	}
	if ok {
		w.blobSeen[i] = true
	}
	return nil
}

// count applies the envelope limits to one more envelope or elided record.
func (w *walker) count() error {
	if n := w.seg.disclosed + w.seg.elided; n >= w.lim.EnvelopesPerSegment {
		return w.limitError("more than " + seq(w.lim.EnvelopesPerSegment) + " envelopes in segment " + w.seg.g.SegmentID.String())
	}
	if w.total >= w.lim.Envelopes {
		return w.limitError("more than " + seq(w.lim.Envelopes) + " envelopes")
	}
	w.total++
	return nil
}

// chain advances the segment's chain over one record (phase 4).
func (w *walker) chain(segID scalar.UUID, sequence uint64, content, chain scalar.Digest) {
	err := w.seg.chain.Next(segID, sequence, content, chain)
	w.check(PhaseChain)
	if err != nil {
		e, _ := errcode.As(err)
		w.fail(PhaseChain, e.Code, w.seg.g.SegmentID, sequence, e.Msg)
	}
}

func (w *walker) envelope(e *evidence.Envelope, aux any) error {
	if err := w.count(); err != nil {
		return err
	}
	w.seg.disclosed++
	w.seg.lastClaimed, w.seg.lastElided = e.ClaimedAt, false
	w.v.Summary.Envelopes++
	w.chain(e.SegmentID, e.Sequence, e.ContentHash, e.ChainHash)
	if w.on(PhaseContent) {
		w.ids = append(w.ids, envelopeID{id: e.EnvelopeID, seg: uint32(w.seg.idx), seq: uint32(e.Sequence)})
	}
	w.placeBlobs(e)
	if w.m != nil && !w.m.Selector.Discloses(e) {
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, e.SegmentID, e.Sequence, "sequence "+seq(e.Sequence)+
			" is disclosed, but the manifest's selector "+w.m.Selector.String()+" does not select it")
	}
	if w.checker != nil {
		w.checker.apply(e, aux.(*checked))
	}
	return nil
}

// placeBlobs checks that the blobs read since the last envelope are
// exactly those e references that came nowhere before, in hash order
// (SPEC §4.2, §9.1), and that e's references agree with the blobs.
func (w *walker) placeBlobs(e *evidence.Envelope) {
	pending := w.pending
	w.pending = w.pending[:0]
	fail := func(msg string) {
		code := errcode.BundleManifestMismatch
		if w.m == nil {
			code = errcode.InputAttachmentMiss
		}
		w.fail(PhaseManifest, code, e.SegmentID, e.Sequence, msg)
	}
	k := 0
	for i, r := range e.Attachments {
		if i > 0 && e.Attachments[i-1].Hash == r.Hash {
			continue
		}
		if k < len(pending) && pending[k].hash == r.Hash {
			if pending[k].size != r.Size {
				fail("sequence " + seq(e.Sequence) + " gives blob " + r.Hash.String() + " a size of " + itoa64(r.Size) +
					" bytes; the blob holds " + itoa64(pending[k].size))
			}
			k++
			continue
		}
		if containsBlob(pending, r.Hash) {
			fail("the blobs before sequence " + seq(e.Sequence) + " are not in hash order")
			continue
		}
		size, present, listed := w.blobState(r.Hash)
		switch {
		case !listed:
			fail("sequence " + seq(e.Sequence) + " references blob " + r.Hash.String() + ", which the manifest does not list")
		case !present:
			fail("sequence " + seq(e.Sequence) + " references blob " + r.Hash.String() + ", which does not come before it")
		case size != r.Size:
			fail("sequence " + seq(e.Sequence) + " gives blob " + r.Hash.String() + " a size of " + itoa64(r.Size) +
				" bytes; the blob holds " + itoa64(size))
		}
	}
	for _, p := range pending {
		if !hasRef(e.Attachments, p.hash) {
			fail("blob " + p.hash.String() + " on line " + itoa64(p.line) + " is not referenced by sequence " + seq(e.Sequence) + ", which follows it")
		}
	}
}

// blobState reports a blob's size, whether it has been read, and whether
// it is known at all (listed in the manifest; read, for a stream).
func (w *walker) blobState(h scalar.Digest) (size int64, present, listed bool) {
	if w.m == nil {
		size, present = w.streamBlobs[h]
		return size, present, present
	}
	i, ok := w.m.Blob(h)
	if !ok {
		return 0, false, false
	}
	return w.m.Attachments[i].Size, w.blobSeen[i], true
}

func containsBlob(list []pendingBlob, h scalar.Digest) bool {
	for _, p := range list {
		if p.hash == h {
			return true
		}
	}
	return false
}

func hasRef(refs []evidence.AttachmentRef, h scalar.Digest) bool {
	for _, r := range refs {
		if r.Hash == h {
			return true
		}
	}
	return false
}

func (w *walker) elided(e *evidence.Elided) error {
	if err := w.count(); err != nil {
		return err
	}
	w.seg.elided++
	w.seg.lastElided = true
	w.v.Summary.Elided++
	w.chain(e.SegmentID, e.Sequence, e.ContentHash, e.ChainHash)
	switch {
	case w.m == nil:
		w.fail(PhaseManifest, errcode.InputUnexpectedRecord, e.SegmentID, e.Sequence, "sequence "+seq(e.Sequence)+
			" is an elided record, which only a bundle may hold; a sealed stream discloses every envelope")
	case w.m.Selector.Everything() || w.m.Selector.NamesSegment(e.SegmentID):
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, e.SegmentID, e.Sequence, "sequence "+seq(e.Sequence)+
			" is elided, but the manifest's selector "+w.m.Selector.String()+" discloses it")
	}
	return nil
}

package verify

import (
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// manifest checks the manifest on its own (phase 1) and the limits.
func (w *walker) manifest() error {
	m := w.m
	var zero scalar.UUID
	w.v.BundleID = m.BundleID
	if m.Version != bundle.Version {
		w.fail(PhaseManifest, errcode.BundleMalformed, zero, 0, "bundle_version "+itoa64(m.Version)+" is not supported; this verifier reads version 1")
	}
	if m.HashAlgorithm != evidence.HashAlgorithm {
		w.fail(PhaseManifest, errcode.BundleMalformed, zero, 0, "hash_algorithm "+quote(m.HashAlgorithm)+" is not supported; this verifier knows sha256")
	}
	if len(m.Segments) == 0 {
		w.fail(PhaseManifest, errcode.BundleEmpty, zero, 0, "the manifest lists no segment: the bundle proves nothing")
	}
	seen := map[scalar.UUID]bool{}
	for _, s := range m.Segments {
		if seen[s.SegmentID] {
			w.fail(PhaseManifest, errcode.BundleManifestMismatch, s.SegmentID, 0, "the manifest lists segment "+s.SegmentID.String()+" twice")
		}
		seen[s.SegmentID] = true
	}
	for _, id := range m.Selector.Segments {
		if !seen[id] {
			w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "the selector names segment "+id.String()+
				", which the manifest does not list")
		}
	}
	if err := w.manifestLimits(); err != nil {
		return err
	}
	w.blobSeen = make([]bool, len(m.Attachments))
	if _, disclosed, _ := m.Totals(); w.on(PhaseContent) {
		w.ids = make([]envelopeID, 0, disclosed) // within the limits just checked
	}
	if w.cfg.ProgressTotal != nil {
		lines := int64(1 + len(m.Attachments))
		for _, s := range m.Segments {
			lines += 1 + int64(s.EnvelopeCount)
			if s.Sealed {
				lines++
			}
		}
		w.cfg.ProgressTotal(lines)
	}
	return nil
}

// manifestLimits checks the bounded-work limits against the manifest
// before any record is read.
func (w *walker) manifestLimits() error {
	m := w.m
	over := func(msg string) error {
		return &errcode.Error{Code: errcode.BundleLimitExceeded, Line: 1, Msg: msg + " (SPEC §16)"}
	}
	if len(m.Segments) > w.lim.Segments {
		return over("the manifest lists " + itoa(len(m.Segments)) + " segments; the limit is " + itoa(w.lim.Segments))
	}
	if len(m.Attachments) > w.lim.Attachments {
		return over("the manifest lists " + itoa(len(m.Attachments)) + " attachments; the limit is " + itoa(w.lim.Attachments))
	}
	var total uint64
	for _, s := range m.Segments {
		if s.EnvelopeCount > w.lim.EnvelopesPerSegment {
			return over("the manifest gives segment " + s.SegmentID.String() + " " + seq(s.EnvelopeCount) +
				" envelopes; the limit per segment is " + seq(w.lim.EnvelopesPerSegment))
		}
		total += s.EnvelopeCount
	}
	if total > w.lim.Envelopes {
		e := over("the manifest lists " + seq(total) + " envelopes; the limit is " + seq(w.lim.Envelopes))
		e.(*errcode.Error).Hint = "raise it with --max-envelopes if you mean to verify this bundle"
		return e
	}
	return nil
}

// genesisInManifest checks a genesis against its manifest entry, and
// bundle_id's derivation at the first.
func (w *walker) genesisInManifest(g *evidence.Genesis) {
	m, idx, id := w.m, w.seg.idx, g.SegmentID
	if idx == 0 && len(m.Segments) > 0 {
		if want := m.DeriveID(g.CreatedAt); want != m.BundleID {
			w.fail(PhaseManifest, errcode.BundleManifestMismatch, scalar.UUID{}, 0,
				"bundle_id "+m.BundleID.String()+" does not match its derivation from the manifest and the first genesis ("+want.String()+")")
		}
	}
	if idx >= len(m.Segments) {
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "segment "+id.String()+" is not listed in the manifest")
		return
	}
	e := &m.Segments[idx]
	if e.SegmentID != id {
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "segment "+id.String()+" is in the place of segment "+
			e.SegmentID.String()+", number "+itoa(idx+1)+" in the manifest")
		return
	}
	if e.GenesisHash != g.GenesisHash {
		w.fail(PhaseManifest, errcode.BundleManifestMismatch, id, 0, "genesis_hash of segment "+id.String()+" differs from the manifest's")
	}
}

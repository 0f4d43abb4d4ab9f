package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
)

// The key lifecycle (SPEC §11.1) as the store enforces it. An Appender
// checks every lifecycle envelope before it writes it: it decodes
// (signing.ParseLifecycle), is dated by the recorder of its segment
// (actor_id), follows the store's current key (epoch one more, old key
// the current one) and carries valid signatures by the keys its kind
// requires. It is written with its key epoch row in the same transaction,
// and is the last envelope of its segment: only a key_rotation seal may
// follow it, so that every segment is signed by one key. Once the store
// has a current key, every other envelope needs a valid signature by it
// (key.not_current).
//
// Key epoch rows are untrusted: loadState re-derives the lineage from the
// lifecycle envelopes they name (each read back, rehashed and checked by
// the same rules) and compares it with the event-type index's list of
// lifecycle envelopes, so a row or an envelope missing, added or altered on
// either side is store.corrupt.

// Lineage is a store's current signing key (SPEC §11.1).
type Lineage struct {
	signing.KeyEpoch                       // the zero KeyEpoch when no key is enrolled
	Kind             signing.LifecycleKind // what made it current
	Old              *signing.TrustedKey   // the key it retired; nil at epoch 1
	EnvelopeID       scalar.UUID           // the lifecycle envelope that made it current
	Position         uint64                // that envelope's position
}

// lifecycleTypes are the lifecycle event types, for index queries.
var lifecycleTypes = []string{signing.EventKeyEnrolled, signing.EventKeyRotated, signing.EventKeyBreakGlass}

// Lineage returns the committed current key (Lineage.Epoch 0 for none).
func (a *Appender) Lineage() Lineage { return a.committed.key }

// Lineage reads the store's current key through a snapshot, verifying
// the lineage as Open does.
func (s *Store) Lineage(ctx context.Context) (Lineage, error) {
	if s.state != nil {
		return s.state.key, nil
	}
	v, err := s.b.View(ctx)
	if err != nil {
		return Lineage{}, err
	}
	defer v.Close()
	st, err := loadState(ctx, v, 1, s.lim)
	if err != nil {
		return Lineage{}, err
	}
	return st.key, nil
}

// RequireKey checks that id is the store's current key, or that the store
// has none: key.not_current otherwise. arxi-seal --store and the sidecar
// call it before they start.
func (l Lineage) RequireKey(id scalar.KeyID) error {
	if l.Epoch == 0 || l.Key.KeyID == id {
		return nil
	}
	return &errcode.Error{Code: errcode.KeyNotCurrent,
		Msg:  "the store's current signing key is " + l.Key.KeyID.String() + " (epoch " + strconv.FormatInt(l.Epoch, 10) + "), not " + id.String(),
		Hint: "sign with the store's current key, or hand over to this one first: arxi-seal rotate --store STORE --sign-key CURRENT --new-key NEW"}
}

// CheckSigners checks that a sealer signing with the keys ids may continue
// h (arxi-seal --store, the sidecar): one of them must be the store's
// current key when it has one (key.not_current), and the open segment
// must not be waiting for a rotation's key_rotation seal
// (key.rotation_invalid).
func (h *Head) CheckSigners(ids []scalar.KeyID) error {
	if h.Rotating {
		return &errcode.Error{Code: errcode.KeyRotationInvalid,
			Msg:  "the open segment ends with a key lifecycle envelope, which only its key_rotation seal may follow",
			Hint: "finish the rotation: run the same arxi-seal enroll or rotate again"}
	}
	if h.Key.Epoch == 0 {
		return nil
	}
	if len(ids) == 0 {
		return &errcode.Error{Code: errcode.KeyNotCurrent,
			Msg:  "the store's current signing key is " + h.Key.Key.KeyID.String() + ": every envelope appended to it is signed by that key",
			Hint: "sign with the store's current key (--sign-key)"}
	}
	for _, id := range ids {
		if h.Key.RequireKey(id) == nil {
			return nil
		}
	}
	return h.Key.RequireKey(ids[0])
}

// checkKey applies the lifecycle rules to envelope e of the open segment
// o before it is written; it returns the lifecycle envelope, or nil for
// another envelope.
func (a *Appender) checkKey(e *evidence.Envelope, o *openSegment) (*signing.Lifecycle, error) {
	seg := o.genesis.SegmentID.String()
	at := func(err error) error { return errcode.WithLocation(err, seg, e.Sequence) }
	if o.rotated {
		return nil, at(&errcode.Error{Code: errcode.KeyRotationInvalid,
			Msg:  "the segment's lifecycle envelope (sequence " + strconv.FormatUint(e.Sequence-1, 10) + ") is its last envelope: a key_rotation seal follows it",
			Hint: "finish the rotation: run the same arxi-seal enroll or rotate again, which writes the seal"})
	}
	l, ok, err := signing.ParseLifecycle(&e.Content)
	if err != nil {
		return nil, at(err)
	}
	cur := a.cur.key
	if !ok {
		if cur.Epoch == 0 || (a.signed != nil && *a.signed == cur.Key.KeyID) || signedBy(e, cur.Key) {
			return nil, nil
		}
		return nil, at(&errcode.Error{Code: errcode.KeyNotCurrent, Field: "signatures",
			Msg:  "the store's current key " + cur.Key.KeyID.String() + " (epoch " + strconv.FormatInt(cur.Epoch, 10) + ") has no valid signature on the envelope",
			Hint: "arxi-seal --sign-key must name the store's current key"})
	}
	if err := checkLifecycle(l, e, o.genesis.RecorderID, cur.KeyEpoch); err != nil {
		return nil, at(err)
	}
	return l, nil
}

// checkLifecycle checks a decoded lifecycle envelope against the lineage
// state cur: its actor is the recorder, it follows cur, and its required
// signatures verify.
func checkLifecycle(l *signing.Lifecycle, e *evidence.Envelope, recorder scalar.Label, cur signing.KeyEpoch) error {
	if e.ActorID != recorder {
		return &errcode.Error{Code: errcode.KeyRotationInvalid, Field: "actor_id",
			Msg: "a lifecycle envelope's actor_id is its segment's recorder " + strconv.Quote(recorder.String())}
	}
	if err := l.Follows(cur); err != nil {
		return err
	}
	return l.CheckSignatures(e.ContentHash, e.Signatures)
}

// signedBy reports whether e carries a valid signature by k.
func signedBy(e *evidence.Envelope, k signing.TrustedKey) bool {
	for _, s := range e.Signatures {
		if s.KeyID == k.KeyID {
			return signing.Verify(k.PublicKey, e.ContentHash, s.Value)
		}
	}
	return false
}

// addKeyEpoch records the lifecycle envelope e at position pos as the
// store's current key, in the open batch.
func (a *Appender) addKeyEpoch(ctx context.Context, l *signing.Lifecycle, e *evidence.Envelope, pos uint64) error {
	row := &KeyEpochRow{Epoch: l.Epoch, Position: pos, EnvelopeID: e.EnvelopeID, KeyID: l.New.KeyID, PublicKey: bytes.Clone(l.New.PublicKey)}
	if err := a.tx.AddKeyEpoch(ctx, row); err != nil {
		return errcode.WithLocation(err, e.SegmentID.String(), e.Sequence)
	}
	a.cur.key = Lineage{KeyEpoch: l.Next(), Kind: l.Kind, Old: l.Old, EnvelopeID: e.EnvelopeID, Position: pos}
	return nil
}

// checkSealKey checks, when the store has a current key, that seal s of
// the open segment o carries a valid signature over its checkpoint
// (SPEC §11.2) by the key that signed the segment: the current key; for
// the key_rotation seal of a rotation, the key it retired; for an
// enrolment's or a break-glass rotation's, the new key (the old one is
// none, or lost).
func (a *Appender) checkSealKey(o *openSegment, s *evidence.Seal) error {
	cur := a.cur.key
	if cur.Epoch == 0 {
		return nil
	}
	k, which := cur.Key, "the store's current key"
	if o.rotated && cur.Kind == signing.Rotated && cur.Old != nil {
		k, which = *cur.Old, "the key its rotation retired"
	}
	msg := checkpoint.Append(nil, o.genesis.GenesisHash, s)
	for _, sg := range s.Signatures {
		if sg.KeyID == k.KeyID && signing.VerifyMessage(k.PublicKey, msg, sg.Value) {
			return nil
		}
	}
	return &errcode.Error{Code: errcode.KeyNotCurrent, Field: "signatures", Segment: s.SegmentID.String(),
		Msg:  "the seal has no valid signature over its checkpoint by " + which + ", " + k.KeyID.String(),
		Hint: "seal with the key that signed the segment (arxi-seal --sign-key, arxi-append segment seal --sign-key)"}
}

// segSpan is what re-deriving the lineage needs of a segment.
type segSpan struct {
	info     segmentInfo
	recorder scalar.Label
}

// loadLineage re-derives the store's current key from its key epoch rows
// and the lifecycle envelopes they name (see the comment at the top of
// this file), given the store's segments in order.
func loadLineage(ctx context.Context, v View, c *checker, segs []segSpan) (Lineage, error) {
	all, err := loadLineages(ctx, v, c, segs)
	if err != nil || len(all) == 0 {
		return Lineage{}, err
	}
	return all[len(all)-1], nil
}

// loadLineages is loadLineage returning every epoch in order.
func loadLineages(ctx context.Context, v View, c *checker, segs []segSpan) ([]Lineage, error) {
	var cur Lineage
	var all []Lineage
	var positions []uint64
	err := v.KeyEpochs(ctx, func(r *KeyEpochRow) error {
		name := "key_epochs row " + strconv.FormatInt(r.Epoch, 10)
		bad := func(seg scalar.UUID, seq uint64, format string, args ...any) error {
			return corrupt(name, seg, seq, format, args...)
		}
		if r.Epoch != cur.Epoch+1 {
			return bad(scalar.UUID{}, 0, "follows epoch %d", cur.Epoch)
		}
		i, ok := slices.BinarySearchFunc(segs, r.Position, func(s segSpan, pos uint64) int {
			switch {
			case pos < s.info.first:
				return 1
			case pos > s.info.last:
				return -1
			}
			return 0
		})
		if !ok {
			return bad(scalar.UUID{}, 0, "names envelopes row %d, which no segment holds", r.Position)
		}
		sp := segs[i]
		seq := r.Position - sp.info.first + 1
		var e *evidence.Envelope
		err := v.Envelopes(ctx, Query{From: r.Position, To: r.Position}, func(row *EnvelopeRow) error {
			got, _, err := c.envelope(row, sp.info)
			e = got
			return err
		})
		if err != nil {
			return err
		}
		if e == nil {
			return bad(sp.info.id, seq, "names envelopes row %d, which is missing", r.Position)
		}
		if e.EnvelopeID != r.EnvelopeID {
			return bad(sp.info.id, seq, "names envelope %s, but envelopes row %d holds %s", r.EnvelopeID, r.Position, e.EnvelopeID)
		}
		l, ok, err := signing.ParseLifecycle(&e.Content)
		if !ok {
			return bad(sp.info.id, seq, "names envelopes row %d, which is a %s envelope, not a lifecycle envelope", r.Position, e.EventType)
		}
		if err == nil {
			err = checkLifecycle(l, e, sp.recorder, cur.KeyEpoch)
		}
		if err != nil {
			return bad(sp.info.id, seq, "its lifecycle envelope (envelopes row %d) does not follow the lineage: %v", r.Position, err)
		}
		if l.New.KeyID != r.KeyID || !bytes.Equal(r.PublicKey, l.New.PublicKey) {
			return bad(sp.info.id, seq, "records key %s, but its lifecycle envelope introduces %s", r.KeyID, l.New.KeyID)
		}
		cur = Lineage{KeyEpoch: l.Next(), Kind: l.Kind, Old: l.Old, EnvelopeID: e.EnvelopeID, Position: r.Position}
		cur.Key.PublicKey = ed25519.PublicKey(bytes.Clone(l.New.PublicKey))
		all = append(all, cur)
		positions = append(positions, r.Position)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The index's lifecycle envelopes must be exactly those the rows name.
	i := 0
	err = v.Envelopes(ctx, Query{EventTypes: lifecycleTypes, KeysOnly: true}, func(r *EnvelopeRow) error {
		if i < len(positions) && positions[i] == r.Position {
			i++
			return nil
		}
		return corrupt(envelopeRowName(r.Position), scalar.UUID{}, 0, "is a lifecycle envelope that no key_epochs row records")
	})
	if err != nil {
		return nil, err
	}
	if i < len(positions) {
		return nil, corrupt(envelopeRowName(positions[i]), scalar.UUID{}, 0, "a key_epochs row names it, but the event_type index does not list it as a lifecycle envelope")
	}
	return all, nil
}

// Signers sets each segment's Signer from the store's lineage, verified
// as Open verifies it: the key current when the segment's first envelope
// was appended, or, for a segment that opens with the lifecycle envelope
// of an enrolment, the enrolled key; nil before any key. segs must be
// segments of this snapshot.
func (sn *Snapshot) Signers(ctx context.Context, segs []*Segment) error {
	all, err := sn.Segments(ctx)
	if err != nil {
		return err
	}
	spans := make([]segSpan, len(all))
	for i, g := range all {
		spans[i] = segSpan{info: segmentInfo{order: g.Order, id: g.ID(), first: g.FirstPosition, last: g.FirstPosition + g.Count - 1},
			recorder: g.Genesis.RecorderID}
	}
	lineage, err := loadLineages(ctx, sn.v, newChecker(sn.s.lim), spans)
	if err != nil {
		return err
	}
	for _, g := range segs {
		g.Signer = nil
		for i := range lineage {
			l := &lineage[i]
			if l.Position < g.FirstPosition || (l.Position == g.FirstPosition && l.Epoch == 1 && g.Count > 0) {
				k := l.KeyEpoch
				g.Signer = &k
			}
		}
	}
	return nil
}

package store

import (
	"bytes"
	"context"
	"errors"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Receipt acknowledges one durably stored envelope (SPEC §8).
type Receipt struct {
	SegmentID  scalar.UUID
	Sequence   uint64
	EnvelopeID scalar.UUID
	ChainHash  scalar.Digest
}

// AppendJCS appends the receipt's canonical line, without the newline:
// {"chain_hash","envelope_id","record":"receipt","segment_id","sequence"}.
func (r *Receipt) AppendJCS(dst []byte) []byte {
	dst = append(dst, `{"chain_hash":"`...)
	dst = r.ChainHash.Append(dst)
	dst = append(dst, `","envelope_id":"`...)
	dst = r.EnvelopeID.Append(dst)
	dst = append(dst, `","record":"receipt","segment_id":"`...)
	dst = r.SegmentID.Append(dst)
	dst = append(dst, `","sequence":`...)
	dst = strconv.AppendUint(dst, r.Sequence, 10)
	return append(dst, '}')
}

// Appender writes records to a store in batches. Add checks a record
// against the chain state and writes it into the open batch (one backend
// transaction); Commit makes the batch durable and returns its receipts;
// Rollback discards it. After any error from Add the batch is rolled back
// and the Appender continues from the last commit.
//
// Records arrive in sealed-stream order (SPEC §6). A genesis identical to
// the store's open segment's genesis continues that segment: it is how a
// stream from arxi-seal --store announces the segment it extends.
//
// An Appender is not safe for concurrent use, and a Store has at most one.
type Appender struct {
	s           *Store
	tx          Tx
	committed   *state // state as of the last commit
	cur         *state // state including the open batch
	receipts    []Receipt
	lines       []int64         // the input line of each envelope of receipts; 0 when unknown
	hold        bool            // let the backend hold rows back until Commit, and commit early (AppendStream)
	unit        bool            // let the backend hold rows back until the end of AddUnit
	unitEnvs    []int           // AddUnit: the index in its records of each envelope it added
	alwaysEarly bool            // begin early where the backend can, rows written at each Add (SetEarly)
	early       bool            // tx was begun with BeginEarly
	blobs       []scalar.Digest // attachment records waiting for their envelope
	c           *checker
	line        []byte
	signed      *scalar.KeyID // the key whose signature on the record being added was verified already; nil when none
	row         EnvelopeRow
	buf         []byte // the row's encoded attachments and signatures
}

// Appender returns the store's Appender, loading and verifying the chain
// state first when Open did not (NoVerify).
func (s *Store) Appender(ctx context.Context) (*Appender, error) {
	if s.state == nil {
		v, err := s.b.View(ctx)
		if err != nil {
			return nil, err
		}
		depth := s.depth
		if depth == NoVerify {
			depth = 1
		}
		st, err := loadState(ctx, v, depth, s.lim)
		v.Close()
		if err != nil {
			return nil, err
		}
		s.state = st
	}
	return &Appender{s: s, committed: s.state, cur: s.state.clone(), c: newChecker(s.lim)}, nil
}

// SetEarly makes the Appender begin its transactions early where the
// backend can (EarlyBackend), so that CommitEarly commits them before
// they are durable, as AppendStream does; unlike AppendStream's, rows are
// still written at each Add, so an Add's error is about its own record.
// A transaction begun early and committed with Commit is durable when
// Commit returns, as ever. The sidecar's writer uses it to write the next
// group while a group's fsync runs.
func (a *Appender) SetEarly(on bool) { a.alwaysEarly = on }

// Pending is the number of envelopes in the open batch.
func (a *Appender) Pending() int { return len(a.receipts) }

func (a *Appender) begin(ctx context.Context) error {
	if a.tx != nil {
		return nil
	}
	var tx Tx
	var err error
	eb, early := a.s.b.(EarlyBackend)
	if early = early && (a.hold || a.alwaysEarly); early {
		tx, err = eb.BeginEarly(ctx)
	} else {
		tx, err = a.s.b.Begin(ctx)
	}
	if err != nil {
		return err
	}
	a.tx, a.early = tx, early
	return nil
}

// Add checks rec and writes it into the open batch, beginning one if
// needed. On error the batch is rolled back.
func (a *Appender) Add(ctx context.Context, rec evidence.Record) error {
	a.line = rec.AppendJCS(a.line[:0])
	a.signed = nil
	return a.add(ctx, rec, a.line, false, 0)
}

// AddUnit checks and writes recs into the open batch, as Add does one by
// one, but lets the backend hold their rows back until the last of them,
// so that a unit of many envelopes (the sidecar's batch request) is
// written in multi-row statements. The records must not change until the
// batch is committed or rolled back (their rows are Kept). On error the
// batch is rolled back and k is the index of the record the error is
// about: a row the backend held back may fail only when a later one is
// added or when the unit ends. An error about a row added before the unit
// (a RowError, located at its envelope) gives the record being added.
func (a *Appender) AddUnit(ctx context.Context, recs []evidence.Record) (k int, err error) {
	first := len(a.receipts)
	a.unit, a.unitEnvs = true, a.unitEnvs[:0]
	defer func() { a.unit = false }()
	for k, rec := range recs {
		a.line = rec.AppendJCS(a.line[:0])
		a.signed = nil
		if err := a.add(ctx, rec, a.line, false, 0); err != nil {
			return a.unitRecord(err, first, k), err
		}
		if rec.Kind() == evidence.KindEnvelope {
			a.unitEnvs = append(a.unitEnvs, k)
		}
	}
	if f, ok := a.tx.(Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			err = a.locate(err)
			k := a.unitRecord(err, first, len(recs)-1)
			a.Rollback()
			return k, err
		}
	}
	return 0, nil
}

// unitRecord is the index in AddUnit's records of the record err is about:
// the envelope of a row the backend held back (RowError), or else cur,
// the record being added. first is the number of envelopes the batch held
// before the unit.
func (a *Appender) unitRecord(err error, first, cur int) int {
	var re *RowError
	if !errors.As(err, &re) || re.Position <= a.committed.envelopes {
		return cur
	}
	if i := int(re.Position-a.committed.envelopes-1) - first; i >= 0 && i < len(a.unitEnvs) {
		return a.unitEnvs[i]
	}
	return cur
}

// add is Add with the record's canonical line already at hand, as a
// sealed stream reader has checked it, for an envelope whether its
// content hash was already found to recompute, and the record's input
// line number (0 when unknown).
//
// Unless a.hold, the backend writes the record's rows before add returns,
// so an error is about this record; with a.hold (AppendStream) it may
// hold them back, and an error may be about an earlier envelope of the
// batch, located at that envelope and its line.
func (a *Appender) add(ctx context.Context, rec evidence.Record, line []byte, hashed bool, at int64) error {
	if err := a.begin(ctx); err != nil {
		return err
	}
	var err error
	switch r := rec.(type) {
	case *evidence.Genesis:
		err = a.genesis(ctx, r, line)
	case *evidence.Attachment:
		err = a.attachment(ctx, r)
	case *evidence.Envelope:
		err = a.envelope(ctx, r, hashed, at)
	case *evidence.Seal:
		err = a.seal(ctx, r, line)
	default:
		err = errcode.New(errcode.InputUnexpectedRecord, "%s records cannot be appended to a store", rec.Kind())
	}
	if f, ok := a.tx.(Flusher); ok && err == nil && !a.hold && !a.unit {
		err = f.Flush(ctx)
	}
	if err != nil {
		err = a.locate(err)
		a.Rollback()
	}
	return err
}

// locate locates a backend's error about a row it held back (RowError)
// at that envelope of the open batch: its segment, sequence and input
// line.
func (a *Appender) locate(err error) error {
	var re *RowError
	if !errors.As(err, &re) || re.Position <= a.committed.envelopes {
		return err
	}
	i := re.Position - a.committed.envelopes - 1
	if i >= uint64(len(a.receipts)) {
		return err
	}
	r := a.receipts[i]
	err = errcode.WithLocation(err, r.SegmentID.String(), r.Sequence)
	if a.lines[i] > 0 {
		err = errcode.AtLine(err, a.lines[i])
	}
	return err
}

func (a *Appender) genesis(ctx context.Context, g *evidence.Genesis, line []byte) error {
	if len(a.blobs) > 0 {
		return errcode.New(errcode.InputUnexpectedRecord, "genesis record follows an attachment record")
	}
	if !g.Verify() {
		return &errcode.Error{Code: errcode.ChainHashMismatch, Field: "genesis_hash", Segment: g.SegmentID.String(),
			Msg: "genesis_hash does not recompute"}
	}
	st := a.cur
	if o := st.open; o != nil {
		if bytes.Equal(line, o.line) {
			return nil // the open segment, announced again: continue it
		}
		return &errcode.Error{Code: errcode.SegmentAlreadyOpen, Segment: g.SegmentID.String(),
			Msg:  "segment " + o.genesis.SegmentID.String() + " is open; a store holds at most one open segment",
			Hint: "seal it first (arxi-append segment seal), or continue it with arxi-seal --store"}
	}
	old, err := a.tx.SegmentByID(ctx, g.SegmentID)
	switch {
	case err == nil && bytes.Equal(old.Genesis, line):
		return &errcode.Error{Code: errcode.SegmentSealed, Segment: g.SegmentID.String(), Msg: "segment is already stored and sealed"}
	case err == nil:
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "segment_id", Segment: g.SegmentID.String(), Msg: "a segment with this id is already stored"}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if st.last != nil && (g.Predecessor == nil || *g.Predecessor != *st.last) {
		e := &errcode.Error{Code: errcode.ChainDiscontinuity, Field: "predecessor_chain_head", Segment: g.SegmentID.String(),
			Msg: "genesis does not link to the sealed head of segment " + st.last.SegmentID.String() + ", the store's last segment"}
		if g.Predecessor == nil {
			// A new chain for a store that has one: the sealer started
			// from nothing, most often because it read another store.
			e.Msg = "genesis starts a new chain, but the store's chain continues from the sealed head of segment " + st.last.SegmentID.String()
			e.Hint = "did arxi-seal read another store? arxi-seal --store must name this store (with --open), so that it links the new segment"
		}
		return e
	}
	if st.last == nil && st.segments > 0 {
		return errcode.New(errcode.Internal, "store has segments but no sealed head")
	}
	row := &SegmentRow{Order: st.segments + 1, ID: g.SegmentID, FirstPosition: st.envelopes + 1,
		Genesis: bytes.Clone(line), GenesisHash: g.GenesisHash, Head: g.GenesisHash}
	if err := a.tx.AddSegment(ctx, row); err != nil {
		return err
	}
	st.segments++
	st.open = &openSegment{order: row.Order, genesis: g, line: row.Genesis, first: row.FirstPosition,
		chain: evidence.NewChain(g), merkle: true, lastClaimed: g.CreatedAt}
	return nil
}

func (a *Appender) attachment(ctx context.Context, at *evidence.Attachment) error {
	if a.cur.open == nil {
		return errcode.New(errcode.InputUnexpectedRecord, "attachment record outside a segment")
	}
	if !at.Verify() {
		return &errcode.Error{Code: errcode.ChainHashMismatch, Field: "hash", Msg: "attachment hash is not SHA-256 of its data"}
	}
	if err := a.tx.AddBlob(ctx, at.Hash, at.Data); err != nil {
		return err
	}
	a.blobs = append(a.blobs, at.Hash)
	return nil
}

func (a *Appender) envelope(ctx context.Context, e *evidence.Envelope, hashed bool, at int64) error {
	o := a.cur.open
	if o == nil {
		return &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: e.SegmentID.String(), Sequence: e.Sequence,
			Msg: "no segment is open; a segment starts with a genesis"}
	}
	seg := o.genesis.SegmentID.String()
	if !hashed && a.c.hasher.Content(&e.Content) != e.ContentHash {
		return &errcode.Error{Code: errcode.ChainHashMismatch, Field: "content_hash", Segment: seg, Sequence: e.Sequence,
			Msg: "content_hash does not recompute"}
	}
	if err := o.chain.Next(e.SegmentID, e.Sequence, e.ContentHash, e.ChainHash); err != nil {
		return err
	}
	if err := a.checkRefs(ctx, e, seg); err != nil {
		return err
	}
	l, err := a.checkKey(e, o)
	if err != nil {
		return err
	}
	pos := o.first + e.Sequence - 1
	a.buf = a.row.Set(e, pos, o.order, a.buf)
	// AppendStream's records share stream.Parallel's lines, and AddUnit's
	// caller keeps its records until the batch ends.
	a.row.Kept = a.hold || a.unit
	if err := a.tx.AddEnvelope(ctx, &a.row); err != nil {
		if re := (*RowError)(nil); errors.As(err, &re) && re.Position != pos {
			return err // about an earlier row: add locates it
		}
		return errcode.WithLocation(err, seg, e.Sequence)
	}
	if l != nil {
		if err := a.addKeyEpoch(ctx, l, e, pos); err != nil {
			return err
		}
		o.rotated = true
	}
	a.cur.envelopes++
	o.lastClaimed = e.ClaimedAt
	a.receipts = append(a.receipts, ReceiptFor(e))
	a.lines = append(a.lines, at)
	return nil
}

// checkRefs checks that every blob the envelope references is stored with
// the referenced size, and that the attachment records just before it are
// all referenced by it (SPEC §4.2).
func (a *Appender) checkRefs(ctx context.Context, e *evidence.Envelope, seg string) error {
	for i, ref := range e.Attachments {
		if i > 0 && e.Attachments[i-1].Hash == ref.Hash {
			continue
		}
		size, err := a.tx.BlobSize(ctx, ref.Hash)
		field := "attachments[" + strconv.Itoa(i) + "]"
		switch {
		case errors.Is(err, ErrNotFound):
			return &errcode.Error{Code: errcode.InputAttachmentMiss, Field: field + ".hash", Segment: seg, Sequence: e.Sequence,
				Msg: "attachment " + ref.Hash.String() + " is neither in the store nor earlier in the stream"}
		case err != nil:
			return err
		case size != ref.Size:
			return &errcode.Error{Code: errcode.InputFieldInvalid, Field: field + ".size", Segment: seg, Sequence: e.Sequence,
				Msg: "is " + strconv.FormatInt(ref.Size, 10) + " but the attachment holds " + strconv.FormatInt(size, 10) + " bytes"}
		}
	}
	for _, h := range a.blobs {
		found := false
		for _, ref := range e.Attachments {
			if ref.Hash == h {
				found = true
				break
			}
		}
		if !found {
			return &errcode.Error{Code: errcode.InputUnexpectedRecord, Segment: seg, Sequence: e.Sequence,
				Msg: "attachment record " + h.String() + " is not referenced by the envelope that follows it"}
		}
	}
	a.blobs = a.blobs[:0]
	return nil
}

func (a *Appender) seal(ctx context.Context, s *evidence.Seal, line []byte) error {
	if len(a.blobs) > 0 {
		return errcode.New(errcode.InputUnexpectedRecord, "seal record follows an attachment record")
	}
	o := a.cur.open
	if o == nil {
		return &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: s.SegmentID.String(), Msg: "seal record but no segment is open"}
	}
	if o.rotated && s.Reason != evidence.SealKeyRotation {
		return &errcode.Error{Code: errcode.KeyRotationInvalid, Field: "reason", Segment: s.SegmentID.String(),
			Msg:  "the segment ends with a lifecycle envelope: its seal has reason key_rotation, not " + string(s.Reason),
			Hint: "finish the rotation: run the same arxi-seal enroll or rotate again, which writes the seal"}
	}
	if err := rebuildMerkle(ctx, a.tx, o); err != nil {
		return err
	}
	if err := o.chain.CheckSeal(s); err != nil {
		return err
	}
	if err := evidence.CheckSealedAt(s, o.lastClaimed); err != nil {
		return err
	}
	if err := a.checkSealKey(o, s); err != nil {
		return err
	}
	row := &SegmentRow{Order: o.order, ID: o.genesis.SegmentID, FirstPosition: o.first, Genesis: o.line,
		GenesisHash: o.genesis.GenesisHash, Count: o.chain.Count, Head: o.chain.Head, Seal: bytes.Clone(line)}
	if err := a.tx.UpdateSegment(ctx, row); err != nil {
		return err
	}
	a.cur.last = &evidence.Link{SegmentID: row.ID, ChainHead: row.Head}
	a.cur.open = nil
	return nil
}

// SetMeta sets a store_meta value in the open batch (beginning one), so
// it commits or rolls back with the records around it: a key rotation's
// lifecycle envelope and the new signer state, for example.
func (a *Appender) SetMeta(ctx context.Context, key, value string) error {
	if err := checkMetaKey(key); err != nil {
		return err
	}
	if len(value) > MaxMetaValue {
		return errcode.New(errcode.InputTooLarge, "store_meta value for %q exceeds %d bytes", key, MaxMetaValue)
	}
	if err := a.begin(ctx); err != nil {
		return err
	}
	if err := a.tx.SetMeta(ctx, key, value); err != nil {
		a.Rollback()
		return err
	}
	return nil
}

// Commit writes the open segment's head, commits the batch durably and
// returns its receipts (valid until the next call). Without an open batch
// it does nothing.
func (a *Appender) Commit(ctx context.Context) ([]Receipt, error) {
	rs, _, err := a.commit(ctx, false)
	return rs, err
}

// CommitEarly is Commit for a backend that can commit before the batch
// is durable (EarlyBackend, in AppendStream): the next batch may be added
// at once, and the receipts must not be given to anyone before durable
// (nil when the batch is durable already) has returned nil. durable may
// run on another goroutine, while the next batch is added, but must have
// returned before the next CommitEarly or Commit.
func (a *Appender) CommitEarly(ctx context.Context) (rs []Receipt, durable func() error, err error) {
	return a.commit(ctx, true)
}

func (a *Appender) commit(ctx context.Context, early bool) ([]Receipt, func() error, error) {
	if a.tx == nil {
		return nil, nil, nil
	}
	if len(a.blobs) > 0 {
		a.Rollback()
		return nil, nil, errcode.New(errcode.InputUnexpectedRecord, "attachment record without the envelope that references it")
	}
	if o := a.cur.open; o != nil && (a.committed.open == nil || a.committed.open.order != o.order || a.committed.open.chain.Count != o.chain.Count) {
		row := &SegmentRow{Order: o.order, ID: o.genesis.SegmentID, FirstPosition: o.first, Genesis: o.line,
			GenesisHash: o.genesis.GenesisHash, Count: o.chain.Count, Head: o.chain.Head}
		if err := a.tx.UpdateSegment(ctx, row); err != nil {
			a.Rollback()
			return nil, nil, err
		}
	}
	var durable func() error
	err := a.tx.Commit()
	if err == nil && a.early {
		durable = a.s.b.(EarlyBackend).Durable
		if !early {
			durable, err = nil, durable()
		}
	}
	a.tx.Close()
	a.tx = nil
	if err != nil {
		err = a.locate(err)
		a.reset()
		return nil, nil, err
	}
	a.committed = a.cur
	a.s.state = a.committed
	a.cur = a.committed.clone()
	r := a.receipts
	a.receipts = a.receipts[len(a.receipts):]
	a.lines = a.lines[:0]
	return r, durable, nil
}

// Rollback discards the open batch.
func (a *Appender) Rollback() {
	if a.tx != nil {
		a.tx.Close()
		a.tx = nil
	}
	a.reset()
}

func (a *Appender) reset() {
	a.cur = a.committed.clone()
	a.receipts = a.receipts[:0]
	a.lines = a.lines[:0]
	a.blobs = a.blobs[:0]
}

// Close rolls back an open batch.
func (a *Appender) Close() error {
	a.Rollback()
	return nil
}

// SegmentStatus describes a store's open segment from the Appender's view.
type SegmentStatus struct {
	Genesis       *evidence.Genesis
	Count         uint64
	Head          scalar.Digest
	LastClaimedAt scalar.Timestamp
}

// OpenSegment returns the committed open segment, or nil.
func (a *Appender) OpenSegment() *SegmentStatus {
	o := a.committed.open
	if o == nil {
		return nil
	}
	return &SegmentStatus{Genesis: o.genesis, Count: o.chain.Count, Head: o.chain.Head, LastClaimedAt: o.lastClaimed}
}

// lastSealed returns the committed last sealed segment's head, or nil.
func (a *Appender) lastSealed() *evidence.Link {
	if a.committed.last == nil {
		return nil
	}
	l := *a.committed.last
	return &l
}

// OpenSegmentNow opens a segment by hand (SPEC §8): a genesis with the given
// id (a random UUIDv7) created at the clock time at, linked to the last
// sealed head. It fails with segment.already_open when one is open.
func (a *Appender) OpenSegmentNow(ctx context.Context, recorder scalar.Label, id scalar.UUID, at scalar.Timestamp) (*evidence.Genesis, error) {
	if a.tx != nil {
		return nil, errcode.New(errcode.Internal, "OpenSegmentNow with a batch open")
	}
	if o := a.committed.open; o != nil {
		return nil, &errcode.Error{Code: errcode.SegmentAlreadyOpen, Segment: o.genesis.SegmentID.String(), Msg: "a segment is already open",
			Hint: "seal it first: arxi-append segment seal"}
	}
	g := evidence.NewGenesis(id, recorder, at, a.lastSealed())
	if err := a.Add(ctx, g); err != nil {
		return nil, err
	}
	if _, err := a.Commit(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// SealNow seals the open segment by hand (reason manual) or at shutdown,
// dated at the clock time at. It fails with segment.none_open when no
// segment is open.
//
// sign, when set, signs the seal before it is written (SPEC §11.2): a
// store with a current key takes only seals signed by it.
func (a *Appender) SealNow(ctx context.Context, reason evidence.SealReason, at scalar.Timestamp, sign ...func(s *evidence.Seal, genesis scalar.Digest)) (*evidence.Seal, error) {
	if a.tx != nil {
		return nil, errcode.New(errcode.Internal, "SealNow with a batch open")
	}
	o := a.cur.open
	if o == nil {
		return nil, &errcode.Error{Code: errcode.SegmentNoneOpen, Msg: "no segment is open"}
	}
	if err := a.begin(ctx); err != nil {
		return nil, err
	}
	if err := rebuildMerkle(ctx, a.tx, o); err != nil {
		a.Rollback()
		return nil, err
	}
	s := o.chain.Seal(reason, at)
	for _, f := range sign {
		f(s, o.genesis.GenesisHash)
	}
	if err := a.Add(ctx, s); err != nil {
		return nil, err
	}
	if _, err := a.Commit(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

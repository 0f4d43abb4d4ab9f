package bundle

import (
	"context"
	"io"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/stream"
)

// Source is what Build reads: a store, or a sealed stream spooled by
// Spool. Build reads each segment it considers once.
//
// A Source vouches for what it yields, so that Build does no work twice:
// each line is the normal form of its record, each content hash, genesis
// hash, chain hash and seal recomputes, each blob hashes to its hash (the
// spool checks all of it when spooling, a store snapshot on every row it
// reads). Build checks the order of the records and writes them.
type Source interface {
	// Segments lists the source's segments in store order.
	Segments(ctx context.Context) ([]scalar.UUID, error)
	// Records calls fn with one segment's records and their lines (valid
	// during the call): its genesis, its envelopes in sequence order, then
	// its seal if it is sealed, and stops at the first error fn returns.
	// Attachment records may be interleaved; Build skips them and fetches
	// blobs with Attachment.
	Records(ctx context.Context, segment scalar.UUID, fn func(rec evidence.Record, line []byte) error) error
	// Attachment returns the blob whose hash is h.
	Attachment(ctx context.Context, h scalar.Digest) (*evidence.Attachment, error)
}

// A Counter is a Source that knows how many envelopes a segment holds, as
// a store does, so that Build can give its progress a total.
type Counter interface {
	EnvelopeCount(ctx context.Context, segment scalar.UUID) (uint64, error)
}

// Limits are the bounded-work limits of SPEC §16 that a verifier applies to
// a bundle. Build refuses to write a bundle over Segments,
// EnvelopesPerSegment or Attachments, which no verifier flag raises;
// Envelopes is the verifier's default total, raised with --max-envelopes.
type Limits struct {
	Segments            int
	EnvelopesPerSegment uint64
	Envelopes           uint64
	Attachments         int
}

// DefaultLimits are the limits of SPEC §16.
var DefaultLimits = Limits{Segments: 4096, EnvelopesPerSegment: evidence.MaxSegmentEnvelopes, Envelopes: 200_000, Attachments: 200_000}

// Options configure Build.
type Options struct {
	// Limits bound the bundle; zero fields take DefaultLimits.
	Limits Limits
	// TempDir is where Build keeps the bundle's body while it learns the
	// manifest; "" is the system's temporary directory.
	TempDir string
	// Progress, when set, is called with the number of records read since
	// the previous call.
	Progress func(n int)
	// ProgressTotal, when set and the source is a Counter, is called once
	// with the number of records Build will read, before it reads them.
	ProgressTotal func(n int64)
}

// Build writes the bundle of the envelopes sel selects from src to w and
// returns its manifest. sel must be normalised (Selector.Normalize).
//
// It reads each candidate segment once, replaying its chain (sequences,
// chain hashes, the seal), deciding which envelopes are disclosed, and
// writing the segment's records to a temporary file as it goes; a segment that turns out to hold no
// selected envelope is cut off again. At the end it knows the manifest,
// writes it, and copies the body after it. Nothing reaches w before the
// manifest is complete, so a failed build writes nothing.
//
// A source whose records do not chain fails with the chain error naming
// the segment and sequence; a segment named by sel that the source does
// not hold is segment.not_found; a selection that holds no segment is
// bundle.empty; a bundle a verifier would refuse (SPEC §16) is
// bundle.limit_exceeded.
func Build(ctx context.Context, src Source, sel Selector, w io.Writer, opts Options) (*Manifest, error) {
	body, err := newBody(opts.TempDir)
	if err != nil {
		return nil, err
	}
	defer body.close()
	b := newBuilder(ctx, src, &sel, opts, body)
	copyBody := body.copyTo
	if sp, ok := src.(*Spooled); ok && sel.Everything() {
		// Every envelope is disclosed: the bundle's body is the stream.
		if err := b.whole(sp); err != nil {
			return nil, err
		}
		copyBody = sp.copyBody
	} else if err := b.build(); err != nil {
		return nil, err
	}
	head := stream.NewWriter(w)
	if err := head.WriteLine(b.m.AppendJCS(nil)); err != nil {
		return nil, err
	}
	if err := head.Flush(); err != nil {
		return nil, err
	}
	if err := copyBody(w); err != nil {
		return nil, err
	}
	return &b.m, nil
}

// Plan returns the manifest Build would write for sel, without writing
// the bundle: it reads and checks the same records, and keeps none.
func Plan(ctx context.Context, src Source, sel Selector, opts Options) (*Manifest, error) {
	b := newBuilder(ctx, src, &sel, opts, discardBody())
	if err := b.build(); err != nil {
		return nil, err
	}
	return &b.m, nil
}

func newBuilder(ctx context.Context, src Source, sel *Selector, opts Options, body *body) *builder {
	return &builder{ctx: ctx, src: src, sel: sel, progress: opts.Progress, total: opts.ProgressTotal, lim: opts.Limits.WithDefaults(),
		body: body, out: stream.NewWriter(body), blobs: map[scalar.Digest]int64{}}
}

// whole fills the manifest of a bundle of a whole spooled stream from the
// spool's index, which knows every segment's count and blob.
func (b *builder) whole(sp *Spooled) error {
	for i, s := range sp.segs {
		if i == b.lim.Segments {
			return b.over("segments", uint64(i)+1, uint64(b.lim.Segments))
		}
		if s.count > b.lim.EnvelopesPerSegment {
			e := b.over("envelopes in segment "+s.id.String(), b.lim.EnvelopesPerSegment+1, b.lim.EnvelopesPerSegment)
			e.Segment = s.id.String()
			return e
		}
		b.m.Segments = append(b.m.Segments, Segment{SegmentID: s.id, GenesisHash: s.genesis.GenesisHash,
			HeadChainHash: s.head, MerkleRoot: s.merkle, EnvelopeCount: s.count, Disclosed: s.count, Sealed: s.sealed})
		if s.genesis.Predecessor != nil {
			b.preds = append(b.preds, s.genesis.Predecessor.SegmentID)
		}
	}
	if len(sp.blobs) > b.lim.Attachments {
		return b.over("attachments", uint64(b.lim.Attachments)+1, uint64(b.lim.Attachments))
	}
	for h, at := range sp.blobs {
		b.blobs[h] = at.size
	}
	b.first = sp.segs[0].genesis.CreatedAt
	b.manifest()
	return nil
}

// WithDefaults returns l with its zero fields set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.Segments <= 0 {
		l.Segments = d.Segments
	}
	if l.EnvelopesPerSegment == 0 {
		l.EnvelopesPerSegment = d.EnvelopesPerSegment
	}
	if l.Envelopes == 0 {
		l.Envelopes = d.Envelopes
	}
	if l.Attachments <= 0 {
		l.Attachments = d.Attachments
	}
	return l
}

type builder struct {
	ctx      context.Context
	src      Source
	sel      *Selector
	matched  uint64 // envelopes of the segment being read that the selector matches
	lim      Limits
	progress func(int)
	total    func(int64)

	body  *body
	out   *stream.Writer // over body
	m     Manifest
	first scalar.Timestamp        // created_at of the first included genesis
	blobs map[scalar.Digest]int64 // blobs written, with their size
	preds []scalar.UUID           // predecessors named by included geneses
	n     int                     // records read since the last progress call
}

func (b *builder) tick() error {
	b.n++
	if b.n&1023 == 0 {
		if b.progress != nil {
			b.progress(b.n)
			b.n = 0
		}
		if err := b.ctx.Err(); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "interrupted")
		}
	}
	return nil
}

// candidates lists the segments to read, in store order.
func (b *builder) candidates() ([]scalar.UUID, error) {
	all, err := b.src.Segments(b.ctx)
	if err != nil {
		return nil, err
	}
	sorted := slices.SortedFunc(slices.Values(all), scalar.UUID.Compare)
	for _, id := range b.sel.Segments {
		if _, ok := slices.BinarySearchFunc(sorted, id, scalar.UUID.Compare); !ok {
			return nil, &errcode.Error{Code: errcode.SegmentNotFound, Segment: id.String(), Msg: "the source holds no such segment"}
		}
	}
	if b.sel.Everything() || !b.sel.onlySegments() {
		// Which envelopes a selector matches is decided from the
		// verified lines of every segment, never from an index (SPEC §8).
		return all, nil
	}
	// Segments named by id are the only ones that can hold a match.
	out := all[:0:0]
	for _, id := range all {
		if b.sel.NamesSegment(id) {
			out = append(out, id)
		}
	}
	return out, nil
}

// countTotal reports the records Build will read (each segment's
// genesis, envelopes and seal), when the source can count them.
func (b *builder) countTotal(ids []scalar.UUID) error {
	c, ok := b.src.(Counter)
	if b.total == nil || !ok {
		return nil
	}
	var total int64
	for _, id := range ids {
		n, err := c.EnvelopeCount(b.ctx, id)
		if err != nil {
			return err
		}
		total += int64(n) + 2
	}
	b.total(total)
	return nil
}

// build reads the candidate segments, writes the body and fills the
// manifest.
func (b *builder) build() error {
	ids, err := b.candidates()
	if err != nil {
		return err
	}
	if err := b.countTotal(ids); err != nil {
		return err
	}
	for _, id := range ids {
		mark, err := b.body.mark(b.out)
		if err != nil {
			return err
		}
		seg, g, err := b.segment(id)
		if err != nil {
			return err
		}
		if b.matched == 0 && !b.sel.NamesSegment(id) { // lifecycle envelopes alone do not include a segment
			if err := b.body.cut(b.out, mark); err != nil {
				return err
			}
			continue
		}
		if len(b.m.Segments) == b.lim.Segments {
			return b.over("segments", uint64(len(b.m.Segments))+1, uint64(b.lim.Segments))
		}
		if len(b.m.Segments) == 0 {
			b.first = g.CreatedAt
		}
		b.m.Segments = append(b.m.Segments, seg)
		if g.Predecessor != nil {
			b.preds = append(b.preds, g.Predecessor.SegmentID)
		}
	}
	if err := b.out.Flush(); err != nil {
		return err
	}
	if len(b.m.Segments) == 0 {
		return errcode.New(errcode.BundleEmpty, "nothing to export: no envelope matches the selector %s", b.sel)
	}
	b.manifest()
	return nil
}

// manifest completes the manifest once every segment is written.
func (b *builder) manifest() {
	included := make([]scalar.UUID, len(b.m.Segments))
	for i, s := range b.m.Segments {
		included[i] = s.SegmentID
	}
	slices.SortFunc(included, scalar.UUID.Compare)
	b.m.OmittedParents = []scalar.UUID{}
	for _, p := range b.preds {
		if _, ok := slices.BinarySearchFunc(included, p, scalar.UUID.Compare); !ok {
			b.m.OmittedParents = append(b.m.OmittedParents, p)
		}
	}
	slices.SortFunc(b.m.OmittedParents, scalar.UUID.Compare)
	b.m.OmittedParents = slices.Compact(b.m.OmittedParents)
	b.m.Attachments = make([]Blob, 0, len(b.blobs))
	for h, n := range b.blobs {
		b.m.Attachments = append(b.m.Attachments, Blob{Hash: h, Size: n})
	}
	slices.SortFunc(b.m.Attachments, func(x, y Blob) int { return x.Hash.Compare(y.Hash) })
	b.m.Version = Version
	b.m.HashAlgorithm = evidence.HashAlgorithm
	b.m.Selector = *b.sel
	b.m.BundleID = b.m.DeriveID(b.first)
}

func (b *builder) over(what string, n, max uint64) *errcode.Error {
	return errcode.New(errcode.BundleLimitExceeded, "the bundle would hold %d %s; a verifier accepts at most %d (SPEC §16)", n, what, max)
}

// segment reads one segment and writes its records: the genesis, blobs
// before their first disclosed reference, disclosed envelopes, elided
// records for the others, and the seal.
func (b *builder) segment(id scalar.UUID) (Segment, *evidence.Genesis, error) {
	seg := Segment{SegmentID: id}
	b.matched = 0
	var g *evidence.Genesis
	err := b.src.Records(b.ctx, id, func(rec evidence.Record, line []byte) error {
		if err := b.tick(); err != nil {
			return err
		}
		if err := order(id, rec, g, seg.Sealed); err != nil {
			return err
		}
		switch v := rec.(type) {
		case *evidence.Genesis:
			g = v
			seg.GenesisHash, seg.HeadChainHash = v.GenesisHash, v.GenesisHash
			return b.out.WriteLine(line)
		case *evidence.Envelope:
			n := seg.Disclosed + seg.Elided
			if v.Sequence != n+1 {
				return &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: id.String(), Sequence: v.Sequence,
					Msg: "sequence " + strconv.FormatUint(v.Sequence, 10) + " does not follow sequence " + strconv.FormatUint(n, 10)}
			}
			if n == b.lim.EnvelopesPerSegment {
				e := b.over("envelopes in segment "+id.String(), n+1, b.lim.EnvelopesPerSegment)
				e.Segment = id.String()
				return e
			}
			seg.HeadChainHash = v.ChainHash
			if b.sel.Match(v) {
				b.matched++
			}
			if !b.sel.Discloses(v) {
				seg.Elided++
				return b.out.Write(v.Elided())
			}
			seg.Disclosed++
			return b.disclose(v, line)
		case *evidence.Seal:
			seg.Sealed = true
			root := v.MerkleRoot
			seg.MerkleRoot = &root
			return b.out.WriteLine(line)
		}
		return nil
	})
	if err != nil {
		return seg, nil, err
	}
	if g == nil {
		return seg, nil, &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: id.String(), Msg: "segment has no genesis"}
	}
	seg.EnvelopeCount = seg.Disclosed + seg.Elided
	return seg, g, nil
}

// disclose writes a selected envelope after the blobs it is the first to
// reference (its references are sorted by hash, so they come in hash
// order).
func (b *builder) disclose(e *evidence.Envelope, line []byte) error {
	for i, r := range e.Attachments {
		if n, ok := b.blobs[r.Hash]; ok {
			if n != r.Size {
				return &errcode.Error{Code: errcode.ChainHashMismatch, Segment: e.SegmentID.String(), Sequence: e.Sequence,
					Field: "attachments[" + strconv.Itoa(i) + "].size", Msg: "blob " + r.Hash.String() + " is referenced with two sizes"}
			}
			continue
		}
		if len(b.blobs) == b.lim.Attachments {
			return b.over("attachments", uint64(len(b.blobs))+1, uint64(b.lim.Attachments))
		}
		a, err := b.src.Attachment(b.ctx, r.Hash)
		if err != nil {
			return err
		}
		if a.Hash != r.Hash || a.Size() != r.Size {
			return &errcode.Error{Code: errcode.AttachmentCorrupt, Segment: e.SegmentID.String(), Sequence: e.Sequence,
				Msg: "blob " + r.Hash.String() + " from the source does not match its hash and size"}
		}
		if err := b.out.Write(a); err != nil {
			return err
		}
		b.blobs[r.Hash] = r.Size
	}
	return b.out.WriteLine(line)
}

// order checks that a source's record may come next in segment id.
func order(id scalar.UUID, rec evidence.Record, g *evidence.Genesis, sealed bool) error {
	bad := func(msg string) error {
		return &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: id.String(), Msg: msg}
	}
	switch v := rec.(type) {
	case *evidence.Genesis:
		if g != nil {
			return bad("second genesis in the segment")
		}
		if v.SegmentID != id {
			return bad("genesis of segment " + v.SegmentID.String())
		}
	case *evidence.Attachment:
	case *evidence.Envelope, *evidence.Seal:
		if g == nil {
			return bad(rec.Kind().String() + " record before the genesis")
		}
		if sealed {
			return bad(rec.Kind().String() + " record after the seal")
		}
	default:
		return bad(rec.Kind().String() + " record in a source segment")
	}
	return nil
}

package bundle

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/stream"
)

// DefaultSpoolIndex bounds the segments and the blobs a spooled stream may
// hold, so that the in-memory index of a spool stays within a few tens of
// MiB whatever the input.
const DefaultSpoolIndex = 1 << 18

// SpoolConfig configures Spool.
type SpoolConfig struct {
	Dir         string          // directory of the temporary file; "" for the system default
	Limits      evidence.Limits // line and field limits; zero fields take the defaults
	MaxSegments int             // segments the stream may hold; 0 for DefaultSpoolIndex
	MaxBlobs    int             // blobs the stream may hold; 0 for DefaultSpoolIndex
	Progress    func(n int)     // called with the number of records read since the last call
}

// Spooled is a sealed stream held in a temporary file and indexed by
// segment and blob: a Source that can be read as often as needed. Close
// removes the file.
type Spooled struct {
	f     *os.File
	lim   evidence.Limits
	segs  []spoolSegment
	blobs map[scalar.Digest]span
}

type spoolSegment struct {
	id         scalar.UUID
	start, end int64 // byte range of the segment's lines
	genesis    *evidence.Genesis
	count      uint64 // envelopes
	sealed     bool
	head       scalar.Digest    // chain hash of the last envelope; the genesis hash when none
	merkle     *scalar.Digest   // the seal's Merkle root; nil while unsealed
	last       scalar.Timestamp // claimed_at of the last envelope; the genesis created_at when none
}

type span struct {
	off  int64
	n    int   // line length without the newline
	size int64 // blob size
}

var _ Source = (*Spooled)(nil)

// Spool reads a sealed stream (SPEC §6) from r into a temporary file,
// checking it as it goes: every line canonical and in its record's normal
// form, the record order of the stream grammar, every genesis, content,
// chain and seal hash recomputed, every blob hashed and placed once,
// immediately before the first envelope that references it, segment ids
// unique, and a predecessor present in the stream sealed with the head its
// successor names. The first fault fails the spool with an error naming
// its line. Elided records are refused: a bundle is not a sealed stream.
func Spool(ctx context.Context, r io.Reader, cfg SpoolConfig) (_ *Spooled, err error) {
	if cfg.MaxSegments <= 0 {
		cfg.MaxSegments = DefaultSpoolIndex
	}
	if cfg.MaxBlobs <= 0 {
		cfg.MaxBlobs = DefaultSpoolIndex
	}
	f, err := os.CreateTemp(cfg.Dir, "arxi-bundle-spool-*")
	if err != nil {
		return nil, errcode.Wrap(errcode.IOFailed, err, "create spool file")
	}
	// Unlinked at once where the system allows it, so nothing is left
	// behind even if the process dies.
	removed := os.Remove(f.Name()) == nil
	s := &Spooled{f: f, lim: cfg.Limits, blobs: map[scalar.Digest]span{}}
	defer func() {
		if err != nil {
			f.Close()
			if !removed {
				os.Remove(f.Name())
			}
		}
	}()
	in := stream.NewParallel(r, stream.ParallelConfig{Limits: cfg.Limits, Workers: runtime.GOMAXPROCS(0), Work: stream.HashContent})
	defer in.Close()
	sp := spooler{s: s, cfg: cfg, ctx: ctx, in: in,
		out: bufio.NewWriterSize(f, 256<<10), seen: map[scalar.UUID]sealedHead{}}
	if err := sp.run(); err != nil {
		return nil, err
	}
	return s, nil
}

type sealedHead struct {
	sealed bool
	head   scalar.Digest
}

type spooler struct {
	s   *Spooled
	cfg SpoolConfig
	ctx context.Context
	in  *stream.Parallel
	it  *stream.Item // the record being spooled
	out *bufio.Writer
	off int64

	g       stream.Grammar
	chain   *evidence.Chain
	seen    map[scalar.UUID]sealedHead
	pending []scalar.Digest // blobs read since the last envelope
}

func (sp *spooler) run() error {
	n := 0
	var line int64
	for {
		it, err := sp.in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err // a bundle, or unsealed events, named by the reader (input.wrong_kind)
		}
		line, sp.it = it.Line, it
		if n++; n&1023 == 0 {
			if sp.cfg.Progress != nil {
				sp.cfg.Progress(1024)
			}
			if err := sp.ctx.Err(); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "interrupted at line %d", line)
			}
		}
		if err := sp.record(it.Record); err != nil {
			return errcode.AtLine(err, line)
		}
		if _, err := sp.out.Write(it.Raw); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "write spool file")
		}
		if err := sp.out.WriteByte('\n'); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "write spool file")
		}
		sp.off += int64(len(it.Raw)) + 1
		if k := len(sp.s.segs); k > 0 {
			sp.s.segs[k-1].end = sp.off
		}
	}
	if err := sp.g.End(); err != nil {
		return errcode.AtLine(err, line+1)
	}
	if len(sp.s.segs) == 0 {
		return errcode.New(errcode.BundleEmpty, "the input stream holds no segment")
	}
	if err := sp.out.Flush(); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write spool file")
	}
	return nil
}

func (sp *spooler) record(rec evidence.Record) error {
	if err := sp.g.Next(rec.Kind()); err != nil {
		return err
	}
	switch v := rec.(type) {
	case *evidence.Genesis:
		return sp.genesis(v)
	case *evidence.Attachment:
		return sp.attachment(v)
	case *evidence.Envelope:
		return sp.envelope(v)
	case *evidence.Seal:
		if err := sp.chain.CheckSeal(v); err != nil {
			return err
		}
		seg := &sp.s.segs[len(sp.s.segs)-1]
		if err := evidence.CheckSealedAt(v, seg.last); err != nil {
			return err
		}
		sp.seen[v.SegmentID] = sealedHead{sealed: true, head: sp.chain.Head}
		root := v.MerkleRoot
		seg.sealed, seg.merkle = true, &root
		return nil
	default:
		return errcode.New(errcode.InputUnexpectedRecord, "%s record in a sealed stream (a bundle is not a stream)", rec.Kind())
	}
}

func (sp *spooler) genesis(g *evidence.Genesis) error {
	id := g.SegmentID.String()
	if !g.Verify() {
		return &errcode.Error{Code: errcode.ChainHashMismatch, Segment: id, Msg: "genesis_hash does not match the genesis"}
	}
	if _, dup := sp.seen[g.SegmentID]; dup {
		return &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: id, Msg: "segment appears twice in the stream"}
	}
	if p := g.Predecessor; p != nil {
		if prev, ok := sp.seen[p.SegmentID]; ok && (!prev.sealed || prev.head != p.ChainHead) {
			return &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: id,
				Msg: "predecessor " + p.SegmentID.String() + " in the stream is not sealed with head " + p.ChainHead.String()}
		}
	}
	if len(sp.s.segs) >= sp.cfg.MaxSegments {
		return errcode.New(errcode.BundleLimitExceeded, "the stream holds more than %d segments", sp.cfg.MaxSegments)
	}
	sp.seen[g.SegmentID] = sealedHead{}
	sp.chain = evidence.NewChain(g)
	sp.s.segs = append(sp.s.segs, spoolSegment{id: g.SegmentID, start: sp.off, genesis: g, head: g.GenesisHash, last: g.CreatedAt})
	return nil
}

func (sp *spooler) attachment(a *evidence.Attachment) error {
	if !a.Verify() {
		return &errcode.Error{Code: errcode.AttachmentCorrupt, Field: "data", Msg: "blob does not hash to " + a.Hash.String()}
	}
	if _, dup := sp.s.blobs[a.Hash]; dup {
		return errcode.New(errcode.InputUnexpectedRecord, "blob %s appears a second time", a.Hash)
	}
	if len(sp.s.blobs) >= sp.cfg.MaxBlobs {
		return errcode.New(errcode.BundleLimitExceeded, "the stream holds more than %d blobs", sp.cfg.MaxBlobs)
	}
	sp.s.blobs[a.Hash] = span{off: sp.off, n: len(sp.it.Raw), size: a.Size()}
	sp.pending = append(sp.pending, a.Hash)
	return nil
}

func (sp *spooler) envelope(e *evidence.Envelope) error {
	if !stream.ContentHashed(sp.it) {
		return &errcode.Error{Code: errcode.ChainHashMismatch, Segment: e.SegmentID.String(), Sequence: e.Sequence,
			Msg: "content_hash of sequence " + strconv.FormatUint(e.Sequence, 10) + " does not match its content"}
	}
	if err := sp.chain.Next(e.SegmentID, e.Sequence, e.ContentHash, e.ChainHash); err != nil {
		return err
	}
	seg := &sp.s.segs[len(sp.s.segs)-1]
	seg.count++
	seg.head, seg.last = e.ChainHash, e.ClaimedAt
	// The blobs just read must be exactly the ones e references that
	// came nowhere earlier, in hash order (e's references are sorted by
	// hash).
	pending := sp.pending
	sp.pending = sp.pending[:0]
	k := 0
	for i, r := range e.Attachments {
		if i > 0 && e.Attachments[i-1].Hash == r.Hash {
			continue
		}
		field := "attachments[" + strconv.Itoa(i) + "]"
		at, ok := sp.s.blobs[r.Hash]
		switch {
		case !ok:
			return &errcode.Error{Code: errcode.InputAttachmentMiss, Field: field + ".hash",
				Msg: "no attachment record " + r.Hash.String() + " came earlier in the stream"}
		case at.size != r.Size:
			return &errcode.Error{Code: errcode.InputFieldInvalid, Field: field + ".size",
				Msg: "is " + strconv.FormatInt(r.Size, 10) + " but blob " + r.Hash.String() + " holds " + strconv.FormatInt(at.size, 10) + " bytes"}
		case k < len(pending) && pending[k] == r.Hash:
			k++
		case slices.Contains(pending, r.Hash):
			return errcode.New(errcode.InputUnexpectedRecord, "the blobs before sequence %d are not in hash order", e.Sequence)
		}
	}
	if k != len(pending) {
		return errcode.New(errcode.InputUnexpectedRecord, "blob %s is not referenced by the envelope that follows it", pending[k])
	}
	return nil
}

// Segments implements Source.
func (s *Spooled) Segments(context.Context) ([]scalar.UUID, error) {
	ids := make([]scalar.UUID, len(s.segs))
	for i, seg := range s.segs {
		ids[i] = seg.id
	}
	return ids, nil
}

// Records implements Source. The spool file holds only records that were
// checked as they were spooled; they are decoded again on all cores.
func (s *Spooled) Records(ctx context.Context, id scalar.UUID, fn func(evidence.Record, []byte) error) error {
	i := slices.IndexFunc(s.segs, func(seg spoolSegment) bool { return seg.id == id })
	if i < 0 {
		return &errcode.Error{Code: errcode.SegmentNotFound, Segment: id.String(), Msg: "the stream holds no such segment"}
	}
	seg := s.segs[i]
	in := stream.NewParallel(io.NewSectionReader(s.f, seg.start, seg.end-seg.start),
		stream.ParallelConfig{Limits: s.lim, Workers: runtime.GOMAXPROCS(0)})
	defer in.Close()
	for {
		it, err := in.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "read spool file")
		}
		if err := fn(it.Record, it.Raw); err != nil {
			return err
		}
	}
}

// copyBody writes the whole spooled stream: the body of a bundle that
// discloses every envelope, since a sealed stream places each blob, once,
// immediately before the first envelope that references it, as a bundle
// does.
//
// The copy reads the file itself, not a section of it, so that a file or
// pipe w copies it inside the kernel (copy_file_range, splice); the other
// reads of a spool (ReadAt) do not use the file's offset.
func (s *Spooled) copyBody(w io.Writer) error {
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "read spool file")
	}
	if _, err := io.Copy(w, io.LimitReader(s.f, s.segs[len(s.segs)-1].end)); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "copy spool file")
	}
	return nil
}

// Attachment implements Source.
func (s *Spooled) Attachment(_ context.Context, h scalar.Digest) (*evidence.Attachment, error) {
	at, ok := s.blobs[h]
	if !ok {
		return nil, errcode.New(errcode.InputAttachmentMiss, "the stream holds no blob %s", h)
	}
	buf := make([]byte, at.n)
	if _, err := s.f.ReadAt(buf, at.off); err != nil {
		return nil, errcode.Wrap(errcode.IOFailed, err, "read spool file")
	}
	rec, err := evidence.NewDecoder(s.lim).Sealed(buf)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOFailed, err, "read spool file")
	}
	a, ok := rec.(*evidence.Attachment)
	if !ok || a.Hash != h {
		return nil, errcode.New(errcode.Internal, "spool index does not point at blob %s", h)
	}
	return a, nil
}

// Close removes the spool file.
func (s *Spooled) Close() error {
	name := s.f.Name()
	err := s.f.Close()
	os.Remove(name) // already gone where unlinking an open file works
	return err
}

// Package verify checks a bundle, or a bare sealed stream, offline
// (SPEC §10): given the file and, optionally, a trust root, it says phase
// by phase whether the evidence is complete, in order, unaltered and
// signed by whom it should be.
//
// # Phases
//
//	1 manifest       version and algorithm; bundle_id's derivation; the
//	                 manifest's segments, counts, blobs, omitted parents
//	                 and selector against the records; record order
//	2 attachments    every blob hashes to its hash
//	3 content        every disclosed envelope's fields are valid and its
//	                 content hash recomputes; no envelope_id appears twice
//	4 chain          genesis hashes recompute; sequences run 1, 2, 3 …;
//	                 every chain hash follows from the one before, through
//	                 elided records too
//	5 cross_segment  a predecessor is another segment of the same
//	                 recorder; an included one comes earlier, sealed with
//	                 the head its successor names; no two segments name
//	                 one predecessor (a fork); a missing one is listed in
//	                 omitted_parents (warning omitted_parent)
//	6 signatures     with a trust root: every signature by a trusted key
//	                 verifies and the root's policy holds for every
//	                 disclosed envelope and every seal's checkpoint (an
//	                 unsigned seal fails every policy); without one,
//	                 skipped with warning signature_skipped
//	7 seals          each seal's count, head and Merkle root recompute;
//	                 an automatic seal is dated at its last envelope
//
// A bare sealed stream has no manifest: phase 1 then checks record order
// and blob placement only, and an elided record is a failure.
//
// # One pass, constant memory
//
// The input is read once, line by line, and every phase advances on each
// record, so a stream piped from stdin verifies as it arrives. Memory is
// one line, the manifest, a few bytes per segment and per listed blob,
// and 24 bytes per disclosed envelope, its id and position (phase 3
// refuses an id seen twice), all bounded by the limits of SPEC §16. Content hashes and signatures are checked on all cores and
// reported in input order, so the verdict never depends on scheduling.
//
// # Failures, errors and unreadable lines
//
// A failed check is a Failure in its phase, naming the segment and
// sequence of the first bad record ("chain_hash of sequence 412 does not
// follow sequence 411"), never an error. Each phase lists its first
// MaxFailures failures and counts the rest.
//
// Bundle returns an error, and no verdict, only when it cannot or will not
// verify at all: the first line is neither a manifest nor a genesis, the
// manifest is malformed, a bounded-work limit is exceeded
// (bundle.limit_exceeded, checked against the manifest before any record
// is read and again as records arrive), the context ends, or reading fails
// (io.failed).
//
// Once the input is recognised, a line that cannot be read as a record —
// not JSON, not canonical, over the line limit, cut off by the end of the
// file, out of the record grammar, a corrupt zstd frame — is damaged
// evidence: it is reported as a failure of phase 1 (of phase 3 when the
// line is an envelope whose fields are invalid) naming the line, and
// verification stops there. The checks that need the rest of the input
// (the manifest's counts, the blobs and segments it lists) are then not
// made; the verdict is invalid already.
//
// # Counting
//
// A phase's "checked" counts what it looked at: 1 every line, 2 blobs,
// 3 disclosed envelopes, 4 genesis, envelope and elided records,
// 5 segments, 6 disclosed envelopes and seals, 7 seals. A skipped phase checks nothing.
package verify

import (
	"context"
	"errors"
	"io"
	"runtime"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/stream"
	"github.com/tidwall/gjson"
)

// Config configures a verification.
type Config struct {
	// TrustRoot enables phase 6; nil skips it with signature_skipped.
	TrustRoot *signing.TrustRoot
	// Phases selects the phases to run; zero runs all seven.
	Phases PhaseSet
	// Limits are the bounded-work limits; zero fields take
	// bundle.DefaultLimits.
	Limits bundle.Limits
	// Records bound each line and record; zero fields take
	// evidence.DefaultLimits.
	Records evidence.Limits
	// Workers is the number of goroutines checking content hashes and
	// signatures; 0 means GOMAXPROCS.
	Workers int
	// Progress, when set, is called with the number of records read since
	// the previous call.
	Progress func(n int)
	// ProgressTotal, when set, is called once with the number of lines a
	// bundle holds, as its manifest tells, before the records are read.
	ProgressTotal func(n int64)
}

// Bundle verifies the bundle or sealed stream read from r, plain or zstd
// (detected by its magic bytes), and returns the verdict. See the package
// documentation for what is an error and what is a failure.
func Bundle(ctx context.Context, r io.Reader, cfg Config) (*Verdict, error) {
	w := newWalker(ctx, cfg, r)
	defer w.in.Close()
	if err := w.start(); err != nil {
		return nil, err
	}
	if err := w.walk(); err != nil {
		return nil, err
	}
	return w.finish(), nil
}

// walker is one verification's state.
type walker struct {
	ctx     context.Context
	cfg     Config
	lim     bundle.Limits
	in      *stream.Parallel
	v       Verdict
	m       *bundle.Manifest    // nil for a bare stream
	checker *checker            // nil when neither phase 3 nor phase 6 runs
	forced  [NumPhases + 1]bool // phases that failed on an unreadable line, selected or not

	grammar stream.Grammar
	lines   uint64 // lines read, the manifest included
	line    int64  // the number of the last line read
	total   uint64 // envelope and elided records
	readErr error  // the unreadable line that ended the walk
	readRaw []byte // that line, when it was canonical JSON

	seg   *segment
	segs  []segInfo // every segment read, in order
	index map[scalar.UUID]int
	ids   []envelopeID // every disclosed envelope's id, in input order (phase 3)

	blobSeen    []bool                  // bundle: per manifest blob, read already
	streamBlobs map[scalar.Digest]int64 // stream: blobs read, with their size
	pending     []pendingBlob           // blobs read since the last envelope
}

// segment is the segment being read.
type segment struct {
	g           *evidence.Genesis
	chain       *evidence.Chain
	idx         int
	disclosed   uint64
	elided      uint64
	sealed      bool
	merkle      scalar.Digest    // the seal's merkle_root, when sealed
	lastClaimed scalar.Timestamp // claimed_at of the last envelope; the genesis created_at when none
	lastElided  bool             // the last record is elided: its time is unknown
}

// segInfo is what the cross-segment phase remembers of a segment.
type segInfo struct {
	id       scalar.UUID
	recorder scalar.Label
	pred     *evidence.Link
	sealed   bool
	head     scalar.Digest // the seal's head_chain_hash
}

// envelopeID is a disclosed envelope's id and where it is: 24 bytes an
// envelope, the one memory phase 3 keeps per envelope.
type envelopeID struct {
	id  scalar.UUID
	seg uint32 // index into segs
	seq uint32 // sequence; at most the per-segment limit (SPEC §16)
}

type pendingBlob struct {
	hash scalar.Digest
	size int64
	line int64
}

func newWalker(ctx context.Context, cfg Config, r io.Reader) *walker {
	w := &walker{ctx: ctx, cfg: cfg, lim: cfg.Limits.WithDefaults(), index: map[scalar.UUID]int{}}
	for i := range w.v.Phases {
		w.v.Phases[i].Phase = Phase(i + 1)
	}
	content := cfg.Phases.Has(PhaseContent)
	var root *signing.TrustRoot
	if cfg.Phases.Has(PhaseSignatures) {
		root = cfg.TrustRoot
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pc := stream.ParallelConfig{Limits: cfg.Records, Workers: workers, FirstLine: true}
	if content || root != nil {
		w.checker = newChecker(&w.v, content, root)
		pc.Work = w.checker.work
	}
	w.in = stream.NewParallel(r, pc)
	return w
}

func (w *walker) on(p Phase) bool { return w.cfg.Phases.Has(p) }

// fail records a failure of a selected phase.
func (w *walker) fail(p Phase, code errcode.Code, seg scalar.UUID, seq uint64, msg string) {
	if w.on(p) {
		w.v.Phase(p).add(Failure{Code: code, SegmentID: seg, Sequence: seq, Message: msg})
	}
}

func (w *walker) check(p Phase) {
	if w.on(p) {
		w.v.Phase(p).Checked++
	}
}

// start reads the first line: a manifest makes the input a bundle, a
// genesis a bare sealed stream; anything else is not verifiable input.
func (w *walker) start() error {
	it, err := w.in.Next()
	if errors.Is(err, io.EOF) {
		return errcode.New(errcode.BundleMalformed, "input is empty; want a bundle or a sealed stream")
	}
	if err != nil {
		return err
	}
	line := it.Raw
	w.lines, w.line = 1, 1
	w.check(PhaseManifest)
	if bundle.IsManifest(line) {
		m, err := bundle.ParseManifest(line)
		if err != nil {
			return errcode.AtLine(err, 1)
		}
		w.m = m
		w.v.ManifestSHA256 = scalar.Sum(line)
		return w.manifest()
	}
	rec, err := evidence.NewDecoder(w.cfg.Records).Sealed(line)
	if errors.Is(err, errcode.InputNotCanonical) { // the line is canonical: the record is not in its normal form
		if gjson.GetBytes(line, "record").Str == "genesis" {
			return &errcode.Error{Code: errcode.InputNotCanonical, Line: 1,
				Msg: "the genesis record is not in its normal form (for example a timestamp without nine fractional digits)"}
		}
		err = nil
	}
	if err == nil && rec.Kind() == evidence.KindGenesis {
		w.streamBlobs = map[scalar.Digest]int64{}
		return w.record(rec, nil)
	}
	if wk := stream.WrongKind(stream.Sealed, line); wk != nil {
		return wk
	}
	return &errcode.Error{Code: errcode.BundleMalformed, Line: 1,
		Msg: "the first line is neither a bundle manifest nor a genesis record: this is not a bundle or a sealed stream", Err: err}
}

// walk reads every record after the first line.
func (w *walker) walk() error {
	for {
		if w.lines&1023 == 0 {
			if err := w.ctx.Err(); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "interrupted at line %d", w.line+1)
			}
			if w.cfg.Progress != nil {
				w.cfg.Progress(1024)
			}
		}
		it, err := w.in.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if errcode.CodeOf(err) == errcode.IOFailed {
				return err
			}
			w.readErr = err
			if it != nil {
				w.readRaw, w.line = it.Raw, it.Line
			}
			return nil
		}
		w.lines++
		w.line = it.Line
		w.check(PhaseManifest)
		if err := w.grammar.Next(it.Record.Kind()); err != nil {
			w.readErr, w.readRaw = errcode.AtLine(err, w.line), it.Raw
			return nil
		}
		if err := w.record(it.Record, it.Aux); err != nil {
			return err
		}
	}
}

// record dispatches one record, with what the checker's work found for it.
// Its only errors are exceeded limits.
func (w *walker) record(rec evidence.Record, aux any) error {
	switch v := rec.(type) {
	case *evidence.Genesis:
		if w.lines == 1 { // a bare stream's first line: the grammar has not seen it
			if err := w.grammar.Next(evidence.KindGenesis); err != nil {
				return err
			}
		}
		return w.genesis(v)
	case *evidence.Attachment:
		return w.attachment(v)
	case *evidence.Envelope:
		return w.envelope(v, aux)
	case *evidence.Elided:
		return w.elided(v)
	case *evidence.Seal:
		w.sealRecord(v)
	}
	return nil
}

func (w *walker) limitError(msg string) error {
	return &errcode.Error{Code: errcode.BundleLimitExceeded, Line: w.line, Msg: msg + " (SPEC §16)"}
}

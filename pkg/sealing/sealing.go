// Package sealing turns unsealed events into a sealed stream (SPEC §7).
//
// A Sealer is a state machine with no I/O of its own: arxi-seal feeds it
// records read from stdin and writes what it returns, the sidecar feeds it
// HTTP requests and persists what it returns. For each unsealed envelope it
//
//   - opens a segment when none is open: a genesis whose id is derived from
//     the recorder, the predecessor's sealed head and the first envelope
//     (SPEC §5.6), linked to the previous segment;
//   - emits each attachment blob once, immediately before the first
//     envelope that references it;
//   - assigns the next sequence, derives the envelope id when the input has
//     none, computes the content and chain hashes, signs, and extends the
//     Merkle accumulator;
//   - seals by count (right after the Nth envelope) and by event-time
//     duration (before an envelope whose claimed_at is at least D after the
//     segment's created_at), so a replayed stream yields the same segments;
//   - signs every seal over its checkpoint with the same keys (SPEC §11.2).
//
// Nothing is emitted for a rejected envelope and the state does not change,
// so a caller may report the error and go on.
package sealing

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
)

// Signer signs content hashes and seal checkpoints; signing.Key
// implements it.
type Signer interface {
	KeyID() scalar.KeyID
	Sign(content scalar.Digest) evidence.Signature
	SignMessage(msg []byte) evidence.Signature
}

// SignSeal signs seal s, which closes the segment whose genesis hash is
// genesis, over its checkpoint (SPEC §11.2) with every signer, and sets
// its signatures, sorted by key id. With no signers it leaves s unsigned
// (no signatures key). Every seal a Sealer makes goes through it; a caller
// that makes a seal itself (a key rotation's) signs it here too.
func SignSeal(s *evidence.Seal, genesis scalar.Digest, signers []Signer) {
	s.Signatures = nil
	if len(signers) == 0 {
		return
	}
	text := checkpoint.Append(nil, genesis, s)
	s.Signatures = make([]evidence.Signature, len(signers))
	for i, sg := range signers {
		s.Signatures[i] = sg.SignMessage(text)
	}
	sortSignatures(s.Signatures)
}

func sortSignatures(sigs []evidence.Signature) {
	slices.SortFunc(sigs, func(a, b evidence.Signature) int { return a.KeyID.Compare(b.KeyID) })
}

// Start is the chain state a Sealer begins from.
type Start struct {
	// Open, when set, is a segment to continue.
	Open *Open
	// Predecessor links the first segment the Sealer opens. It is ignored
	// when Open is set: the successor of an open segment links to that
	// segment's sealed head.
	Predecessor *evidence.Link
}

// Open is an open segment to continue.
type Open struct {
	Genesis *evidence.Genesis
	Chain   *evidence.Chain
	// LastClaimedAt is the claimed_at of the segment's last envelope, or
	// its created_at when it is empty.
	LastClaimedAt scalar.Timestamp
	// Announce makes the Sealer emit the genesis before the first record of
	// this segment, so the output is a grammatical stream (a store reader
	// recognises the repeated genesis of its open segment).
	Announce bool
}

// Continue returns the Start that continues an open segment (its genesis,
// chain and the claimed_at of its last envelope), announcing its genesis
// again; or, when g is nil, the Start whose first segment links to pred.
func Continue(g *evidence.Genesis, chain *evidence.Chain, lastClaimedAt scalar.Timestamp, pred *evidence.Link) Start {
	if g == nil {
		return Start{Predecessor: pred}
	}
	return Start{Open: &Open{Genesis: g, Chain: chain, LastClaimedAt: lastClaimedAt, Announce: true}}
}

// DefaultMaxEnvelopes is the auto-seal count of a Config that sets none,
// and the most one may set: the verifier's per-segment limit (SPEC §7,
// §16), so every segment a default pipeline — arxi-seal or the sidecar —
// writes can be bundled and verified.
const DefaultMaxEnvelopes = evidence.MaxSegmentEnvelopes

// Config configures a Sealer.
type Config struct {
	RecorderID   scalar.Label  // required
	MaxEnvelopes uint64        // seal after this many envelopes; 0 for DefaultMaxEnvelopes, never more
	MaxDuration  time.Duration // seal on event time; 0 for no limit, negative is invalid
	Signers      []Signer
	Start        Start
	// MaxPendingBytes bounds the attachment data held between an attachment
	// record and the first envelope that references it; 0 means 64 MiB.
	MaxPendingBytes int64
	// LifecycleEvents lets the input hold key lifecycle event types
	// (SPEC §11.1), which are otherwise refused (input.field_invalid):
	// Lifecycle sets it, and tests that forge lineages.
	LifecycleEvents bool
	// Hasher, when set, is the scratch memory the Sealer hashes views in,
	// for a caller that makes a Sealer per request (the sidecar) to share
	// between Sealers used one at a time; nil for the Sealer's own.
	Hasher *evidence.Hasher
}

// Sealer seals envelopes. It is not safe for concurrent use.
type Sealer struct {
	cfg          Config
	open         *segment
	pred         *evidence.Link
	emitted      map[scalar.Digest]struct{}
	pending      map[scalar.Digest][]byte
	pendingBytes int64
	hasher       *evidence.Hasher
}

type segment struct {
	genesis     *evidence.Genesis
	chain       *evidence.Chain
	lastClaimed scalar.Timestamp
	announce    bool // the genesis still has to be emitted
}

// New returns a Sealer.
func New(cfg Config) (*Sealer, error) {
	if cfg.RecorderID.IsZero() {
		return nil, errcode.New(errcode.ConfigInvalid, "recorder id is required")
	}
	if cfg.MaxDuration < 0 {
		return nil, errcode.New(errcode.ConfigInvalid, "max duration must be positive")
	}
	switch {
	case cfg.MaxEnvelopes == 0:
		cfg.MaxEnvelopes = DefaultMaxEnvelopes
	case cfg.MaxEnvelopes > DefaultMaxEnvelopes:
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-envelopes",
			Msg: fmt.Sprintf("%d exceeds %d, the verifier's limit of envelopes per segment (SPEC §16)", cfg.MaxEnvelopes, DefaultMaxEnvelopes)}
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = 64 << 20
	}
	seen := map[scalar.KeyID]bool{}
	for _, sg := range cfg.Signers {
		if seen[sg.KeyID()] {
			return nil, errcode.New(errcode.ConfigInvalid, "key %s is given twice", sg.KeyID())
		}
		seen[sg.KeyID()] = true
	}
	// The blob maps are made at their first write: most Sealers the
	// sidecar makes, one per request, never see an attachment.
	s := &Sealer{cfg: cfg, hasher: cfg.Hasher}
	if s.hasher == nil {
		s.hasher = new(evidence.Hasher)
	}
	if o := cfg.Start.Open; o != nil {
		if o.Genesis == nil || o.Chain == nil || o.Chain.SegmentID != o.Genesis.SegmentID {
			return nil, errcode.New(errcode.Internal, "open segment state is incomplete")
		}
		s.open = &segment{genesis: o.Genesis, chain: o.Chain, lastClaimed: o.LastClaimedAt, announce: o.Announce}
	} else {
		s.pred = cfg.Start.Predecessor
	}
	return s, nil
}

// OpenSegment reports the open segment's genesis and chain, or nil.
// The values must not be modified.
func (s *Sealer) OpenSegment() (*evidence.Genesis, *evidence.Chain) {
	if s.open == nil {
		return nil, nil
	}
	return s.open.genesis, s.open.chain
}

// Attachment takes an attachment record from the input. Its data is held
// until the first envelope that references it; a blob already held or
// emitted is ignored.
func (s *Sealer) Attachment(a *evidence.Attachment) error {
	if !a.Verify() {
		return &errcode.Error{Code: errcode.InputFieldInvalid, Field: "hash", Msg: "does not match SHA-256 of data"}
	}
	if _, ok := s.emitted[a.Hash]; ok {
		return nil
	}
	if _, ok := s.pending[a.Hash]; ok {
		return nil
	}
	if s.pendingBytes+a.Size() > s.cfg.MaxPendingBytes {
		return errcode.New(errcode.InputTooLarge, "attachment records not yet referenced exceed %d bytes", s.cfg.MaxPendingBytes)
	}
	if s.pending == nil {
		s.pending = map[scalar.Digest][]byte{}
	}
	s.pending[a.Hash] = a.Data
	s.pendingBytes += a.Size()
	return nil
}

// Append seals one envelope and appends the records to emit to out: any
// seal it triggers, a genesis, new attachment blobs, the envelope, and a
// count seal. On error out is returned unchanged and the state is as before.
func (s *Sealer) Append(out []evidence.Record, u *evidence.Unsealed) ([]evidence.Record, error) {
	return s.append(out, u, nil)
}

// append is Append given, when it is not nil, the hash of u's id-less
// view.
func (s *Sealer) append(out []evidence.Record, u *evidence.Unsealed, anonHash *scalar.Digest) ([]evidence.Record, error) {
	if !s.cfg.LifecycleEvents && signing.IsLifecycle(u.EventType.String()) {
		return out, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "event_type",
			Msg:  u.EventType.String() + " is reserved for key lifecycle envelopes (SPEC §11.1)",
			Hint: "arxi-seal enroll and arxi-seal rotate write them"}
	}
	blobs, err := s.resolve(u)
	if err != nil {
		return out, err
	}
	if o := s.open; o != nil {
		switch {
		case s.cfg.MaxDuration > 0 && u.ClaimedAt.AtLeast(o.genesis.CreatedAt, s.cfg.MaxDuration):
			out = s.seal(out, evidence.SealAutoDuration, o.lastClaimed)
		case o.chain.Count >= s.cfg.MaxEnvelopes:
			out = s.seal(out, evidence.SealAutoCount, o.lastClaimed) // a continued segment already full
		}
	}
	// The id-less view is hashed only for an identifier to derive: the
	// segment's, when this envelope opens one, or the envelope's own.
	var anon scalar.Digest
	switch {
	case anonHash != nil:
		anon = *anonHash
	case s.open == nil || u.EnvelopeID.IsZero():
		anon = s.hasher.Anon(&u.Content)
	}
	if s.open == nil {
		id := evidence.DeriveSegmentID(u.ClaimedAt, s.cfg.RecorderID, s.pred, anon)
		g := evidence.NewGenesis(id, s.cfg.RecorderID, u.ClaimedAt, s.pred)
		s.open = &segment{genesis: g, chain: evidence.NewChain(g), lastClaimed: u.ClaimedAt, announce: true}
	}
	out = s.announce(out)
	o := s.open
	for _, b := range blobs {
		out = append(out, b)
		if s.emitted == nil {
			s.emitted = map[scalar.Digest]struct{}{}
		}
		s.emitted[b.Hash] = struct{}{}
		if _, ok := s.pending[b.Hash]; ok {
			delete(s.pending, b.Hash)
			s.pendingBytes -= b.Size()
		}
	}
	e := &evidence.Envelope{Content: u.Content, SegmentID: o.genesis.SegmentID}
	if e.EnvelopeID.IsZero() {
		e.EnvelopeID = evidence.DeriveEnvelopeID(u.ClaimedAt, o.genesis.SegmentID, o.chain.Count+1, anon)
	}
	e.ContentHash = s.hasher.Content(&e.Content)
	e.Sequence, e.ChainHash = o.chain.Append(e.ContentHash)
	if len(s.cfg.Signers) > 0 {
		e.Signatures = make([]evidence.Signature, len(s.cfg.Signers))
		for i, sg := range s.cfg.Signers {
			e.Signatures[i] = sg.Sign(e.ContentHash)
		}
		sortSignatures(e.Signatures)
	}
	o.lastClaimed = u.ClaimedAt
	out = append(out, e)
	if o.chain.Count >= s.cfg.MaxEnvelopes {
		out = s.seal(out, evidence.SealAutoCount, o.lastClaimed)
	}
	return out, nil
}

// resolve finds the blobs u needs emitted, in hash order, or fails without
// changing anything.
func (s *Sealer) resolve(u *evidence.Unsealed) ([]*evidence.Attachment, error) {
	var blobs []*evidence.Attachment
	for i, ref := range u.Attachments {
		if _, ok := s.emitted[ref.Hash]; ok {
			continue
		}
		if len(blobs) > 0 && blobs[len(blobs)-1].Hash == ref.Hash {
			continue // the same blob under a second content type
		}
		var data []byte
		if i < len(u.Data) && u.Data[i] != nil {
			data = u.Data[i]
		} else if d, ok := s.pending[ref.Hash]; ok {
			data = d
		} else {
			return nil, &errcode.Error{Code: errcode.InputAttachmentMiss, Field: "attachments[" + strconv.Itoa(i) + "].hash",
				Msg: "no attachment record " + ref.Hash.String() + " came earlier in the stream"}
		}
		if int64(len(data)) != ref.Size {
			return nil, &errcode.Error{Code: errcode.InputFieldInvalid, Field: "attachments[" + strconv.Itoa(i) + "].size",
				Msg: "is " + strconv.FormatInt(ref.Size, 10) + " but the attachment holds " + strconv.Itoa(len(data)) + " bytes"}
		}
		blobs = append(blobs, &evidence.Attachment{Hash: ref.Hash, Data: data})
	}
	return blobs, nil
}

func (s *Sealer) announce(out []evidence.Record) []evidence.Record {
	if s.open.announce {
		s.open.announce = false
		out = append(out, s.open.genesis)
	}
	return out
}

// seal closes the open segment and links its successor to it.
func (s *Sealer) seal(out []evidence.Record, reason evidence.SealReason, at scalar.Timestamp) []evidence.Record {
	out = s.announce(out)
	o := s.open
	seal := o.chain.Seal(reason, at)
	SignSeal(seal, o.genesis.GenesisHash, s.cfg.Signers)
	out = append(out, seal)
	s.pred = &evidence.Link{SegmentID: o.genesis.SegmentID, ChainHead: o.chain.Head}
	s.open = nil
	return out
}

// Finish ends the input: with sealAtEnd it seals the open segment, if any,
// with reason end_of_stream at the claimed_at of its last envelope.
func (s *Sealer) Finish(out []evidence.Record, sealAtEnd bool) []evidence.Record {
	if sealAtEnd && s.open != nil {
		out = s.seal(out, evidence.SealEndOfStream, s.open.lastClaimed)
	}
	return out
}

// SealNow seals the open segment for an operator (manual) or at shutdown,
// with the clock time at. It fails with segment.none_open when no segment
// is open.
func (s *Sealer) SealNow(out []evidence.Record, reason evidence.SealReason, at scalar.Timestamp) ([]evidence.Record, error) {
	if s.open == nil {
		return out, errcode.New(errcode.SegmentNoneOpen, "no segment is open")
	}
	return s.seal(out, reason, at), nil
}

// OpenNow opens a segment by hand with an explicit id and clock time (the
// one non-deterministic path, SPEC §8), linked to the last sealed head. It
// fails with segment.already_open when a segment is open.
func (s *Sealer) OpenNow(out []evidence.Record, id scalar.UUID, at scalar.Timestamp) ([]evidence.Record, error) {
	if s.open != nil {
		return out, errcode.New(errcode.SegmentAlreadyOpen, "segment %s is open", s.open.genesis.SegmentID)
	}
	g := evidence.NewGenesis(id, s.cfg.RecorderID, at, s.pred)
	s.open = &segment{genesis: g, chain: evidence.NewChain(g), lastClaimed: at}
	return append(out, g), nil
}

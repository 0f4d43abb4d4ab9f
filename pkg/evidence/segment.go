package evidence

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Link names the sealed head a segment continues from.
type Link struct {
	SegmentID scalar.UUID
	ChainHead scalar.Digest
}

// Genesis opens a segment (SPEC §4.3).
type Genesis struct {
	SegmentID   scalar.UUID
	RecorderID  scalar.Label
	CreatedAt   scalar.Timestamp
	Predecessor *Link // nil when the segment has no predecessor
	GenesisHash scalar.Digest
}

// NewGenesis returns a genesis record with its hash computed.
func NewGenesis(segmentID scalar.UUID, recorder scalar.Label, createdAt scalar.Timestamp, pred *Link) *Genesis {
	g := &Genesis{SegmentID: segmentID, RecorderID: recorder, CreatedAt: createdAt, Predecessor: pred}
	var h Hasher
	g.GenesisHash = h.Genesis(g)
	return g
}

// Kind implements Record.
func (*Genesis) Kind() Kind { return KindGenesis }

// AppendView appends JCS(genesis view) (SPEC §5.2).
func (g *Genesis) AppendView(dst []byte) []byte {
	dst = append(dst, `{"created_at":"`...)
	dst = g.CreatedAt.Append(dst)
	dst = append(dst, `","hash_algorithm":"sha256",`...)
	dst = g.appendTail(dst)
	return append(dst, '}')
}

// appendTail writes the view's members from predecessor_chain_head
// through segment_id (the record has "record" among them, so AppendJCS
// writes its own).
func (g *Genesis) appendTail(dst []byte) []byte {
	dst = g.appendPredecessor(dst)
	dst = append(dst, `,"recorder_id":`...)
	dst = canonical.AppendString(dst, g.RecorderID.String())
	dst = append(dst, `,"schema_version":1,"segment_id":"`...)
	dst = g.SegmentID.Append(dst)
	return append(dst, '"')
}

func (g *Genesis) appendPredecessor(dst []byte) []byte {
	if g.Predecessor == nil {
		return append(dst, `"predecessor_chain_head":null,"predecessor_segment_id":null`...)
	}
	dst = append(dst, `"predecessor_chain_head":"`...)
	dst = g.Predecessor.ChainHead.Append(dst)
	dst = append(dst, `","predecessor_segment_id":"`...)
	dst = g.Predecessor.SegmentID.Append(dst)
	return append(dst, '"')
}

// AppendJCS implements Record.
func (g *Genesis) AppendJCS(dst []byte) []byte {
	dst = append(dst, `{"created_at":"`...)
	dst = g.CreatedAt.Append(dst)
	dst = append(dst, `","genesis_hash":"`...)
	dst = g.GenesisHash.Append(dst)
	dst = append(dst, `","hash_algorithm":"sha256",`...)
	dst = g.appendPredecessor(dst)
	dst = append(dst, `,"record":"genesis","recorder_id":`...)
	dst = canonical.AppendString(dst, g.RecorderID.String())
	dst = append(dst, `,"schema_version":1,"segment_id":"`...)
	dst = g.SegmentID.Append(dst)
	return append(dst, `"}`...)
}

// SealReason says why a segment was sealed.
type SealReason string

// The seal reasons of SPEC §4.6.
const (
	SealManual       SealReason = "manual"
	SealAutoCount    SealReason = "auto_count"
	SealAutoDuration SealReason = "auto_duration"
	SealEndOfStream  SealReason = "end_of_stream"
	SealShutdown     SealReason = "shutdown"
	SealKeyRotation  SealReason = "key_rotation"
)

// ParseSealReason validates a seal reason.
func ParseSealReason(s string) (SealReason, error) {
	if r := SealReason(s); slices.Contains(SealReasons, r) {
		return r, nil
	}
	return "", errcode.New(errcode.InputFieldInvalid, "seal reason %q is not one of manual, auto_count, auto_duration, end_of_stream, shutdown, key_rotation", s)
}

// Seal closes a segment (SPEC §4.6).
type Seal struct {
	SegmentID     scalar.UUID
	EnvelopeCount uint64
	HeadChainHash scalar.Digest // the genesis hash when the segment is empty
	MerkleRoot    scalar.Digest
	Reason        SealReason
	SealedAt      scalar.Timestamp
	// Signatures sign the seal's checkpoint (SPEC §11.2), sorted by key
	// id; nil for an unsigned seal, which has no "signatures" key.
	Signatures []Signature
}

// Kind implements Record.
func (*Seal) Kind() Kind { return KindSeal }

// AppendJCS implements Record.
func (s *Seal) AppendJCS(dst []byte) []byte {
	dst = append(dst, `{"envelope_count":`...)
	dst = strconv.AppendUint(dst, s.EnvelopeCount, 10)
	dst = append(dst, `,"head_chain_hash":"`...)
	dst = s.HeadChainHash.Append(dst)
	dst = append(dst, `","merkle_root":"`...)
	dst = s.MerkleRoot.Append(dst)
	dst = append(dst, `","reason":"`...)
	dst = append(dst, s.Reason...)
	dst = append(dst, `","record":"seal","sealed_at":"`...)
	dst = s.SealedAt.Append(dst)
	dst = append(dst, `","segment_id":"`...)
	dst = s.SegmentID.Append(dst)
	if len(s.Signatures) == 0 {
		return append(dst, `"}`...)
	}
	dst = append(dst, `","signatures":`...)
	dst = appendSignatures(dst, s.Signatures)
	return append(dst, '}')
}

// Automatic reports whether a seal of this reason is dated by the evidence
// rather than the clock: every reason but manual and shutdown (SPEC §4.6).
func (r SealReason) Automatic() bool { return r != SealManual && r != SealShutdown }

// CheckSealedAt checks the sealed_at of a seal whose reason is automatic:
// it must be last, the claimed_at of the segment's last envelope (the
// genesis created_at when the segment is empty). Manual and shutdown
// seals use the clock and pass. The error is chain.hash_mismatch on
// field sealed_at.
func CheckSealedAt(s *Seal, last scalar.Timestamp) error {
	if !s.Reason.Automatic() || s.SealedAt == last {
		return nil
	}
	return &errcode.Error{Code: errcode.ChainHashMismatch, Field: "sealed_at", Segment: s.SegmentID.String(),
		Msg: "a seal with reason " + string(s.Reason) + " is dated at the claimed_at of the segment's last envelope (the genesis created_at when it has none), " +
			last.String() + ", not " + s.SealedAt.String()}
}

// ChainNext returns SHA-256(prev || content), the chain hash of an envelope
// whose predecessor in the chain (the genesis hash for sequence 1) is prev
// (SPEC §5.3).
func ChainNext(prev, content scalar.Digest) scalar.Digest {
	var buf [64]byte
	copy(buf[:32], prev[:])
	copy(buf[32:], content[:])
	return sha256.Sum256(buf[:])
}

var rangeFactory = &compact.RangeFactory{Hash: nodeHash}

// leafHash is RFC 6962's hash of a leaf, SHA-256(0x00 || content): the
// Hasher's, without its two allocations of a hash state and a sum.
func leafHash(content *scalar.Digest) []byte {
	var buf [1 + len(content)]byte
	buf[0] = rfc6962.RFC6962LeafHashPrefix
	copy(buf[1:], content[:])
	h := sha256.Sum256(buf[:])
	return h[:]
}

// nodeHash is RFC 6962's hash of an inner node, SHA-256(0x01 || l || r),
// as leafHash is its leaf hash.
func nodeHash(l, r []byte) []byte {
	var buf [1 + 2*sha256.Size]byte
	if len(l) != sha256.Size || len(r) != sha256.Size {
		return rfc6962.DefaultHasher.HashChildren(l, r)
	}
	buf[0] = rfc6962.RFC6962NodeHashPrefix
	copy(buf[1:], l)
	copy(buf[1+sha256.Size:], r)
	h := sha256.Sum256(buf[:])
	return h[:]
}

// Merkle accumulates the RFC 6962 Merkle tree of a segment's content hashes
// in O(log n) memory (SPEC §5.4). The zero value is an empty tree.
type Merkle struct {
	r *compact.Range
}

// Add appends a content hash as the next leaf.
func (m *Merkle) Add(content scalar.Digest) {
	if m.r == nil {
		m.r = rangeFactory.NewEmptyRange(0)
	}
	// Append fails only for a range not starting at zero, never here.
	_ = m.r.Append(leafHash(&content), nil)
}

// Size is the number of leaves.
func (m *Merkle) Size() uint64 {
	if m.r == nil {
		return 0
	}
	return m.r.End()
}

// Root returns the tree hash; the empty tree's is SHA-256("").
func (m *Merkle) Root() scalar.Digest {
	var d scalar.Digest
	if m.Size() == 0 {
		copy(d[:], rfc6962.DefaultHasher.EmptyRoot())
		return d
	}
	root, err := m.r.GetRootHash(nil)
	if err != nil { // unreachable for a range starting at zero
		panic("merkle: " + err.Error())
	}
	copy(d[:], root)
	return d
}

// Clone returns an independent copy of m.
func (m *Merkle) Clone() *Merkle {
	if m.r == nil {
		return &Merkle{}
	}
	hashes := m.r.Hashes()
	cp := make([][]byte, len(hashes))
	for i, h := range hashes {
		cp[i] = append([]byte(nil), h...)
	}
	r, err := rangeFactory.NewRange(0, m.r.End(), cp)
	if err != nil { // unreachable: the hashes come from a valid range
		panic("merkle: " + err.Error())
	}
	return &Merkle{r: r}
}

// MerkleRoot returns the tree hash of content hashes in order.
func MerkleRoot(contents []scalar.Digest) scalar.Digest {
	var m Merkle
	for _, c := range contents {
		m.Add(c)
	}
	return m.Root()
}

// DeriveEnvelopeID is the envelope id of SPEC §5.6 for an envelope without
// one: uuid7(claimed_at, "arxi/v1/envelope_id\0" || segment_id ||
// sequence (8 bytes big-endian) || anon).
func DeriveEnvelopeID(claimedAt scalar.Timestamp, segment scalar.UUID, sequence uint64, anon scalar.Digest) scalar.UUID {
	const tag = "arxi/v1/envelope_id\x00"
	var seed [len(tag) + 16 + 8 + 32]byte
	n := copy(seed[:], tag)
	n += copy(seed[n:], segment[:])
	binary.BigEndian.PutUint64(seed[n:], sequence)
	n += 8
	copy(seed[n:], anon[:])
	return scalar.DeriveUUID7(claimedAt, seed[:])
}

// DeriveSegmentID is the segment id of SPEC §5.6 for a segment opened by a
// stream: uuid7(claimed_at of its first envelope, "arxi/v1/segment_id\0" ||
// recorder_id || "\0" || predecessor chain head (zeros when none) || anon of
// the first envelope).
func DeriveSegmentID(claimedAt scalar.Timestamp, recorder scalar.Label, pred *Link, anon scalar.Digest) scalar.UUID {
	const tag = "arxi/v1/segment_id\x00"
	seed := make([]byte, 0, len(tag)+len(recorder.String())+1+64)
	seed = append(seed, tag...)
	seed = append(seed, recorder.String()...)
	seed = append(seed, 0)
	var head scalar.Digest
	if pred != nil {
		head = pred.ChainHead
	}
	seed = append(seed, head[:]...)
	seed = append(seed, anon[:]...)
	return scalar.DeriveUUID7(claimedAt, seed)
}

// DeriveBundleID is the bundle id of SPEC §5.6: uuid7(created_at of the
// bundle's first genesis, "arxi/v1/bundle_id\0" || SHA-256(JCS(manifest
// without bundle_id))). manifestJCS is that canonical manifest.
func DeriveBundleID(firstCreatedAt scalar.Timestamp, manifestJCS []byte) scalar.UUID {
	const tag = "arxi/v1/bundle_id\x00"
	h := sha256.Sum256(manifestJCS)
	seed := make([]byte, 0, len(tag)+32)
	seed = append(seed, tag...)
	seed = append(seed, h[:]...)
	return scalar.DeriveUUID7(firstCreatedAt, seed)
}

// MaxSegmentEnvelopes is the most envelopes a segment may hold and still
// be bundled and verified: the verifier's per-segment limit (SPEC §16),
// which no flag raises. Sealing auto-seals at it by default (SPEC §7).
const MaxSegmentEnvelopes = 100_000

// Chain follows one segment's hash chain: the sealer extends it, and the
// store and the verifier replay it to check what they read. It starts at a
// genesis and holds the count, the head and the Merkle accumulator.
type Chain struct {
	SegmentID   scalar.UUID
	GenesisHash scalar.Digest
	Count       uint64
	Head        scalar.Digest // the genesis hash while the segment is empty
	Merkle      Merkle
}

// NewChain starts a chain at g's declared genesis hash.
func NewChain(g *Genesis) *Chain {
	return &Chain{SegmentID: g.SegmentID, GenesisHash: g.GenesisHash, Head: g.GenesisHash}
}

// Append extends the chain by a content hash and returns the new sequence
// and chain hash.
func (c *Chain) Append(content scalar.Digest) (uint64, scalar.Digest) {
	c.Count++
	c.Head = ChainNext(c.Head, content)
	c.Merkle.Add(content)
	return c.Count, c.Head
}

// Next checks that a record declaring (segment, sequence, content, chain)
// continues the chain, then advances with the declared values even when it
// reports an error, so a walk can go on and report later faults on their
// own. Errors are chain.discontinuity (wrong segment, sequence out of order)
// or chain.hash_mismatch (chain hash does not follow).
func (c *Chain) Next(segment scalar.UUID, sequence uint64, content, chain scalar.Digest) error {
	var err error
	switch {
	case segment != c.SegmentID:
		err = &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: c.SegmentID.String(), Sequence: sequence,
			Msg: "record belongs to segment " + segment.String()}
	case sequence != c.Count+1:
		err = &errcode.Error{Code: errcode.ChainDiscontinuity, Segment: c.SegmentID.String(), Sequence: sequence,
			Msg: "sequence " + strconv.FormatUint(sequence, 10) + " does not follow sequence " + strconv.FormatUint(c.Count, 10)}
	case chain != ChainNext(c.Head, content):
		prev := "the genesis"
		if c.Count > 0 {
			prev = "sequence " + strconv.FormatUint(c.Count, 10)
		}
		err = &errcode.Error{Code: errcode.ChainHashMismatch, Segment: c.SegmentID.String(), Sequence: sequence,
			Msg: "chain_hash of sequence " + strconv.FormatUint(sequence, 10) + " does not follow " + prev}
	}
	c.Count = sequence
	c.Head = chain
	c.Merkle.Add(content)
	return err
}

// Seal returns the seal record of the chain's current state.
func (c *Chain) Seal(reason SealReason, at scalar.Timestamp) *Seal {
	return &Seal{SegmentID: c.SegmentID, EnvelopeCount: c.Count, HeadChainHash: c.Head,
		MerkleRoot: c.Merkle.Root(), Reason: reason, SealedAt: at}
}

// CheckSeal compares a seal with the chain's state: segment, count, head and
// Merkle root. The error names the first field that differs.
func (c *Chain) CheckSeal(s *Seal) error {
	fail := func(code errcode.Code, msg string) error {
		return &errcode.Error{Code: code, Segment: c.SegmentID.String(), Msg: msg}
	}
	switch {
	case s.SegmentID != c.SegmentID:
		return fail(errcode.ChainDiscontinuity, "seal names segment "+s.SegmentID.String())
	case s.EnvelopeCount != c.Count:
		return fail(errcode.ChainHashMismatch, "seal envelope_count "+strconv.FormatUint(s.EnvelopeCount, 10)+
			" but the segment holds "+strconv.FormatUint(c.Count, 10))
	case s.HeadChainHash != c.Head:
		return fail(errcode.ChainHashMismatch, "seal head_chain_hash is not the chain hash of sequence "+strconv.FormatUint(c.Count, 10))
	case s.MerkleRoot != c.Merkle.Root():
		return fail(errcode.ChainHashMismatch, "seal merkle_root does not match the recomputed Merkle root")
	}
	return nil
}

// Verify reports whether g's genesis hash recomputes from its fields.
func (g *Genesis) Verify() bool {
	var h Hasher
	return h.Genesis(g) == g.GenesisHash
}

package evidence

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/scalar"
)

// Content is what an envelope says: the 11 keys of the content view
// (SPEC §5.1). schema_version is always 1, the only version of v1.
type Content struct {
	EnvelopeID    scalar.UUID // zero when not yet assigned
	EventType     scalar.Token
	ActorID       scalar.Label
	EnvironmentID scalar.Label
	AdapterID     scalar.Token
	TraceID       scalar.Label // zero for null
	SessionID     scalar.Label // zero for null
	ClaimedAt     scalar.Timestamp
	Payload       string          // canonical JSON text of the payload
	Attachments   []AttachmentRef // sorted by hash, then content type
}

// AppendView appends JCS(content view) to dst; envelope_id is null when the
// id is zero.
func (c *Content) AppendView(dst []byte) []byte { return c.appendView(dst, !c.EnvelopeID.IsZero()) }

// AppendAnonView appends JCS(content view with envelope_id = null), the
// input of the derived identifiers (SPEC §5.6).
func (c *Content) AppendAnonView(dst []byte) []byte { return c.appendView(dst, false) }

func (c *Content) appendView(dst []byte, withID bool) []byte {
	dst = append(dst, `{"actor_id":`...)
	dst = c.appendMiddle(dst)
	dst = append(dst, `,"claimed_at":"`...)
	dst = c.ClaimedAt.Append(dst)
	dst = append(dst, `","envelope_id":`...)
	if withID {
		dst = append(dst, '"')
		dst = c.EnvelopeID.Append(dst)
		dst = append(dst, '"')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"environment_id":`...)
	dst = canonical.AppendString(dst, c.EnvironmentID.String())
	dst = append(dst, `,"event_type":"`...)
	dst = append(dst, c.EventType.String()...) // tokens need no escaping
	dst = append(dst, `","payload":`...)
	dst = append(dst, c.Payload...)
	dst = append(dst, `,"schema_version":1,"session_id":`...)
	dst = appendOptLabel(dst, c.SessionID)
	dst = append(dst, `,"trace_id":`...)
	dst = appendOptLabel(dst, c.TraceID)
	return append(dst, '}')
}

// appendMiddle writes actor_id's value through the attachments array, the
// run of keys the content view and the sealed envelope share before they
// diverge.
func (c *Content) appendMiddle(dst []byte) []byte {
	dst = canonical.AppendString(dst, c.ActorID.String())
	dst = append(dst, `,"adapter_id":"`...)
	dst = append(dst, c.AdapterID.String()...)
	dst = append(dst, `","attachments":`...)
	return AppendAttachments(dst, c.Attachments)
}

// AppendAttachments appends the canonical JSON array of attachment
// references, as an envelope's attachments member holds it.
func AppendAttachments(dst []byte, refs []AttachmentRef) []byte {
	dst = append(dst, '[')
	for i, r := range refs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = r.appendJCS(dst)
	}
	return append(dst, ']')
}

// Hasher computes view hashes with reusable scratch memory. The zero value
// is ready; a Hasher is not safe for concurrent use.
type Hasher struct{ buf []byte }

// Content returns content_hash (SPEC §5.1).
func (h *Hasher) Content(c *Content) scalar.Digest {
	h.buf = c.AppendView(h.buf[:0])
	return sha256.Sum256(h.buf)
}

// Anon returns SHA-256 of the content view with envelope_id = null.
func (h *Hasher) Anon(c *Content) scalar.Digest {
	h.buf = c.AppendAnonView(h.buf[:0])
	return sha256.Sum256(h.buf)
}

// Genesis returns genesis_hash (SPEC §5.2).
func (h *Hasher) Genesis(g *Genesis) scalar.Digest {
	h.buf = g.AppendView(h.buf[:0])
	return sha256.Sum256(h.buf)
}

// ContentHash returns content_hash of c.
func ContentHash(c *Content) scalar.Digest {
	var h Hasher
	return h.Content(c)
}

// Unsealed is an event awaiting its seal (SPEC §4.1): the content, with a
// zero EnvelopeID when the id is to be derived, and the inline data of its
// attachments.
type Unsealed struct {
	Content
	// Data[i] holds the bytes given inline for Attachments[i], or nil when
	// that attachment is a reference to an earlier attachment record.
	Data [][]byte
}

// Kind implements Record.
func (*Unsealed) Kind() Kind { return KindUnsealed }

// SetAttachments sets the attachments from inline data and references,
// sorting them; data[i] is nil for a reference.
func (u *Unsealed) SetAttachments(refs []AttachmentRef, data [][]byte) {
	idx := make([]int, len(refs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareRefs(refs[a], refs[b]) })
	u.Attachments = make([]AttachmentRef, len(refs))
	u.Data = make([][]byte, len(refs))
	for i, j := range idx {
		u.Attachments[i] = refs[j]
		u.Data[i] = data[j]
	}
}

// AppendJCS writes the unsealed record, with inline attachments as
// {"content_type","data"} and references as {"content_type","hash","size"}.
func (u *Unsealed) AppendJCS(dst []byte) []byte {
	c := &u.Content
	dst = append(dst, `{"actor_id":`...)
	dst = canonical.AppendString(dst, c.ActorID.String())
	dst = append(dst, `,"adapter_id":"`...)
	dst = append(dst, c.AdapterID.String()...)
	dst = append(dst, `","attachments":[`...)
	for i, r := range c.Attachments {
		if i > 0 {
			dst = append(dst, ',')
		}
		if i < len(u.Data) && u.Data[i] != nil {
			dst = append(dst, `{"content_type":`...)
			dst = canonical.AppendString(dst, r.ContentType.String())
			dst = append(dst, `,"data":"`...)
			dst = base64.StdEncoding.AppendEncode(dst, u.Data[i])
			dst = append(dst, `"}`...)
		} else {
			dst = r.appendJCS(dst)
		}
	}
	dst = append(dst, `],"claimed_at":"`...)
	dst = c.ClaimedAt.Append(dst)
	dst = append(dst, '"')
	if !c.EnvelopeID.IsZero() {
		dst = append(dst, `,"envelope_id":"`...)
		dst = c.EnvelopeID.Append(dst)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"environment_id":`...)
	dst = canonical.AppendString(dst, c.EnvironmentID.String())
	dst = append(dst, `,"event_type":"`...)
	dst = append(dst, c.EventType.String()...)
	dst = append(dst, `","payload":`...)
	dst = append(dst, c.Payload...)
	dst = append(dst, `,"record":"unsealed","schema_version":1,"session_id":`...)
	dst = appendOptLabel(dst, c.SessionID)
	dst = append(dst, `,"trace_id":`...)
	dst = appendOptLabel(dst, c.TraceID)
	return append(dst, '}')
}

// Signature is an Ed25519 signature over an envelope's raw content hash
// (SPEC §5.5).
type Signature struct {
	KeyID scalar.KeyID
	Value [64]byte
}

// Envelope is a sealed envelope (SPEC §4.4).
type Envelope struct {
	Content
	SegmentID   scalar.UUID
	Sequence    uint64
	ContentHash scalar.Digest
	ChainHash   scalar.Digest
	Signatures  []Signature // sorted by key id
}

// Kind implements Record.
func (*Envelope) Kind() Kind { return KindEnvelope }

// AppendJCS implements Record.
func (e *Envelope) AppendJCS(dst []byte) []byte {
	c := &e.Content
	dst = append(dst, `{"actor_id":`...)
	dst = c.appendMiddle(dst)
	dst = append(dst, `,"chain_hash":"`...)
	dst = e.ChainHash.Append(dst)
	dst = append(dst, `","claimed_at":"`...)
	dst = c.ClaimedAt.Append(dst)
	dst = append(dst, `","content_hash":"`...)
	dst = e.ContentHash.Append(dst)
	dst = append(dst, `","envelope_id":"`...)
	dst = c.EnvelopeID.Append(dst)
	dst = append(dst, `","environment_id":`...)
	dst = canonical.AppendString(dst, c.EnvironmentID.String())
	dst = append(dst, `,"event_type":"`...)
	dst = append(dst, c.EventType.String()...)
	dst = append(dst, `","payload":`...)
	dst = append(dst, c.Payload...)
	dst = append(dst, `,"record":"envelope","schema_version":1,"segment_id":"`...)
	dst = e.SegmentID.Append(dst)
	dst = append(dst, `","sequence":`...)
	dst = strconv.AppendUint(dst, e.Sequence, 10)
	dst = append(dst, `,"session_id":`...)
	dst = appendOptLabel(dst, c.SessionID)
	dst = append(dst, `,"signatures":`...)
	dst = appendSignatures(dst, e.Signatures)
	dst = append(dst, `,"trace_id":`...)
	dst = appendOptLabel(dst, c.TraceID)
	return append(dst, '}')
}

// appendSignatures appends a signatures array (SPEC §4.4), sorted as
// given.
func appendSignatures(dst []byte, sigs []Signature) []byte {
	dst = append(dst, '[')
	for i, s := range sigs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"algorithm":"ed25519","key_id":"`...)
		dst = s.KeyID.Append(dst)
		dst = append(dst, `","value":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, s.Value[:])
		dst = append(dst, `"}`...)
	}
	return append(dst, ']')
}

// Elided returns the elided record standing for e in a bundle (SPEC §4.5).
func (e *Envelope) Elided() *Elided {
	return &Elided{SegmentID: e.SegmentID, Sequence: e.Sequence, ContentHash: e.ContentHash, ChainHash: e.ChainHash}
}

// Elided stands for an undisclosed envelope (SPEC §4.5, §9.3).
type Elided struct {
	SegmentID   scalar.UUID
	Sequence    uint64
	ContentHash scalar.Digest
	ChainHash   scalar.Digest
}

// Kind implements Record.
func (*Elided) Kind() Kind { return KindElided }

// AppendJCS implements Record.
func (e *Elided) AppendJCS(dst []byte) []byte {
	dst = append(dst, `{"chain_hash":"`...)
	dst = e.ChainHash.Append(dst)
	dst = append(dst, `","content_hash":"`...)
	dst = e.ContentHash.Append(dst)
	dst = append(dst, `","record":"elided","segment_id":"`...)
	dst = e.SegmentID.Append(dst)
	dst = append(dst, `","sequence":`...)
	dst = strconv.AppendUint(dst, e.Sequence, 10)
	return append(dst, '}')
}

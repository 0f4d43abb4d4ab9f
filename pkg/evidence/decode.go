package evidence

import (
	"encoding/base64"
	"strconv"
	"strings"
	"unsafe"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
)

// fields is the style of record errors: input.unknown_field,
// input.missing_field and input.field_invalid naming the field.
var fields = &jsonobj.Style{}

// Decoder reads records from their lines, one pass per line: the
// canonical pass (pkg/canonical) validates the line and hands over the
// top-level members it found, which the record decoder reads without
// parsing the line again. A Decoder reuses its scratch memory and is not
// safe for concurrent use.
type Decoder struct {
	lim     Limits
	canon   canonical.Canonicalizer
	members []jsonobj.Member
	ok      bool // the last line was canonical
	decoded bool // the last line's record decoded
}

// NewDecoder returns a Decoder applying lim (zero fields take the defaults
// of SPEC §16).
func NewDecoder(lim Limits) *Decoder {
	d := &Decoder{lim: lim.WithDefaults()}
	// A record wraps its payload in one object, so the line may be one
	// level deeper than the payload limit of SPEC §3.
	d.canon.MaxDepth = canonical.DefaultMaxDepth + 1
	return d
}

// Sealed decodes a line of a sealed stream or a bundle, without its
// newline. The line must be exactly what Arxi writes for its record: its
// canonical form (SPEC §3) and the record's normal form (timestamps with
// nine fractional digits, for example), so that one record has one byte
// form and the bytes read are the bytes that were hashed and signed;
// anything else is input.not_canonical. Any kind is returned, unsealed
// envelopes included (a reader refuses the kinds its grammar does not
// allow). The record's strings share memory with line, which must not
// change while the record is in use.
func (d *Decoder) Sealed(line []byte) (Record, error) {
	d.decoded = false
	if err := d.Canonical(line); err != nil {
		return nil, err
	}
	text := unsafe.String(unsafe.SliceData(line), len(line))
	o, err := d.object(text)
	if err != nil {
		return nil, err
	}
	rec, err := decodeObject(&o, d.lim)
	if err != nil {
		return nil, err
	}
	d.decoded = true
	if rec.Kind() != KindUnsealed && !normal(rec, &o) {
		return nil, errcode.New(errcode.InputNotCanonical, "record is not in its normal form (for example a timestamp without nine fractional digits)")
	}
	return rec, nil
}

// Canonical checks that line is exactly the canonical form of a JSON value
// (input.not_canonical otherwise, or the canonicaliser's error), as every
// line of a sealed stream or bundle must be, records or not.
func (d *Decoder) Canonical(line []byte) error {
	ok, err := d.canon.Check(line)
	d.ok = ok
	if err != nil {
		return err
	}
	if !ok {
		return errcode.New(errcode.InputNotCanonical, "line is not in RFC 8785 canonical form")
	}
	return nil
}

// WasCanonical reports whether the last line given to Sealed or Canonical
// passed the canonical check, so that a caller may look into a line whose
// record did not decode.
func (d *Decoder) WasCanonical() bool { return d.ok }

// Decoded reports whether the last line given to Sealed decoded as a
// record: when Sealed failed, it failed only the record's normal form.
func (d *Decoder) Decoded() bool { return d.decoded }

// Unsealed appends the canonical form of line, an unsealed envelope or
// attachment record in any strict JSON formatting, to dst, and decodes the
// record from it (any kind: the caller refuses what it does not take).
// The record's strings share memory with the returned slice.
func (d *Decoder) Unsealed(dst, line []byte) (Record, []byte, error) {
	out, err := d.canon.Append(dst, line)
	if err != nil {
		return nil, dst, err
	}
	canon := out[len(dst):]
	o, err := d.object(unsafe.String(unsafe.SliceData(canon), len(canon)))
	if err != nil {
		return nil, dst, err
	}
	rec, err := decodeObject(&o, d.lim)
	if err != nil {
		return nil, dst, err
	}
	return rec, out, nil
}

// object turns the canonical pass's member spans over text, the output of
// the last Append, into the record's top-level object.
func (d *Decoder) object(text string) (jsonobj.Object, error) {
	spans := d.canon.Members()
	if spans == nil {
		return jsonobj.Object{}, errcode.New(errcode.InputMalformedJSON, "a record must be a JSON object")
	}
	d.members = d.members[:0]
	for _, m := range spans {
		key := text[m.Quoted+1 : m.Start-2]
		if strings.IndexByte(key, '\\') >= 0 {
			key = string(m.Key)
		}
		d.members = append(d.members, jsonobj.Member{Key: key, Value: jsonobj.Value{Raw: text[m.Start:m.End]}})
	}
	return fields.Members(d.members), nil
}

// DecodeAttachments decodes the attachments array of an envelope from its
// canonical JSON text, as AppendAttachments writes it: references sorted by
// hash and content type, at most lim.AttachmentRefs of them.
func DecodeAttachments(text string, lim Limits) ([]AttachmentRef, error) {
	o := fields.Members([]jsonobj.Member{{Key: "attachments", Value: jsonobj.Value{Raw: text}}})
	return decodeRefs(&o, lim.WithDefaults())
}

// normal reports whether the sealed record decoded from o is in its normal
// form, given that its line is canonical. Canonical JSON settles every byte
// of a record's line but for the values one record can spell two ways:
// timestamps (0 to 9 fractional digits) and base64 (which tolerates line
// breaks); the normal form has nine digits and no breaks.
// FuzzSealedNormalForm checks that this is exactly AppendJCS(rec) == line.
func normal(rec Record, o *jsonobj.Object) bool {
	const quotedTime = scalar.TimestampTextLen + 2
	switch r := rec.(type) {
	case *Genesis:
		return len(o.Get("created_at").Raw) == quotedTime
	case *Seal:
		return len(o.Get("sealed_at").Raw) == quotedTime && (len(r.Signatures) == 0 || signaturesNormal(o, len(r.Signatures)))
	case *Attachment:
		return len(o.Get("data").Raw) == base64.StdEncoding.EncodedLen(len(r.Data))+2
	case *Envelope:
		return len(o.Get("claimed_at").Raw) == quotedTime && signaturesNormal(o, len(r.Signatures))
	}
	return true
}

// signaturesNormal reports whether o's signatures array, holding n
// signatures, has no line breaks in its base64: each signature is
// {"algorithm":"ed25519","key_id":"…","value":"…"}.
func signaturesNormal(o *jsonobj.Object, n int) bool {
	const sig = len(`{"algorithm":"ed25519","key_id":"","value":""},`) + 64 + 88
	return len(o.Get("signatures").Raw) == 2+n*sig-min(n, 1)
}

// decodeObject decodes the record whose top-level members are o.
func decodeObject(o *jsonobj.Object, lim Limits) (Record, error) {
	kind := KindUnsealed
	if r := o.Get("record"); r.Exists() {
		if r.Type() != jsonobj.String {
			return nil, o.Errorf("record", "must be a string")
		}
		k, ok := ParseKind(r.Str())
		if !ok {
			return nil, o.Errorf("record", "unknown record kind %s", strconv.Quote(r.Str()))
		}
		kind = k
	}
	switch kind {
	case KindUnsealed:
		return decodeUnsealed(o, lim)
	case KindAttachment:
		return decodeAttachment(o, lim)
	case KindGenesis:
		return decodeGenesis(o)
	case KindEnvelope:
		return decodeEnvelope(o, lim)
	case KindElided:
		return decodeElided(o)
	default:
		return decodeSeal(o)
	}
}

// optLabel decodes a Label that may be null or absent.
func optLabel(o *jsonobj.Object, key string) (scalar.Label, error) {
	if o.Get(key).IsNull() {
		return scalar.Label{}, nil
	}
	return o.Label(key)
}

// uintField decodes a non-negative integer ≤ 2^53.
func uintField(o *jsonobj.Object, key string) (uint64, error) { return o.Uint(key) }

func schemaVersion(o *jsonobj.Object) error {
	v := o.Get("schema_version")
	if !v.Exists() {
		return nil
	}
	if v.Type() != jsonobj.Number || v.Raw != "1" {
		return o.Errorf("schema_version", "must be 1, not %s", errcode.Abbrev(v.Raw, 40))
	}
	return nil
}

func decodeBase64(o *jsonobj.Object, key string, max int) ([]byte, error) {
	s, err := o.String(key)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, o.Errorf(key, "must not be empty")
	}
	tooLarge := "attachment exceeds " + strconv.Itoa(max) + " bytes"
	if base64.StdEncoding.DecodedLen(len(s)) > max+2 {
		return nil, o.Fail(errcode.InputTooLarge, key, tooLarge)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, o.Errorf(key, "is not standard padded base64")
	}
	if len(b) > max {
		return nil, o.Fail(errcode.InputTooLarge, key, tooLarge)
	}
	return b, nil
}

// The keys of each record, sorted, and the required ones: from the
// records' schemas (schema.go).
var (
	unsealedKeys     = UnsealedSchema.Keys()
	unsealedRequired = UnsealedSchema.Required()
	inlineKeys       = unsealedAttachmentSchema.Keys()
	attachmentKeys   = AttachmentSchema.Keys()
	envelopeKeys     = EnvelopeSchema.Keys()
	refKeys          = refSchema.Keys()
	signatureKeys    = signatureSchema.Keys()
	genesisKeys      = GenesisSchema.Keys()
	elidedKeys       = ElidedSchema.Keys()
	sealKeys         = SealSchema.Keys()
	sealRequired     = SealSchema.Required()
)

// decodeContent reads the content keys shared by unsealed and sealed
// envelopes (attachments excluded).
func decodeContent(o *jsonobj.Object, c *Content, lim Limits) error {
	var err error
	if err = schemaVersion(o); err != nil {
		return err
	}
	if c.EventType, err = o.Token("event_type"); err != nil {
		return err
	}
	if c.ActorID, err = o.Label("actor_id"); err != nil {
		return err
	}
	if c.EnvironmentID, err = o.Label("environment_id"); err != nil {
		return err
	}
	if c.AdapterID, err = o.Token("adapter_id"); err != nil {
		return err
	}
	if c.TraceID, err = optLabel(o, "trace_id"); err != nil {
		return err
	}
	if c.SessionID, err = optLabel(o, "session_id"); err != nil {
		return err
	}
	if c.ClaimedAt, err = o.Timestamp("claimed_at"); err != nil {
		return err
	}
	payload := o.Get("payload")
	if len(payload.Raw) > lim.Payload {
		return o.Fail(errcode.InputTooLarge, "payload", "canonical payload of "+strconv.Itoa(len(payload.Raw))+" bytes exceeds "+strconv.Itoa(lim.Payload))
	}
	c.Payload = payload.Raw
	return nil
}

func decodeUnsealed(o *jsonobj.Object, lim Limits) (*Unsealed, error) {
	if err := o.Only(unsealedKeys...); err != nil {
		return nil, err
	}
	if err := o.Require(unsealedRequired...); err != nil {
		return nil, err
	}
	u := &Unsealed{}
	if err := decodeContent(o, &u.Content, lim); err != nil {
		return nil, err
	}
	if r := o.Get("record"); r.Exists() && r.Str() != "unsealed" {
		return nil, o.Errorf("record", `must be "unsealed"`)
	}
	if !o.Get("envelope_id").IsNull() {
		var err error
		if u.EnvelopeID, err = o.UUID("envelope_id"); err != nil {
			return nil, err
		}
	}
	if o.Get("attachments").IsNull() {
		return u, nil
	}
	var refs []AttachmentRef
	var data [][]byte
	err := o.Objects("attachments", lim.AttachmentRefs, func(_ int, a *jsonobj.Object) error {
		ref, d, err := decodeUnsealedAttachment(a, lim)
		if err != nil {
			return err
		}
		refs, data = append(refs, ref), append(data, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	u.SetAttachments(refs, data)
	for j := 1; j < len(u.Attachments); j++ {
		if u.Attachments[j-1] == u.Attachments[j] {
			return nil, o.Errorf("attachments", "the same attachment is listed twice with the same content type")
		}
	}
	return u, nil
}

func decodeUnsealedAttachment(o *jsonobj.Object, lim Limits) (AttachmentRef, []byte, error) {
	var ref AttachmentRef
	if err := o.Only(inlineKeys...); err != nil {
		return ref, nil, err
	}
	if err := o.Require("content_type"); err != nil {
		return ref, nil, err
	}
	var err error
	if ref.ContentType, err = jsonobj.Scalar(o, "content_type", scalar.ParseContentType); err != nil {
		return ref, nil, err
	}
	if o.Has("data") {
		if o.Has("hash") || o.Has("size") {
			return ref, nil, o.Errorf("", "an inline attachment has content_type and data only")
		}
		b, err := decodeBase64(o, "data", lim.Attachment)
		if err != nil {
			return ref, nil, err
		}
		att := NewAttachment(b)
		ref.Hash, ref.Size = att.Hash, att.Size()
		return ref, b, nil
	}
	if err := o.Require("hash", "size"); err != nil {
		return ref, nil, err
	}
	if ref.Hash, ref.Size, err = hashSize(o, lim); err != nil {
		return ref, nil, err
	}
	return ref, nil, nil
}

func hashSize(o *jsonobj.Object, lim Limits) (scalar.Digest, int64, error) {
	h, err := o.Digest("hash")
	if err != nil {
		return h, 0, err
	}
	n, err := uintField(o, "size")
	if err != nil {
		return h, 0, err
	}
	if n == 0 {
		return h, 0, o.Errorf("size", "must be at least 1")
	}
	if n > uint64(lim.Attachment) {
		return h, 0, o.Fail(errcode.InputTooLarge, "size", "attachment exceeds "+strconv.Itoa(lim.Attachment)+" bytes")
	}
	return h, int64(n), nil
}

// decodeAttachment reads an attachment record. It checks the format of hash
// and size but not that they match the data: see Attachment.Verify.
func decodeAttachment(o *jsonobj.Object, lim Limits) (*Attachment, error) {
	if err := o.Only(attachmentKeys...); err != nil {
		return nil, err
	}
	if err := o.Require(attachmentKeys...); err != nil {
		return nil, err
	}
	data, err := decodeBase64(o, "data", lim.Attachment)
	if err != nil {
		return nil, err
	}
	h, n, err := hashSize(o, lim)
	if err != nil {
		return nil, err
	}
	if n != int64(len(data)) {
		return nil, o.Errorf("size", "is %d but data holds %d bytes", n, len(data))
	}
	return &Attachment{Hash: h, Data: data}, nil
}

func decodeEnvelope(o *jsonobj.Object, lim Limits) (*Envelope, error) {
	if err := o.Only(envelopeKeys...); err != nil {
		return nil, err
	}
	if err := o.Require(envelopeKeys...); err != nil {
		return nil, err
	}
	e := &Envelope{}
	if err := decodeContent(o, &e.Content, lim); err != nil {
		return nil, err
	}
	var err error
	if e.EnvelopeID, err = o.UUID("envelope_id"); err != nil {
		return nil, err
	}
	if e.SegmentID, err = o.UUID("segment_id"); err != nil {
		return nil, err
	}
	if e.Sequence, err = sequence(o); err != nil {
		return nil, err
	}
	if e.ContentHash, err = o.Digest("content_hash"); err != nil {
		return nil, err
	}
	if e.ChainHash, err = o.Digest("chain_hash"); err != nil {
		return nil, err
	}
	if e.Attachments, err = decodeRefs(o, lim); err != nil {
		return nil, err
	}
	if e.Signatures, err = decodeSignatures(o); err != nil {
		return nil, err
	}
	return e, nil
}

func sequence(o *jsonobj.Object) (uint64, error) {
	n, err := uintField(o, "sequence")
	if err == nil && n == 0 {
		err = o.Errorf("sequence", "must be at least 1")
	}
	return n, err
}

func decodeRefs(o *jsonobj.Object, lim Limits) ([]AttachmentRef, error) {
	var refs []AttachmentRef
	err := o.Objects("attachments", lim.AttachmentRefs, func(i int, a *jsonobj.Object) error {
		if err := a.Only(refKeys...); err != nil {
			return err
		}
		if err := a.Require(refKeys...); err != nil {
			return err
		}
		var r AttachmentRef
		var err error
		if r.ContentType, err = jsonobj.Scalar(a, "content_type", scalar.ParseContentType); err != nil {
			return err
		}
		if r.Hash, r.Size, err = hashSize(a, lim); err != nil {
			return err
		}
		if i > 0 && compareRefs(refs[i-1], r) >= 0 {
			return a.Errorf("", "attachments must be sorted by hash and content type, without repeats")
		}
		refs = append(refs, r)
		return nil
	})
	return refs, err
}

// MaxSignatures bounds the signatures of an envelope or a seal.
const MaxSignatures = 256

func decodeSignatures(o *jsonobj.Object) ([]Signature, error) {
	var sigs []Signature
	err := o.Objects("signatures", MaxSignatures, func(i int, s *jsonobj.Object) error {
		sig, err := decodeSignature(s)
		if err != nil {
			return err
		}
		if i > 0 && sigs[i-1].KeyID.Compare(sig.KeyID) >= 0 {
			return s.Errorf("key_id", "signatures must be sorted by key_id, one per key")
		}
		sigs = append(sigs, sig)
		return nil
	})
	return sigs, err
}

func decodeSignature(o *jsonobj.Object) (Signature, error) {
	var sig Signature
	if err := o.Only(signatureKeys...); err != nil {
		return sig, err
	}
	if err := o.Require(signatureKeys...); err != nil {
		return sig, err
	}
	if o.Get("algorithm").Str() != SignatureAlgorithm {
		return sig, o.Errorf("algorithm", `must be "ed25519"`)
	}
	var err error
	if sig.KeyID, err = o.KeyID("key_id"); err != nil {
		return sig, err
	}
	s, err := o.String("value")
	if err != nil {
		return sig, err
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(sig.Value) {
		return sig, o.Errorf("value", "must be a base64 64-byte Ed25519 signature")
	}
	copy(sig.Value[:], b)
	return sig, nil
}

// decodeGenesis reads a genesis record. It does not recompute genesis_hash.
func decodeGenesis(o *jsonobj.Object) (*Genesis, error) {
	if err := o.Only(genesisKeys...); err != nil {
		return nil, err
	}
	if err := o.Require(genesisKeys...); err != nil {
		return nil, err
	}
	if err := schemaVersion(o); err != nil {
		return nil, err
	}
	if o.Get("hash_algorithm").Str() != HashAlgorithm {
		return nil, o.Errorf("hash_algorithm", `must be "sha256"`)
	}
	g := &Genesis{}
	var err error
	if g.SegmentID, err = o.UUID("segment_id"); err != nil {
		return nil, err
	}
	if g.RecorderID, err = o.Label("recorder_id"); err != nil {
		return nil, err
	}
	if g.CreatedAt, err = o.Timestamp("created_at"); err != nil {
		return nil, err
	}
	if g.GenesisHash, err = o.Digest("genesis_hash"); err != nil {
		return nil, err
	}
	psNull, phNull := o.Get("predecessor_segment_id").Type() == jsonobj.Null, o.Get("predecessor_chain_head").Type() == jsonobj.Null
	switch {
	case psNull && phNull:
	case psNull || phNull:
		return nil, o.Errorf("predecessor_segment_id", "predecessor_segment_id and predecessor_chain_head must both be set or both be null")
	default:
		link := &Link{}
		if link.SegmentID, err = o.UUID("predecessor_segment_id"); err != nil {
			return nil, err
		}
		if link.ChainHead, err = o.Digest("predecessor_chain_head"); err != nil {
			return nil, err
		}
		g.Predecessor = link
	}
	return g, nil
}

func decodeElided(o *jsonobj.Object) (*Elided, error) {
	if err := o.Only(elidedKeys...); err != nil {
		return nil, err
	}
	if err := o.Require(elidedKeys...); err != nil {
		return nil, err
	}
	e := &Elided{}
	var err error
	if e.SegmentID, err = o.UUID("segment_id"); err != nil {
		return nil, err
	}
	if e.Sequence, err = sequence(o); err != nil {
		return nil, err
	}
	if e.ContentHash, err = o.Digest("content_hash"); err != nil {
		return nil, err
	}
	if e.ChainHash, err = o.Digest("chain_hash"); err != nil {
		return nil, err
	}
	return e, nil
}

func decodeSeal(o *jsonobj.Object) (*Seal, error) {
	if err := o.Only(sealKeys...); err != nil {
		return nil, err
	}
	if err := o.Require(sealRequired...); err != nil {
		return nil, err
	}
	s := &Seal{}
	var err error
	if s.SegmentID, err = o.UUID("segment_id"); err != nil {
		return nil, err
	}
	if s.EnvelopeCount, err = uintField(o, "envelope_count"); err != nil {
		return nil, err
	}
	if s.HeadChainHash, err = o.Digest("head_chain_hash"); err != nil {
		return nil, err
	}
	if s.MerkleRoot, err = o.Digest("merkle_root"); err != nil {
		return nil, err
	}
	if s.Reason, err = jsonobj.Scalar(o, "reason", ParseSealReason); err != nil {
		return nil, err
	}
	if s.SealedAt, err = o.Timestamp("sealed_at"); err != nil {
		return nil, err
	}
	if o.Has("signatures") {
		if s.Signatures, err = decodeSignatures(o); err != nil {
			return nil, err
		}
		if len(s.Signatures) == 0 {
			return nil, o.Errorf("signatures", "an unsigned seal has no signatures key; an empty list is not its normal form")
		}
	}
	return s, nil
}

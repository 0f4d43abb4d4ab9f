package evidence

import (
	"bytes"
	"encoding/base64"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"github.com/tidwall/gjson"
)

// Decode decodes one record from its canonical JSON text (the output of
// canonical.Append over the line, so syntax, duplicates, UTF-8 and depth are
// already settled). The "record" key selects the kind; an object without one
// is an unsealed envelope. Strings in the result share memory with line.
func Decode(line string, lim Limits) (Record, error) {
	root := gjson.Parse(line)
	if !root.IsObject() {
		return nil, errcode.New(errcode.InputMalformedJSON, "a record must be a JSON object")
	}
	// One pass over the members: the kind is only known once "record" is
	// seen, and it sorts after the payload.
	var buf [24]member
	ms := buf[:0]
	root.ForEach(func(k, v gjson.Result) bool {
		ms = append(ms, member{k.Str, v})
		return true
	})
	kind := KindUnsealed
	for _, m := range ms {
		if m.key != "record" {
			continue
		}
		if m.val.Type != gjson.String {
			return nil, fieldErr(errcode.InputFieldInvalid, "record", "must be a string")
		}
		k, ok := ParseKind(m.val.Str)
		if !ok {
			return nil, fieldErr(errcode.InputFieldInvalid, "record", "unknown record kind "+strconv.Quote(m.val.Str))
		}
		kind = k
		break
	}
	switch kind {
	case KindUnsealed:
		return decodeUnsealed(ms, lim)
	case KindAttachment:
		return decodeAttachment(ms, lim)
	case KindGenesis:
		return decodeGenesis(ms)
	case KindEnvelope:
		return decodeEnvelope(ms, lim)
	case KindElided:
		return decodeElided(ms)
	default:
		return decodeSeal(ms)
	}
}

// member is one key and value of a JSON object.
type member struct {
	key string
	val gjson.Result
}

// fields collects an object's members against a fixed key list, rejecting
// unknown keys and reporting missing ones.
type fields struct {
	names []string
	vals  []gjson.Result
}

// set records the value of key, or fails if key is not one of the names.
func (f fields) set(key string, v gjson.Result) error {
	for i, n := range f.names {
		if n == key {
			f.vals[i] = v
			return nil
		}
	}
	return fieldErr(errcode.InputUnknownField, key, "unknown field")
}

// collect reads the members of the object v.
func collect(v gjson.Result, names []string, vals []gjson.Result) (fields, error) {
	f := fields{names: names, vals: vals}
	var err error
	v.ForEach(func(k, v gjson.Result) bool {
		err = f.set(k.Str, v)
		return err == nil
	})
	return f, err
}

// collectMembers is collect over members already read.
func collectMembers(ms []member, names []string, vals []gjson.Result) (fields, error) {
	f := fields{names: names, vals: vals}
	for _, m := range ms {
		if err := f.set(m.key, m.val); err != nil {
			return f, err
		}
	}
	return f, nil
}

// require fails on the first absent key among names.
func (f fields) require(names ...string) error {
	for _, n := range names {
		if !f.get(n).Exists() {
			return fieldErr(errcode.InputMissingField, n, "required field is missing")
		}
	}
	return nil
}

func (f fields) get(name string) gjson.Result {
	for i, n := range f.names {
		if n == name {
			return f.vals[i]
		}
	}
	return gjson.Result{}
}

func fieldErr(code errcode.Code, field, msg string) error {
	return &errcode.Error{Code: code, Field: field, Msg: msg}
}

func str(v gjson.Result, field string) (string, error) {
	if v.Type != gjson.String {
		return "", fieldErr(errcode.InputFieldInvalid, field, "must be a string")
	}
	return v.Str, nil
}

func parseField[T any](v gjson.Result, field string, parse func(string) (T, error)) (T, error) {
	var zero T
	s, err := str(v, field)
	if err != nil {
		return zero, err
	}
	t, err := parse(s)
	if err != nil {
		return zero, errcode.InField(err, field)
	}
	return t, nil
}

// optLabel decodes a Label that may be null or absent.
func optLabel(v gjson.Result, field string) (scalar.Label, error) {
	if !v.Exists() || v.Type == gjson.Null {
		return scalar.Label{}, nil
	}
	return parseField(v, field, scalar.ParseLabel)
}

// uintField decodes a non-negative integer ≤ 2^53.
func uintField(v gjson.Result, field string) (uint64, error) {
	if v.Type != gjson.Number {
		return 0, fieldErr(errcode.InputFieldInvalid, field, "must be a number")
	}
	n, err := strconv.ParseUint(v.Raw, 10, 64)
	if err != nil {
		return 0, fieldErr(errcode.InputFieldInvalid, field, "must be a non-negative integer, not "+v.Raw)
	}
	return n, nil
}

func schemaVersion(v gjson.Result) error {
	if !v.Exists() {
		return nil
	}
	if v.Type != gjson.Number || v.Raw != "1" {
		return fieldErr(errcode.InputFieldInvalid, "schema_version", "must be 1, not "+abbrev(v.Raw))
	}
	return nil
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func decodeBase64(v gjson.Result, field string, max int) ([]byte, error) {
	s, err := str(v, field)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, fieldErr(errcode.InputFieldInvalid, field, "must not be empty")
	}
	if base64.StdEncoding.DecodedLen(len(s)) > max+2 {
		return nil, fieldErr(errcode.InputTooLarge, field, "attachment exceeds "+strconv.Itoa(max)+" bytes")
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fieldErr(errcode.InputFieldInvalid, field, "is not standard padded base64")
	}
	if len(b) > max {
		return nil, fieldErr(errcode.InputTooLarge, field, "attachment exceeds "+strconv.Itoa(max)+" bytes")
	}
	return b, nil
}

// contentKeys are the content view's keys; the order here is the index
// order of the decoders below.
var unsealedKeys = []string{"actor_id", "adapter_id", "attachments", "claimed_at", "envelope_id",
	"environment_id", "event_type", "payload", "record", "schema_version", "session_id", "trace_id"}

// decodeContent reads the content keys shared by unsealed and sealed
// envelopes (attachments excluded).
func decodeContent(f fields, c *Content, lim Limits) error {
	var err error
	if err = schemaVersion(f.get("schema_version")); err != nil {
		return err
	}
	if c.EventType, err = parseField(f.get("event_type"), "event_type", scalar.ParseToken); err != nil {
		return err
	}
	if c.ActorID, err = parseField(f.get("actor_id"), "actor_id", scalar.ParseLabel); err != nil {
		return err
	}
	if c.EnvironmentID, err = parseField(f.get("environment_id"), "environment_id", scalar.ParseLabel); err != nil {
		return err
	}
	if c.AdapterID, err = parseField(f.get("adapter_id"), "adapter_id", scalar.ParseToken); err != nil {
		return err
	}
	if c.TraceID, err = optLabel(f.get("trace_id"), "trace_id"); err != nil {
		return err
	}
	if c.SessionID, err = optLabel(f.get("session_id"), "session_id"); err != nil {
		return err
	}
	if c.ClaimedAt, err = parseField(f.get("claimed_at"), "claimed_at", scalar.ParseTimestamp); err != nil {
		return err
	}
	payload := f.get("payload")
	if len(payload.Raw) > lim.Payload {
		return fieldErr(errcode.InputTooLarge, "payload", "canonical payload of "+strconv.Itoa(len(payload.Raw))+" bytes exceeds "+strconv.Itoa(lim.Payload))
	}
	c.Payload = payload.Raw
	return nil
}

func decodeUnsealed(ms []member, lim Limits) (*Unsealed, error) {
	f, err := collectMembers(ms, unsealedKeys, make([]gjson.Result, len(unsealedKeys)))
	if err != nil {
		return nil, err
	}
	if err := f.require("event_type", "actor_id", "environment_id", "adapter_id", "claimed_at", "payload"); err != nil {
		return nil, err
	}
	u := &Unsealed{}
	if err := decodeContent(f, &u.Content, lim); err != nil {
		return nil, err
	}
	if r := f.get("record"); r.Exists() && r.Str != "unsealed" {
		return nil, fieldErr(errcode.InputFieldInvalid, "record", "must be \"unsealed\"")
	}
	if v := f.get("envelope_id"); v.Exists() && v.Type != gjson.Null {
		if u.EnvelopeID, err = parseField(v, "envelope_id", scalar.ParseUUID); err != nil {
			return nil, err
		}
	}
	atts := f.get("attachments")
	if !atts.Exists() || atts.Type == gjson.Null {
		return u, nil
	}
	if !atts.IsArray() {
		return nil, fieldErr(errcode.InputFieldInvalid, "attachments", "must be an array")
	}
	var refs []AttachmentRef
	var data [][]byte
	var ferr error
	i := 0
	atts.ForEach(func(_, v gjson.Result) bool {
		if i >= lim.AttachmentRefs {
			ferr = fieldErr(errcode.InputTooLarge, "attachments", "more than "+strconv.Itoa(lim.AttachmentRefs)+" attachments")
			return false
		}
		ref, d, err := decodeUnsealedAttachment(v, lim)
		if err != nil {
			ferr = errcode.InField(err, "attachments["+strconv.Itoa(i)+"]")
			return false
		}
		refs, data = append(refs, ref), append(data, d)
		i++
		return true
	})
	if ferr != nil {
		return nil, ferr
	}
	u.SetAttachments(refs, data)
	for j := 1; j < len(u.Attachments); j++ {
		if u.Attachments[j-1] == u.Attachments[j] {
			return nil, fieldErr(errcode.InputFieldInvalid, "attachments", "the same attachment is listed twice with the same content type")
		}
	}
	return u, nil
}

var inlineKeys = []string{"content_type", "data", "hash", "size"}

func decodeUnsealedAttachment(v gjson.Result, lim Limits) (AttachmentRef, []byte, error) {
	var ref AttachmentRef
	if !v.IsObject() {
		return ref, nil, fieldErr(errcode.InputFieldInvalid, "", "must be an object")
	}
	f, err := collect(v, inlineKeys, make([]gjson.Result, len(inlineKeys)))
	if err != nil {
		return ref, nil, err
	}
	if err := f.require("content_type"); err != nil {
		return ref, nil, err
	}
	if ref.ContentType, err = parseField(f.get("content_type"), "content_type", scalar.ParseContentType); err != nil {
		return ref, nil, err
	}
	if d := f.get("data"); d.Exists() {
		if f.get("hash").Exists() || f.get("size").Exists() {
			return ref, nil, fieldErr(errcode.InputFieldInvalid, "", "an inline attachment has content_type and data only")
		}
		b, err := decodeBase64(d, "data", lim.Attachment)
		if err != nil {
			return ref, nil, err
		}
		att := NewAttachment(b)
		ref.Hash, ref.Size = att.Hash, att.Size()
		return ref, b, nil
	}
	if err := f.require("hash", "size"); err != nil {
		return ref, nil, err
	}
	if ref.Hash, ref.Size, err = hashSize(f, lim); err != nil {
		return ref, nil, err
	}
	return ref, nil, nil
}

func hashSize(f fields, lim Limits) (scalar.Digest, int64, error) {
	h, err := parseField(f.get("hash"), "hash", scalar.ParseDigest)
	if err != nil {
		return h, 0, err
	}
	n, err := uintField(f.get("size"), "size")
	if err != nil {
		return h, 0, err
	}
	if n == 0 {
		return h, 0, fieldErr(errcode.InputFieldInvalid, "size", "must be at least 1")
	}
	if n > uint64(lim.Attachment) {
		return h, 0, fieldErr(errcode.InputTooLarge, "size", "attachment exceeds "+strconv.Itoa(lim.Attachment)+" bytes")
	}
	return h, int64(n), nil
}

var attachmentKeys = []string{"data", "hash", "record", "size"}

// decodeAttachment reads an attachment record. It checks the format of hash
// and size but not that they match the data: see Attachment.Verify.
func decodeAttachment(ms []member, lim Limits) (*Attachment, error) {
	f, err := collectMembers(ms, attachmentKeys, make([]gjson.Result, len(attachmentKeys)))
	if err != nil {
		return nil, err
	}
	if err := f.require("data", "hash", "size"); err != nil {
		return nil, err
	}
	data, err := decodeBase64(f.get("data"), "data", lim.Attachment)
	if err != nil {
		return nil, err
	}
	h, n, err := hashSize(f, lim)
	if err != nil {
		return nil, err
	}
	if n != int64(len(data)) {
		return nil, fieldErr(errcode.InputFieldInvalid, "size", "is "+strconv.FormatInt(n, 10)+" but data holds "+strconv.Itoa(len(data))+" bytes")
	}
	return &Attachment{Hash: h, Data: data}, nil
}

var envelopeKeys = []string{"actor_id", "adapter_id", "attachments", "chain_hash", "claimed_at", "content_hash",
	"envelope_id", "environment_id", "event_type", "payload", "record", "schema_version", "segment_id",
	"sequence", "session_id", "signatures", "trace_id"}

func decodeEnvelope(ms []member, lim Limits) (*Envelope, error) {
	f, err := collectMembers(ms, envelopeKeys, make([]gjson.Result, len(envelopeKeys)))
	if err != nil {
		return nil, err
	}
	if err := f.require(envelopeKeys...); err != nil {
		return nil, err
	}
	e := &Envelope{}
	if err := decodeContent(f, &e.Content, lim); err != nil {
		return nil, err
	}
	if e.EnvelopeID, err = parseField(f.get("envelope_id"), "envelope_id", scalar.ParseUUID); err != nil {
		return nil, err
	}
	if e.SegmentID, err = parseField(f.get("segment_id"), "segment_id", scalar.ParseUUID); err != nil {
		return nil, err
	}
	if e.Sequence, err = sequence(f.get("sequence")); err != nil {
		return nil, err
	}
	if e.ContentHash, err = parseField(f.get("content_hash"), "content_hash", scalar.ParseDigest); err != nil {
		return nil, err
	}
	if e.ChainHash, err = parseField(f.get("chain_hash"), "chain_hash", scalar.ParseDigest); err != nil {
		return nil, err
	}
	if e.Attachments, err = decodeRefs(f.get("attachments"), lim); err != nil {
		return nil, err
	}
	if e.Signatures, err = decodeSignatures(f.get("signatures")); err != nil {
		return nil, err
	}
	return e, nil
}

func sequence(v gjson.Result) (uint64, error) {
	n, err := uintField(v, "sequence")
	if err == nil && n == 0 {
		err = fieldErr(errcode.InputFieldInvalid, "sequence", "must be at least 1")
	}
	return n, err
}

var refKeys = []string{"content_type", "hash", "size"}

func decodeRefs(v gjson.Result, lim Limits) ([]AttachmentRef, error) {
	if !v.IsArray() {
		return nil, fieldErr(errcode.InputFieldInvalid, "attachments", "must be an array")
	}
	var refs []AttachmentRef
	var ferr error
	v.ForEach(func(_, a gjson.Result) bool {
		at := "attachments[" + strconv.Itoa(len(refs)) + "]"
		if len(refs) >= lim.AttachmentRefs {
			ferr = fieldErr(errcode.InputTooLarge, "attachments", "more than "+strconv.Itoa(lim.AttachmentRefs)+" attachments")
			return false
		}
		if !a.IsObject() {
			ferr = fieldErr(errcode.InputFieldInvalid, at, "must be an object")
			return false
		}
		f, err := collect(a, refKeys, make([]gjson.Result, len(refKeys)))
		if err == nil {
			err = f.require(refKeys...)
		}
		var r AttachmentRef
		if err == nil {
			r.ContentType, err = parseField(f.get("content_type"), "content_type", scalar.ParseContentType)
		}
		if err == nil {
			r.Hash, r.Size, err = hashSize(f, lim)
		}
		if err == nil && len(refs) > 0 && compareRefs(refs[len(refs)-1], r) >= 0 {
			err = fieldErr(errcode.InputFieldInvalid, "", "attachments must be sorted by hash and content type, without repeats")
		}
		if err != nil {
			ferr = errcode.InField(err, at)
			return false
		}
		refs = append(refs, r)
		return true
	})
	return refs, ferr
}

var signatureKeys = []string{"algorithm", "key_id", "value"}

func decodeSignatures(v gjson.Result) ([]Signature, error) {
	if !v.IsArray() {
		return nil, fieldErr(errcode.InputFieldInvalid, "signatures", "must be an array")
	}
	var sigs []Signature
	var ferr error
	v.ForEach(func(_, s gjson.Result) bool {
		at := "signatures[" + strconv.Itoa(len(sigs)) + "]"
		if len(sigs) >= 256 {
			ferr = fieldErr(errcode.InputTooLarge, "signatures", "more than 256 signatures")
			return false
		}
		sig, err := decodeSignature(s)
		if err == nil && len(sigs) > 0 && bytes.Compare(sigs[len(sigs)-1].KeyID[:], sig.KeyID[:]) >= 0 {
			err = fieldErr(errcode.InputFieldInvalid, "key_id", "signatures must be sorted by key_id, one per key")
		}
		if err != nil {
			ferr = errcode.InField(err, at)
			return false
		}
		sigs = append(sigs, sig)
		return true
	})
	return sigs, ferr
}

func decodeSignature(v gjson.Result) (Signature, error) {
	var sig Signature
	if !v.IsObject() {
		return sig, fieldErr(errcode.InputFieldInvalid, "", "must be an object")
	}
	f, err := collect(v, signatureKeys, make([]gjson.Result, len(signatureKeys)))
	if err != nil {
		return sig, err
	}
	if err := f.require(signatureKeys...); err != nil {
		return sig, err
	}
	if a, _ := str(f.get("algorithm"), "algorithm"); a != SignatureAlgorithm {
		return sig, fieldErr(errcode.InputFieldInvalid, "algorithm", "must be \"ed25519\"")
	}
	if sig.KeyID, err = parseField(f.get("key_id"), "key_id", scalar.ParseKeyID); err != nil {
		return sig, err
	}
	s, err := str(f.get("value"), "value")
	if err != nil {
		return sig, err
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(sig.Value) {
		return sig, fieldErr(errcode.InputFieldInvalid, "value", "must be a base64 64-byte Ed25519 signature")
	}
	copy(sig.Value[:], b)
	return sig, nil
}

var genesisKeys = []string{"created_at", "genesis_hash", "hash_algorithm", "predecessor_chain_head",
	"predecessor_segment_id", "record", "recorder_id", "schema_version", "segment_id"}

// decodeGenesis reads a genesis record. It does not recompute genesis_hash.
func decodeGenesis(ms []member) (*Genesis, error) {
	f, err := collectMembers(ms, genesisKeys, make([]gjson.Result, len(genesisKeys)))
	if err != nil {
		return nil, err
	}
	if err := f.require(genesisKeys...); err != nil {
		return nil, err
	}
	if err := schemaVersion(f.get("schema_version")); err != nil {
		return nil, err
	}
	if a, _ := str(f.get("hash_algorithm"), "hash_algorithm"); a != HashAlgorithm {
		return nil, fieldErr(errcode.InputFieldInvalid, "hash_algorithm", "must be \"sha256\"")
	}
	g := &Genesis{}
	if g.SegmentID, err = parseField(f.get("segment_id"), "segment_id", scalar.ParseUUID); err != nil {
		return nil, err
	}
	if g.RecorderID, err = parseField(f.get("recorder_id"), "recorder_id", scalar.ParseLabel); err != nil {
		return nil, err
	}
	if g.CreatedAt, err = parseField(f.get("created_at"), "created_at", scalar.ParseTimestamp); err != nil {
		return nil, err
	}
	if g.GenesisHash, err = parseField(f.get("genesis_hash"), "genesis_hash", scalar.ParseDigest); err != nil {
		return nil, err
	}
	ps, ph := f.get("predecessor_segment_id"), f.get("predecessor_chain_head")
	switch {
	case ps.Type == gjson.Null && ph.Type == gjson.Null:
	case ps.Type == gjson.Null || ph.Type == gjson.Null:
		return nil, fieldErr(errcode.InputFieldInvalid, "predecessor_segment_id", "predecessor_segment_id and predecessor_chain_head must both be set or both be null")
	default:
		link := &Link{}
		if link.SegmentID, err = parseField(ps, "predecessor_segment_id", scalar.ParseUUID); err != nil {
			return nil, err
		}
		if link.ChainHead, err = parseField(ph, "predecessor_chain_head", scalar.ParseDigest); err != nil {
			return nil, err
		}
		g.Predecessor = link
	}
	return g, nil
}

var elidedKeys = []string{"chain_hash", "content_hash", "record", "segment_id", "sequence"}

func decodeElided(ms []member) (*Elided, error) {
	f, err := collectMembers(ms, elidedKeys, make([]gjson.Result, len(elidedKeys)))
	if err != nil {
		return nil, err
	}
	if err := f.require(elidedKeys...); err != nil {
		return nil, err
	}
	e := &Elided{}
	if e.SegmentID, err = parseField(f.get("segment_id"), "segment_id", scalar.ParseUUID); err != nil {
		return nil, err
	}
	if e.Sequence, err = sequence(f.get("sequence")); err != nil {
		return nil, err
	}
	if e.ContentHash, err = parseField(f.get("content_hash"), "content_hash", scalar.ParseDigest); err != nil {
		return nil, err
	}
	if e.ChainHash, err = parseField(f.get("chain_hash"), "chain_hash", scalar.ParseDigest); err != nil {
		return nil, err
	}
	return e, nil
}

var sealKeys = []string{"envelope_count", "head_chain_hash", "merkle_root", "reason", "record", "sealed_at", "segment_id"}

func decodeSeal(ms []member) (*Seal, error) {
	f, err := collectMembers(ms, sealKeys, make([]gjson.Result, len(sealKeys)))
	if err != nil {
		return nil, err
	}
	if err := f.require(sealKeys...); err != nil {
		return nil, err
	}
	s := &Seal{}
	if s.SegmentID, err = parseField(f.get("segment_id"), "segment_id", scalar.ParseUUID); err != nil {
		return nil, err
	}
	if s.EnvelopeCount, err = uintField(f.get("envelope_count"), "envelope_count"); err != nil {
		return nil, err
	}
	if s.HeadChainHash, err = parseField(f.get("head_chain_hash"), "head_chain_hash", scalar.ParseDigest); err != nil {
		return nil, err
	}
	if s.MerkleRoot, err = parseField(f.get("merkle_root"), "merkle_root", scalar.ParseDigest); err != nil {
		return nil, err
	}
	if s.Reason, err = parseField(f.get("reason"), "reason", ParseSealReason); err != nil {
		return nil, err
	}
	if s.SealedAt, err = parseField(f.get("sealed_at"), "sealed_at", scalar.ParseTimestamp); err != nil {
		return nil, err
	}
	return s, nil
}

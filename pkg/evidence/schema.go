package evidence

import (
	"arxi.dev/arxi/pkg/schema"
)

// The records' shapes (SPEC §4): the one declaration of each record's
// keys, which its decoder reads (decode.go) and the contract renders as
// JSON Schema (docs/generated/schemas). Keys are declared in the order
// the decoder reports a missing one.

// SealReasons are the seal reasons of SPEC §4.6, in their order there.
var SealReasons = []SealReason{SealManual, SealAutoCount, SealAutoDuration, SealEndOfStream, SealShutdown, SealKeyRotation}

var (
	signatureSchema = schema.Obj(
		schema.Req("algorithm", schema.Const(SignatureAlgorithm)),
		schema.Req("key_id", schema.KeyID()),
		schema.Req("value", schema.Base64(64).Doc("standard base64 of the 64-byte Ed25519 signature")),
	).Named("signature", "Signature", "An Ed25519 signature by the key key_id (SPEC §4.4, §11).")

	refSchema = schema.Obj(
		schema.Req("content_type", schema.ContentType()),
		schema.Req("hash", schema.Digest()),
		schema.Req("size", schema.Int(1, int64(DefaultLimits.Attachment))),
	).Named("attachment_ref", "Attachment reference", "A reference to an attachment blob (SPEC §4.2) by its hash and size; size is at most the attachment limit (SPEC §16).")

	// InlineAttachmentSchema is an attachment given inline.
	InlineAttachmentSchema = schema.Obj(
		schema.Req("content_type", schema.ContentType()),
		schema.Req("data", schema.Base64Data(DefaultLimits.Attachment).Doc("standard padded base64 of 1 byte to the attachment limit")),
	).Named("inline_attachment", "Inline attachment", "An attachment given inline in an unsealed envelope (SPEC §4.1).")

	unsealedAttachmentSchema = schema.OneOf(InlineAttachmentSchema, refSchema)
)

// contentFields are the content keys of unsealed and sealed envelopes
// (SPEC §4.1), attachments aside; required says which the unsealed form
// requires.
func contentFields(sealed bool) []schema.Field {
	opt := schema.Opt
	if sealed {
		opt = schema.Req
	}
	return []schema.Field{
		schema.Req("event_type", schema.Token()),
		schema.Req("actor_id", schema.Label()),
		schema.Req("environment_id", schema.Label()),
		schema.Req("adapter_id", schema.Token()),
		opt("trace_id", schema.Label().OrNull()),
		opt("session_id", schema.Label().OrNull()),
		schema.Req("claimed_at", schema.Timestamp()),
		schema.Req("payload", schema.AnyValue().Doc("any JSON value, null included; at most 4 MiB canonical (SPEC §16)")),
		opt("schema_version", schema.Const(version)),
	}
}

func maxRefs() int { return DefaultLimits.AttachmentRefs }

// The record schemas.
var (
	UnsealedSchema = schema.Obj(append(contentFields(false),
		schema.Opt("record", schema.Const(KindUnsealed.String())),
		schema.Opt("envelope_id", schema.UUID().OrNull().Doc("derived when absent (SPEC §5.6)")),
		schema.Opt("attachments", schema.List(unsealedAttachmentSchema, 0, maxRefs()).Unique().OrNull()),
	)...).Named("unsealed", "Unsealed envelope", "An event to be sealed: the input of arxi-seal and of the sidecar's envelope routes (SPEC §4.1).")

	AttachmentSchema = schema.Obj(
		schema.Req("data", schema.Base64Data(DefaultLimits.Attachment)),
		schema.Req("hash", schema.Digest().Doc("SHA-256 of the decoded data")),
		schema.Req("size", schema.Int(1, int64(DefaultLimits.Attachment)).Doc("the decoded data's length in bytes")),
		schema.Req("record", schema.Const(KindAttachment.String())),
	).Named("attachment", "Attachment", "A content-addressed blob (SPEC §4.2).")

	GenesisSchema = schema.Obj(
		schema.Req("created_at", schema.Timestamp()),
		schema.Req("genesis_hash", schema.Digest()),
		schema.Req("hash_algorithm", schema.Const(HashAlgorithm)),
		schema.Req("predecessor_chain_head", schema.Digest().OrNull()),
		schema.Req("predecessor_segment_id", schema.UUID().OrNull()),
		schema.Req("record", schema.Const(KindGenesis.String())),
		schema.Req("recorder_id", schema.Label()),
		schema.Req("schema_version", schema.Const(version)),
		schema.Req("segment_id", schema.UUID()),
	).With(schema.BothOrNeither("predecessor_segment_id", "predecessor_chain_head")).
		Named("genesis", "Genesis", "Opens a segment; the predecessor keys are both set or both null (SPEC §4.3).")

	EnvelopeSchema = schema.Obj(append(contentFields(true),
		schema.Req("record", schema.Const(KindEnvelope.String())),
		schema.Req("envelope_id", schema.UUID()),
		schema.Req("segment_id", schema.UUID()),
		schema.Req("sequence", schema.Int(1, schema.MaxSafeInteger)),
		schema.Req("content_hash", schema.Digest()),
		schema.Req("chain_hash", schema.Digest()),
		schema.Req("attachments", schema.List(refSchema, 0, maxRefs()).Unique().Doc("sorted by hash, then content type, without repeats")),
		schema.Req("signatures", schema.List(signatureSchema, 0, MaxSignatures).Unique().Doc("sorted by key_id, one per key")),
	)...).Named("envelope", "Sealed envelope", "A sealed event: its content, position, hashes and signatures (SPEC §4.4).")

	ElidedSchema = schema.Obj(
		schema.Req("chain_hash", schema.Digest()),
		schema.Req("content_hash", schema.Digest()),
		schema.Req("record", schema.Const(KindElided.String())),
		schema.Req("segment_id", schema.UUID()),
		schema.Req("sequence", schema.Int(1, schema.MaxSafeInteger)),
	).Named("elided", "Elided envelope", "Stands in a bundle for an envelope the selector did not disclose (SPEC §4.5).")

	SealSchema = schema.Obj(
		schema.Req("envelope_count", schema.Int(0, schema.MaxSafeInteger)),
		schema.Req("head_chain_hash", schema.Digest()),
		schema.Req("merkle_root", schema.Digest()),
		schema.Req("reason", schema.Enum(SealReasons...)),
		schema.Req("record", schema.Const(KindSeal.String())),
		schema.Req("sealed_at", schema.Timestamp()),
		schema.Req("segment_id", schema.UUID()),
		schema.Opt("signatures", schema.List(signatureSchema, 1, MaxSignatures).Unique().
			Doc("signatures over the seal's checkpoint (SPEC §11.2), sorted by key_id, one per key; absent on an unsigned seal")),
	).Named("seal", "Seal", "Closes a segment (SPEC §4.6); a segment sealed with a signing key carries signatures over its checkpoint (SPEC §11.2).")
)

// Schemas returns the record schemas of this package.
func Schemas() []*schema.Schema {
	return []*schema.Schema{UnsealedSchema, AttachmentSchema, GenesisSchema, EnvelopeSchema, ElidedSchema, SealSchema}
}

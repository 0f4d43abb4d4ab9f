package schema

import "arxi.dev/arxi/pkg/scalar"

// The scalars of SPEC §2, each a definition of its own, from the patterns
// and limits of pkg/scalar.

// UUID is a lowercase canonical version 7 UUID.
func UUID() *Schema {
	return Str(scalar.UUIDPattern, 0, 0).Named("uuid7", "UUIDv7", "A lowercase canonical 36-character UUID, version 7, RFC 9562 variant (SPEC §2).")
}

// Digest is "sha256:" and 64 lowercase hex digits.
func Digest() *Schema {
	return Str(scalar.DigestPattern, 0, 0).Named("digest", "Digest", `"sha256:" followed by 64 lowercase hex digits; sha256 is the only algorithm of v1 (SPEC §2).`)
}

// KeyID is the 64 lowercase hex digits of a key id.
func KeyID() *Schema {
	return Str(scalar.KeyIDPattern, 0, 0).Named("key_id", "Key id", "hex(SHA-256(raw 32-byte Ed25519 public key)), 64 lowercase hex digits (SPEC §2).")
}

// Timestamp is an RFC 3339 UTC timestamp ending in Z.
func Timestamp() *Schema {
	s := Str(scalar.TimestampPattern, 0, 0)
	s.Format = "date-time"
	return s.Named("timestamp", "Timestamp", "RFC 3339 UTC with 0 to 9 fractional digits and Z, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z; "+
		"Arxi writes exactly 9 fractional digits; offsets, even +00:00, are rejected (SPEC §2).")
}

// Token is an event_type or adapter_id.
func Token() *Schema {
	return Str(scalar.TokenPattern, 1, scalar.MaxTokenLen).Named("token", "Token", "event_type, adapter_id: 1 to 128 bytes of ^[a-z0-9][a-z0-9._:/-]*$ (SPEC §2).")
}

// Label is an actor_id, environment_id, trace_id, session_id or
// recorder_id.
func Label() *Schema {
	return Str(scalar.TextPattern, 1, scalar.MaxLabelLen).Named("label", "Label", "actor_id, environment_id, trace_id, session_id, recorder_id: 1 to 256 bytes of UTF-8 (maxLength counts characters; "+
		"the limit is in bytes), not blank, no control characters U+0000-U+001F, U+007F-U+009F (SPEC §2).")
}

// ContentType is an attachment's content type.
func ContentType() *Schema {
	return Str(scalar.TextPattern, 1, scalar.MaxContentTypeLen).Named("content_type", "Content type", "1 to 255 bytes with the rules of a label; should be a MIME type (SPEC §2).")
}

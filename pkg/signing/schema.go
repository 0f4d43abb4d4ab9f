package signing

import (
	"crypto/ed25519"

	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/schema"
)

// The shapes of a trust root and its entries (SPEC §11): the one
// declaration of their keys, which ParseTrustRoot reads, rendered by the
// contract as JSON Schema.

// TrustedKeySchema is a trust root's key entry, as arxi-seal keygen prints
// it.
var TrustedKeySchema = schema.Obj(
	schema.Req("algorithm", schema.Const(evidence.SignatureAlgorithm)),
	schema.Req("key_id", schema.KeyID().Doc("must be the SHA-256 of public_key")),
	schema.Req("public_key", schema.Base64(ed25519.PublicKeySize).Doc("standard base64 of the 32-byte Ed25519 public key")),
).Named("trusted_key", "Trusted key", "An Ed25519 public key a trust root trusts; arxi-seal keygen prints one (SPEC §11).")

var (
	followRotations    = schema.Bool().Doc("trust keys introduced by disclosed, valid lifecycle envelopes (SPEC §11.1)")
	simplePolicySchema = schema.Obj(
		schema.Req("kind", schema.Enum(AnyTrustedKey, AllMustSign)),
		schema.Opt("follow_rotations", followRotations),
	)
	thresholdPolicySchema = schema.Obj(
		schema.Req("kind", schema.Const(string(Threshold))),
		schema.Req("threshold", schema.Int(1, schema.MaxSafeInteger).Doc("at most the number of keys")),
		schema.Opt("follow_rotations", followRotations),
	)
	policySchema = schema.OneOf(simplePolicySchema, thresholdPolicySchema).Named("trust_policy", "Trust policy",
		"What every disclosed envelope's signatures must satisfy: any_trusted_key, all_must_sign, or threshold k distinct trusted keys (SPEC §11).")
)

// TrustRootSchema is a trust root file (SPEC §11).
var TrustRootSchema = schema.Obj(
	schema.Req("keys", schema.List(TrustedKeySchema, 1, 0).Unique().Doc("each key once")),
	schema.Req("policy", policySchema),
	schema.Req("trust_root_version", schema.Const(1)),
).Named("trust_root", "Trust root", "The keys a verifier trusts and the policy their signatures must meet (SPEC §11).")

// LifecyclePayloadSchema is the payload of a key lifecycle envelope
// (SPEC §11.1): the one declaration of its keys, which
// ParseLifecyclePayload reads.
var LifecyclePayloadSchema = schema.Obj(
	schema.Req("epoch", schema.Int(1, MaxEpoch).Doc("1 enrols the first key; each rotation is the previous epoch plus one")),
	schema.Req("new_key_id", schema.KeyID().Doc("must be the SHA-256 of new_public_key")),
	schema.Req("new_public_key", schema.Base64(ed25519.PublicKeySize).Doc("standard base64 of the new 32-byte Ed25519 public key")),
	schema.Req("old_key_id", schema.KeyID().OrNull().Doc("the key this rotation retires; null exactly at epoch 1")),
	schema.Req("old_public_key", schema.Base64(ed25519.PublicKeySize).OrNull().Doc("the retired key's public key; null exactly at epoch 1")),
	schema.Req("reason", schema.Label().OrNull().Doc("why the key changes, as the operator said (arxi-seal rotate --reason); null when not given")),
).With(schema.BothOrNeither("old_key_id", "old_public_key")).Named("key_lifecycle_payload", "Key lifecycle payload",
	"The payload of a system.adapter.key_enrolled, system.adapter.key_rotated or system.adapter.key_rotated.break_glass envelope (SPEC §11.1).")

// Schemas returns the schemas of this package.
func Schemas() []*schema.Schema {
	return []*schema.Schema{TrustRootSchema, TrustedKeySchema, LifecyclePayloadSchema}
}

package bundle

import (
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/schema"
)

// The shapes of the manifest and the selector (SPEC §9): the one
// declaration of their keys, which ParseManifest and DecodeSelector read,
// rendered by the contract as JSON Schema.

var (
	blobSchema = schema.Obj(
		schema.Req("hash", schema.Digest()),
		schema.Req("size", schema.Int(1, schema.MaxSafeInteger)),
	).Named("manifest_attachment", "Manifest attachment", "A manifest's entry for one attachment blob (SPEC §9.1).")

	segmentSchema = schema.Obj(
		schema.Req("disclosed", schema.Int(0, schema.MaxSafeInteger).Doc("envelope records")),
		schema.Req("elided", schema.Int(0, schema.MaxSafeInteger).Doc("elided records")),
		schema.Req("envelope_count", schema.Int(0, schema.MaxSafeInteger).Doc("disclosed + elided")),
		schema.Req("genesis_hash", schema.Digest()),
		schema.Req("head_chain_hash", schema.Digest().Doc("chain hash of the segment's last envelope; its genesis hash when it has none")),
		schema.Req("merkle_root", schema.Digest().OrNull().Doc("the seal's Merkle root; null while the segment is unsealed")),
		schema.Req("sealed", schema.Bool()),
		schema.Req("segment_id", schema.UUID()),
	).Named("manifest_segment", "Manifest segment", "A manifest's entry for one segment, committing to its content by its head and Merkle root (SPEC §9.1).")

	// alone says that an object holding key holds nothing else.
	alone = func(key string) map[string]any {
		return map[string]any{"if": map[string]any{"required": []any{key}}, "then": map[string]any{"maxProperties": 1}}
	}
)

// SelectorSchema is a selector in the form the manifest records and
// POST /v1/bundles/build takes (SPEC §9.2).
var SelectorSchema = func() *schema.Schema {
	s := schema.Obj(
		schema.Opt("all", schema.Const(true)),
		schema.Opt("event_types", schema.List(schema.Token(), 1, 0).Unique()),
		schema.Opt("segments", schema.List(schema.UUID(), 1, 0).Unique()),
		schema.Opt("session_ids", schema.List(schema.Label(), 1, 0).Unique()),
		schema.Opt("since", schema.Timestamp().Doc("claimed_at at or after; since is before until")),
		schema.Opt("stream", schema.Const(true).Doc("a whole sealed stream bundled by arxi-bundle --from-stream; never in a request")),
		schema.Opt("trace_ids", schema.List(schema.Label(), 1, 0).Unique()),
		schema.Opt("until", schema.Timestamp().Doc("claimed_at before")),
	).With(alone("all"), alone("stream"))
	s.MinProperties = 1
	return s.Named("selector", "Selector",
		`Which envelopes a bundle discloses: {"all":true}, {"stream":true}, or the union of the criteria given; lists sorted, without repeats (SPEC §9.2).`)
}()

// ManifestSchema is a bundle's first line (SPEC §9.1).
var ManifestSchema = schema.Obj(
	schema.Req("attachments", schema.List(blobSchema, 0, 0).Unique().Doc("every blob a disclosed envelope references, sorted by hash")),
	schema.Req("bundle_id", schema.UUID().Doc("derived from the manifest (SPEC §5.6)")),
	schema.Req("bundle_version", schema.Const(Version)),
	schema.Req("hash_algorithm", schema.Const(evidence.HashAlgorithm)),
	schema.Req("omitted_parents", schema.List(schema.UUID(), 0, 0).Unique().Doc("predecessors named by an included genesis but not included, sorted")),
	schema.Req("record", schema.Const("manifest")),
	schema.Req("segments", schema.List(segmentSchema, 0, 0)),
	schema.Req("selector", SelectorSchema),
).Named("manifest", "Manifest", "A bundle's first line: its segments, blobs, omitted parents and selector (SPEC §9.1).")

// Schemas returns the schemas of this package.
func Schemas() []*schema.Schema { return []*schema.Schema{ManifestSchema, SelectorSchema} }

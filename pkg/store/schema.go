package store

import (
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/schema"
	"arxi.dev/arxi/pkg/signing"
)

// The shapes of what the store layer writes (SPEC §8): receipts, segment
// views and pages, for the contract (docs/generated/schemas).

// CursorSchema is a page cursor's text: opaque, what Cursor.String writes.
var CursorSchema = schema.Str(`^[A-Za-z0-9_-]{23}$`, 0, 0).Named("cursor", "Cursor",
	"An opaque page cursor: pass the next_cursor of the previous page unchanged.")

// NextCursorSchema is a page's next_cursor: a cursor, or null on the last page.
func NextCursorSchema() *schema.Schema {
	return CursorSchema.OrNull().Doc("the cursor of the next page; null on the last page")
}

// The schemas.
var (
	ReceiptSchema = schema.Obj(
		schema.Req("chain_hash", schema.Digest()),
		schema.Req("envelope_id", schema.UUID()),
		schema.Req("record", schema.Const("receipt")),
		schema.Req("segment_id", schema.UUID()),
		schema.Req("sequence", schema.Int(1, schema.MaxSafeInteger)),
	).Named("receipt", "Receipt", "Acknowledges one durably stored envelope (SPEC §8).")

	SegmentSchema = schema.Obj(
		schema.Req("created_at", schema.Timestamp()),
		schema.Req("envelope_count", schema.Int(0, schema.MaxSafeInteger)),
		schema.Req("genesis_hash", schema.Digest()),
		schema.Req("head_chain_hash", schema.Digest().Doc("the last envelope's chain hash; the genesis hash when there is none")),
		schema.Req("predecessor_segment_id", schema.UUID().OrNull()),
		schema.Req("record", schema.Const("segment")),
		schema.Req("recorder_id", schema.Label()),
		schema.Req("seal_reason", schema.Enum(evidence.SealReasons...).OrNull()),
		schema.Req("sealed_at", schema.Timestamp().OrNull()),
		schema.Req("segment_id", schema.UUID()),
		schema.Opt("signing_epoch", schema.Int(1, signing.MaxEpoch).Doc("the epoch of the key that signs the segment (SPEC §11.1); absent before any key is enrolled, and where the lineage is not shown")),
		schema.Opt("signing_key_id", schema.KeyID().Doc("the key that signs the segment: current when its first envelope was appended")),
		schema.Req("state", schema.Enum("open", "sealed")),
	).With(schema.BothOrNeither("seal_reason", "sealed_at")).Named("segment", "Segment",
		"A segment of the store: arxi-append segment list --json, the sidecar's segment routes (SPEC §8).")

	SegmentPageSchema = schema.Obj(
		schema.Req("next_cursor", NextCursorSchema()),
		schema.Req("segments", schema.List(SegmentSchema, 0, MaxPageSize)),
	).Named("segment_page", "Segment page", "One page of segments in store order.")

	EnvelopePageSchema = schema.Obj(
		schema.Req("envelopes", schema.List(evidence.EnvelopeSchema, 0, MaxPageSize)),
		schema.Req("next_cursor", NextCursorSchema()),
	).Named("envelope_page", "Query page", "One page of a query's envelopes in store order: arxi-query --format json, POST /v1/query/envelopes (SPEC §8).")

	PageSchema = schema.Obj(
		schema.Req("next_cursor", NextCursorSchema()),
		schema.Req("record", schema.Const("page")),
	).Named("page", "Page end", "The last line of arxi-query --format ndjson: the cursor of the next page (SPEC §8).")
)

// Schemas returns the schemas of this package.
func Schemas() []*schema.Schema {
	return []*schema.Schema{ReceiptSchema, SegmentSchema, SegmentPageSchema, EnvelopePageSchema, PageSchema}
}

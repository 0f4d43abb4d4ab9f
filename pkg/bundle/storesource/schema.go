package storesource

import (
	"arxi.dev/arxi/pkg/schema"
	"arxi.dev/arxi/pkg/store"
)

// The shapes of the catalog's listing, for the contract.
var (
	EntrySchema = schema.Obj(
		schema.Req("bundle_id", schema.UUID()),
		schema.Req("envelope_count", schema.Int(0, schema.MaxSafeInteger)),
		schema.Req("sealed_at", schema.Timestamp()),
		schema.Req("segment_id", schema.UUID()),
	).Named("bundle_entry", "Bundle entry", "The canonical bundle of one sealed segment: the bundle arxi-bundle --segment ID writes.")

	ListSchema = schema.Obj(
		schema.Req("bundles", schema.List(EntrySchema, 0, store.MaxPageSize)),
		schema.Req("next_cursor", store.NextCursorSchema()),
	).Named("bundle_list", "Bundle list", "One page of the canonical bundles of the sealed segments, in store order.")
)

// Schemas returns the schemas of this package.
func Schemas() []*schema.Schema { return []*schema.Schema{EntrySchema, ListSchema} }

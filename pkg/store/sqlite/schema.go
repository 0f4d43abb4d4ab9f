package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/store"
)

// applicationID marks an SQLite file as an Arxi store ("ARXI").
const applicationID = 0x41525849

// SchemaVersion is the schema version this package writes (PRAGMA
// user_version). Opening a store with a newer version fails with
// store.schema_unsupported; an older one is migrated by the writer.
const SchemaVersion = 4

// schema creates a new store at SchemaVersion.
const schema = `
CREATE TABLE store_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per segment, in store order (seq). The genesis and seal lines
-- are stored exactly as appended; the other columns repeat what they say
-- so the open-time verification can compare the two.
CREATE TABLE segments (
	seq            INTEGER PRIMARY KEY,
	segment_id     BLOB NOT NULL UNIQUE,
	first_position INTEGER NOT NULL,
	genesis        BLOB NOT NULL,
	genesis_hash   BLOB NOT NULL,
	envelope_count INTEGER NOT NULL,
	head           BLOB NOT NULL,
	seal           BLOB
);
-- At most one open segment.
CREATE UNIQUE INDEX segments_one_open ON segments ((seal IS NULL)) WHERE seal IS NULL;

-- Attachment blobs, once per hash.
CREATE TABLE attachments (
	id   INTEGER PRIMARY KEY,
	hash BLOB NOT NULL UNIQUE,
	data BLOB NOT NULL
);
` + envelopesTable + postingsTable + idempotencyTable + keyEpochsTable + `
-- The time index (see postings.go): per batch, the positions it wrote and
-- the range of claimed_at among them. Claimed times mostly grow with
-- position, so a time range selects few batches, whose rows are then read
-- by position and filtered exactly.
CREATE TABLE zones (
	last   INTEGER PRIMARY KEY,
	first  INTEGER NOT NULL,
	min_s  INTEGER NOT NULL,
	min_ns INTEGER NOT NULL,
	max_s  INTEGER NOT NULL,
	max_ns INTEGER NOT NULL
);
`

// envelopesTable holds one row per envelope: the values of its record,
// each once (see store.EnvelopeRow); its line is written from them when it
// is read. position is the store order across segments (the rowid), so a
// segment is a position range, a sequence is a place in that range and a
// cursor is a position. claimed_s and claimed_ns are claimed_at as Unix
// seconds and nanoseconds; attachments is the canonical JSON array of the
// references (NULL for none), signatures 96 bytes of key id and value per
// signature (NULL for none).
const envelopesTable = `
CREATE TABLE envelopes (
	position       INTEGER PRIMARY KEY,
	segment        INTEGER NOT NULL REFERENCES segments (seq),
	envelope_id    BLOB NOT NULL UNIQUE,
	content_hash   BLOB NOT NULL,
	chain_hash     BLOB NOT NULL,
	event_type     TEXT NOT NULL,
	actor_id       TEXT NOT NULL,
	environment_id TEXT NOT NULL,
	adapter_id     TEXT NOT NULL,
	trace_id       TEXT,
	session_id     TEXT,
	claimed_s      INTEGER NOT NULL,
	claimed_ns     INTEGER NOT NULL,
	payload        BLOB NOT NULL,
	attachments    BLOB,
	signatures     BLOB
);
`

// postingsTable is the label index (see postings.go): per label and batch,
// the positions of its envelopes as uvarint deltas, keyed by the last of
// them. One row per label per batch instead of one index entry per label
// per envelope; a label is known by a 64-bit hash of its kind and text.
const postingsTable = `
CREATE TABLE postings (
	label     INTEGER NOT NULL,
	last      INTEGER NOT NULL,
	positions BLOB NOT NULL,
	PRIMARY KEY (label, last)
) WITHOUT ROWID;
`

// idempotencyTable holds the sidecar's idempotency records (SIDECAR.md
// §3), written in the transaction of the evidence they answer for. seq
// orders them for pruning by count; created_s and created_ns (Unix seconds
// and nanoseconds of the clock) for pruning by age.
const idempotencyTable = `
CREATE TABLE idempotency (
	seq          INTEGER PRIMARY KEY,
	key          TEXT NOT NULL UNIQUE,
	request_hash BLOB NOT NULL,
	status       INTEGER NOT NULL,
	content_type TEXT NOT NULL,
	body         BLOB NOT NULL,
	created_s    INTEGER NOT NULL,
	created_ns   INTEGER NOT NULL
);
CREATE INDEX idempotency_created ON idempotency (created_s, created_ns);
`

// upgrades[v] takes a store from schema version v to v+1, in the
// transaction that also sets user_version, so an upgrade is all or
// nothing.
var upgrades = map[int64]func(ctx context.Context, c *conn) error{
	1: func(ctx context.Context, c *conn) error { return c.execDirect(ctx, idempotencyTable) },
	2: upgrade2,
	// 3 → 4: the key lifecycle's epochs (SPEC §11.1). Lifecycle envelopes
	// did not exist before, so the table starts empty; a store that holds
	// envelopes of a lifecycle event type all the same fails Open as
	// store.corrupt, naming the envelope no key epoch accounts for.
	3: func(ctx context.Context, c *conn) error { return c.execDirect(ctx, keyEpochsTable) },
}

// upgrade2 moves a version 2 store to version 3. Versions 1 and 2 kept each
// envelope's canonical line beside columns repeating its values, and
// labels interned in a table of their own; version 3 keeps the values once
// and writes the line from them. Every line is decoded as a sealed line
// (it must be exactly its record's normal form) and its values stored;
// the postings are rebuilt in runs of 1000 positions. Segments,
// attachments, zones and store_meta do not change.
func upgrade2(ctx context.Context, c *conn) error {
	for _, q := range []string{
		"ALTER TABLE envelopes RENAME TO envelopes_v1",
		"ALTER TABLE postings RENAME TO postings_v1",
		envelopesTable,
		postingsTable,
	} {
		if err := c.execDirect(ctx, q); err != nil {
			return err
		}
	}
	d := evidence.NewDecoder(evidence.Limits{})
	ps := postings{}
	var rows rowBatch
	var row store.EnvelopeRow
	var buf []byte
	var bad error
	err := c.query(ctx, "SELECT position, segment, line FROM envelopes_v1 ORDER BY position", nil, func(vals []driver.Value) error {
		pos, err1 := asInt(vals[0])
		seg, err2 := asInt(vals[1])
		line, err3 := asBytes(vals[2])
		if err1 != nil || err2 != nil || err3 != nil || pos < 1 {
			bad = fmt.Errorf("envelopes row %v: bad columns", vals[0])
			return errStop
		}
		rec, err := d.Sealed(line)
		e, ok := rec.(*evidence.Envelope)
		if err != nil || !ok {
			bad = fmt.Errorf("envelopes row %d: the line is not an envelope: %v", pos, err)
			return errStop
		}
		buf = row.Set(e, uint64(pos), seg, buf)
		if err := rows.add(c, &row, &ps); err != nil {
			return err
		}
		if pos%1000 == 0 {
			if err := rows.flush(c); err != nil {
				return err
			}
			return ps.flush(c)
		}
		return nil
	})
	if bad != nil {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: "upgrade to schema version 3: " + bad.Error()}
	}
	if err != nil {
		return err
	}
	if err := rows.flush(c); err != nil {
		return err
	}
	if err := ps.flush(c); err != nil {
		return err
	}
	for _, q := range []string{"DROP TABLE envelopes_v1", "DROP TABLE postings_v1", "DROP TABLE labels"} {
		if err := c.execDirect(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

package sqlite

// applicationID marks an SQLite file as an Arxi store ("ARXI").
const applicationID = 0x41525849

// SchemaVersion is the schema version this package writes (PRAGMA
// user_version). Opening a store with a newer version fails with
// store.schema_unsupported; an older one is migrated by the writer.
const SchemaVersion = 2

// migrations[i] takes a store from schema version i to i+1. Each runs in
// the transaction that also sets user_version, so a migration is all or
// nothing.
var migrations = []string{
	// 0 → 1: the first schema.
	`
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

-- Label strings (event types, actors, environments, adapters, traces,
-- sessions), once each: envelope rows and their indexes hold the small
-- integer id, which keeps index entries short and compares cheap.
CREATE TABLE labels (
	id    INTEGER PRIMARY KEY,
	kind  INTEGER NOT NULL, -- 1 event_type, 2 actor_id, 3 environment_id, 4 adapter_id, 5 trace_id, 6 session_id
	value TEXT NOT NULL,
	UNIQUE (kind, value)
);

-- One row per envelope. position is the store order across segments (the
-- rowid), so a segment is a position range and a cursor is a position.
-- line is the canonical envelope line as appended; the other columns repeat
-- what it says, for queries, and are checked against it on read. claimed_s
-- and claimed_ns are claimed_at as Unix seconds and nanoseconds.
CREATE TABLE envelopes (
	position       INTEGER PRIMARY KEY,
	segment        INTEGER NOT NULL REFERENCES segments (seq),
	sequence       INTEGER NOT NULL,
	envelope_id    BLOB NOT NULL UNIQUE,
	content_hash   BLOB NOT NULL,
	chain_hash     BLOB NOT NULL,
	event_type     INTEGER NOT NULL,
	actor_id       INTEGER NOT NULL,
	environment_id INTEGER NOT NULL,
	adapter_id     INTEGER NOT NULL,
	trace_id       INTEGER,
	session_id     INTEGER,
	claimed_s      INTEGER NOT NULL,
	claimed_ns     INTEGER NOT NULL,
	line           BLOB NOT NULL
);

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

-- The label index (see postings.go): per label and batch, the positions
-- of its envelopes as uvarint deltas, keyed by the last of them. One row
-- per label per batch instead of one index entry per label per envelope.
CREATE TABLE postings (
	label     INTEGER NOT NULL,
	last      INTEGER NOT NULL,
	positions BLOB NOT NULL,
	PRIMARY KEY (label, last)
) WITHOUT ROWID;
`,
	// 1 → 2: the sidecar's idempotency records (SIDECAR.md §3), written in
	// the transaction of the evidence they answer for. seq orders them for
	// pruning by count; created_s and created_ns (Unix seconds and
	// nanoseconds of the clock) for pruning by age.
	`
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
`,
}

// Package store persists sealed streams in append-only segments and reads
// them back (SPEC §8).
//
// # Model
//
// A store holds segments in store order. Each segment is a genesis, its
// envelopes in sequence order and, once closed, a seal; at most one segment
// (the last) is open. Attachment blobs are stored once by hash. Every
// envelope also has a position: its 1-based index in store order across all
// segments, which never changes once written. Positions make cursors
// stable: appends only ever add larger positions.
//
// # Backends
//
// A Backend keeps rows and knows nothing about hashes: SQLite
// (pkg/store/sqlite, the default) and memory (pkg/store/memory, tests and
// the sidecar's ephemeral mode). Everything that gives the rows meaning
// lives here, once, for both:
//
//   - An Appender checks every record before it is written: content,
//     genesis and chain hashes are recomputed, the seal is recomputed from
//     the chain, a genesis must link to the last sealed head and may not
//     open a second segment, an envelope must continue the head, and
//     duplicate ids are rejected. It writes in batches; a batch is one
//     backend transaction, and a failed record discards its whole batch.
//   - Open re-verifies what it reads before anyone appends: every genesis
//     and seal against the segment rows, and the last VerifyDepth envelopes
//     of the open segment against the stored head. Rows read back are
//     untrusted; a row that does not decode or hash is store.corrupt,
//     naming the row.
//   - A Snapshot answers queries (Filter, paged by an opaque cursor),
//     selections for bundles (bundle.Selector) and whole segments as sealed
//     streams, verifying every row it returns.
//   - Head is the chain state arxi-seal --store continues from.
//
// The package storetest holds the conformance suite every Backend passes.
package store

import (
	"context"
	"errors"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// Backend is a storage engine for evidence rows: transactional, with one
// writer and any number of readers that see consistent snapshots. Backends
// store what they are given and check only uniqueness; they never
// interpret hashes, lines or payloads. A query's label and time conditions
// are exact: an index may only narrow the rows a backend reads.
type Backend interface {
	// View starts a read-only snapshot of the committed rows. It never
	// waits for the writer.
	View(ctx context.Context) (View, error)
	// Begin starts a write transaction. Only one may be open at a time.
	Begin(ctx context.Context) (Tx, error)
	// Close releases the backend, rolling back an open transaction.
	Close() error
}

// View reads a consistent snapshot of the rows. Errors that are not
// ErrNotFound are *errcode.Error values (store.io, store.corrupt).
type View interface {
	// Segments calls fn with each segment row whose Order is at least
	// from, in store order, until fn returns an error (ErrStop ends the
	// walk without an error). The row is only valid during the call.
	Segments(ctx context.Context, from int64, fn func(*SegmentRow) error) error
	// SegmentByID returns the segment row with that id, or ErrNotFound.
	SegmentByID(ctx context.Context, id scalar.UUID) (*SegmentRow, error)
	// LastSegment returns the segment row with the highest Order, or
	// ErrNotFound for an empty store.
	LastSegment(ctx context.Context) (*SegmentRow, error)
	// Envelopes calls fn with each envelope row matching q, in position
	// order, until fn returns an error (ErrStop ends the walk without an
	// error). The row is only valid during the call.
	Envelopes(ctx context.Context, q Query, fn func(*EnvelopeRow) error) error
	// Blob returns an attachment's bytes, or ErrNotFound.
	Blob(ctx context.Context, hash scalar.Digest) ([]byte, error)
	// BlobSize returns an attachment's length, or ErrNotFound.
	BlobSize(ctx context.Context, hash scalar.Digest) (int64, error)
	// Meta returns a store_meta value, or ErrNotFound.
	Meta(ctx context.Context, key string) (string, error)
	// Idempotency returns the idempotency record with that key, or
	// ErrNotFound. Expired records may still be returned: expiry is the
	// store layer's business (see IdempotencyRow).
	Idempotency(ctx context.Context, key string) (*IdempotencyRow, error)
	// KeyEpochs calls fn with each key epoch row in epoch order, until fn
	// returns an error (ErrStop ends the walk without an error).
	KeyEpochs(ctx context.Context, fn func(*KeyEpochRow) error) error
	// Close ends the snapshot; on a Tx it rolls back unless committed.
	Close() error
}

// Tx is the writer's transaction. Its reads see its own writes. Once
// Commit has returned, or Close rolled back, the Tx is done.
type Tx interface {
	View
	// AddSegment inserts a new segment row; an existing id is
	// store.duplicate.
	AddSegment(ctx context.Context, s *SegmentRow) error
	// UpdateSegment stores the Count, Head and Seal of the segment row
	// with s.Order.
	UpdateSegment(ctx context.Context, s *SegmentRow) error
	// AddBlob stores an attachment unless a blob with that hash is already
	// stored; a stored blob whose bytes differ is store.corrupt.
	AddBlob(ctx context.Context, hash scalar.Digest, data []byte) error
	// AddEnvelope inserts an envelope row (whose slices and strings are
	// only valid during the call); an existing envelope id is
	// store.duplicate. A backend may hold rows back and write several at
	// once (see Flusher): an error about a row held back is a *RowError
	// naming its position, returned by a later call.
	AddEnvelope(ctx context.Context, e *EnvelopeRow) error
	// SetMeta sets a store_meta value.
	SetMeta(ctx context.Context, key, value string) error
	// PutIdempotency stores an idempotency record, replacing one with the
	// same key (an expired record whose key is used again). Its Seq is
	// assigned by the backend: larger than every stored record's.
	PutIdempotency(ctx context.Context, r *IdempotencyRow) error
	// PruneIdempotency deletes the records created before before, and
	// then the oldest (by Seq) beyond the newest keep. It returns how many
	// it deleted.
	PruneIdempotency(ctx context.Context, before scalar.Timestamp, keep int) (int, error)
	// AddKeyEpoch inserts a key epoch row; an existing epoch is
	// store.duplicate.
	AddKeyEpoch(ctx context.Context, k *KeyEpochRow) error
	// Commit makes the transaction's writes durable (for SQLite: fsynced
	// to the write-ahead log) before it returns.
	Commit() error
}

// Flusher is a Tx that holds envelope rows back (AddEnvelope): Flush
// writes them, so that an error about one is returned now. The rows are
// also written before the transaction reads envelopes, and by Commit.
type Flusher interface {
	Flush(ctx context.Context) error
}

// EarlyBackend is a Backend that can commit a transaction before it is
// durable. The Commit of a transaction begun with BeginEarly makes it
// visible, in order, but not durable; Durable makes every transaction
// committed so far durable. Durable may run on another goroutine while the
// next transaction is written; its caller must not acknowledge a
// transaction's records to anyone before it has returned nil.
type EarlyBackend interface {
	Backend
	BeginEarly(ctx context.Context) (Tx, error)
	Durable() error
}

// RowError is a backend's error about the envelope row at Position,
// returned after that row's AddEnvelope: by a later AddEnvelope, a read,
// Flush or Commit. The Appender locates it at that envelope.
type RowError struct {
	Position uint64
	Err      error
}

func (e *RowError) Error() string { return e.Err.Error() }
func (e *RowError) Unwrap() error { return e.Err }

// SegmentRow is a segment as a backend stores it.
type SegmentRow struct {
	Order         int64 // 1-based store order
	ID            scalar.UUID
	FirstPosition uint64 // the position of sequence 1
	Genesis       []byte // the canonical genesis line
	GenesisHash   scalar.Digest
	Count         uint64        // envelopes stored
	Head          scalar.Digest // chain hash of the last envelope; the genesis hash when empty
	Seal          []byte        // the canonical seal line; nil while open
}

// EnvelopeRow is an envelope as a backend stores it: the values of its
// record, each once, with the text of its payload; the store writes the
// envelope's line from them when it reads the row back (an envelope's line
// is exactly the normal form of its record, SPEC §3). Its segment is the
// segment row whose positions hold Position; its sequence is its place in
// that range.
type EnvelopeRow struct {
	Position      uint64 // 1-based store order across all segments
	Segment       int64  // the segment's Order
	EnvelopeID    scalar.UUID
	ContentHash   scalar.Digest
	ChainHash     scalar.Digest
	EventType     string
	ActorID       string
	EnvironmentID string
	AdapterID     string
	TraceID       string // "" for null
	SessionID     string // "" for null
	ClaimedAt     scalar.Timestamp
	Payload       []byte // the payload's canonical JSON
	Attachments   []byte // the canonical JSON array of the attachment references; nil when there are none
	Signatures    []byte // each signature's key id and value (32 + 64 bytes), in key id order; nil when unsigned
	// Kept, on a row given to AddEnvelope, says that its label strings
	// and Payload stay valid until the transaction ends, not only during
	// the call (AppendStream's records share its input lines, which are
	// never overwritten), so that a backend holding the row back needs no
	// copy of them. On a row from View.Envelopes it says that all its
	// strings and slices stay valid after the callback and are never
	// written again (the SQLite backend copies every value out of SQLite),
	// so that a reader may keep the row as it is.
	Kept bool
}

// KeyEpochRow records one key lifecycle envelope the store accepted
// (SPEC §11.1): from it on, the key signs the store's envelopes. The row
// with the largest epoch is the store's current key. Rows are untrusted:
// Open re-derives them from the lifecycle envelopes they name.
type KeyEpochRow struct {
	Epoch      int64
	Position   uint64 // the lifecycle envelope's position
	EnvelopeID scalar.UUID
	KeyID      scalar.KeyID
	PublicKey  []byte // 32 bytes
}

// Query selects envelope rows. Empty fields match everything; a list
// matches any of its values. Conditions combine with AND.
type Query struct {
	From, To       uint64 // position range, inclusive; To 0 has no upper bound
	EventTypes     []string
	ActorIDs       []string
	EnvironmentIDs []string
	AdapterIDs     []string
	TraceIDs       []string
	SessionIDs     []string
	Since, Until   *scalar.Timestamp // claimed_at ≥ Since and < Until; nil is unbounded
	Limit          int               // 0 for no limit
	// KeysOnly fills only Position, Segment, EnvelopeID, ContentHash and
	// ChainHash.
	KeysOnly bool
}

// Sentinels returned by backends.
var (
	// ErrNotFound reports a missing row.
	ErrNotFound = errors.New("store: not found")
	// ErrStop ends a walk early without an error.
	ErrStop = errors.New("store: stop")
)

// DefaultVerifyDepth is how many of the open segment's last envelopes
// Open re-verifies by default (SPEC §8).
const DefaultVerifyDepth = 1000

// NoVerify as Config.VerifyDepth skips the checks of Open. Readers that
// verify every row they return (queries, streams, bundles) use it.
const NoVerify = -1

// Config configures Open.
type Config struct {
	// VerifyDepth is how many of the open segment's last envelopes Open
	// re-verifies against the stored head: 0 means DefaultVerifyDepth,
	// NoVerify skips verification at open.
	VerifyDepth int
	// Limits bound the records accepted and read back; zero fields take
	// the defaults of SPEC §16.
	Limits evidence.Limits
}

// Store is an evidence store over a Backend. Reads (Snapshot, Head) may
// run concurrently; there is one Appender at a time.
type Store struct {
	b     Backend
	depth int
	lim   evidence.Limits
	state *state // the committed chain state; nil until loaded
}

// Open opens a store over b. Unless cfg.VerifyDepth is NoVerify it
// re-verifies the stored chain state first (see the package doc) and fails
// with store.corrupt naming the first bad row.
func Open(ctx context.Context, b Backend, cfg Config) (*Store, error) {
	s := &Store{b: b, depth: cfg.VerifyDepth, lim: cfg.Limits.WithDefaults()}
	if s.depth == 0 {
		s.depth = DefaultVerifyDepth
	}
	if s.depth == NoVerify {
		return s, nil
	}
	v, err := b.View(ctx)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	st, err := loadState(ctx, v, s.depth, s.lim)
	if err != nil {
		return nil, err
	}
	s.state = st
	return s, nil
}

// Reader returns the store over b for readers that verify every row they
// return (queries, streams, bundles): Open with NoVerify, which reads
// nothing and so cannot fail.
func Reader(b Backend) *Store {
	return &Store{b: b, depth: NoVerify, lim: evidence.Limits{}.WithDefaults()}
}

// Close closes the backend.
func (s *Store) Close() error { return s.b.Close() }

// Meta returns a store_meta value and whether it is set.
func (s *Store) Meta(ctx context.Context, key string) (string, bool, error) {
	if err := checkMetaKey(key); err != nil {
		return "", false, err
	}
	v, err := s.b.View(ctx)
	if err != nil {
		return "", false, err
	}
	defer v.Close()
	val, err := v.Meta(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	return val, err == nil, err
}

// SetMeta sets a store_meta value in a transaction of its own. It needs
// the writer: the backend's Begin.
func (s *Store) SetMeta(ctx context.Context, key, value string) error {
	if err := checkMetaKey(key); err != nil {
		return err
	}
	if len(value) > MaxMetaValue {
		return errcode.New(errcode.InputTooLarge, "store_meta value for %q exceeds %d bytes", key, MaxMetaValue)
	}
	tx, err := s.b.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Close()
	if err := tx.SetMeta(ctx, key, value); err != nil {
		return err
	}
	return tx.Commit()
}

// MaxMetaValue bounds a store_meta value.
const MaxMetaValue = 64 << 10

// checkMetaKey accepts 1–128 bytes of [a-z0-9._:/-], starting with a
// letter or digit.
func checkMetaKey(key string) error {
	if _, err := scalar.ParseToken(key); err != nil {
		return errcode.Wrap(errcode.InputFieldInvalid, err, "invalid store_meta key")
	}
	return nil
}

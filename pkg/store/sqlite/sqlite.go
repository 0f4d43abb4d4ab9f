// Package sqlite is the default store.Backend: one SQLite file, through
// modernc.org/sqlite (pure Go, no cgo).
//
// # Durability
//
// The file is in WAL mode with foreign keys on and synchronous=FULL by
// default, so a commit returns only after the write-ahead log is fsynced: a
// batch is durable when Tx.Commit returns, and a process killed at any
// moment leaves the last committed batch or the one before it, never part of
// one.
//
// # One writer, many readers
//
// A writer (Config.ReadOnly false) holds an exclusive flock(2) on PATH-lock
// for its whole life; a second writer fails at once with store.locked. The
// lock file is separate from the database so that it never interferes with
// SQLite's own POSIX locks (closing any descriptor of a file drops a
// process's POSIX locks on it), and the kernel releases it when the process
// dies, however it dies. Readers take no lock of ours: in WAL mode they read
// a consistent snapshot while the writer commits.
//
// # Schema
//
// The schema is versioned with PRAGMA user_version and the file is marked
// with PRAGMA application_id. The writer migrates an older schema in one
// transaction on open; a newer one fails with store.schema_unsupported
// before anything is written. See schema.go.
package sqlite

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/safefile"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	sqlite3 "modernc.org/sqlite/lib"
)

// pageSize is the page size of new stores.
const pageSize = 8192

// Config configures Open.
type Config struct {
	// Path is the database file.
	Path string
	// ReadOnly opens for reading only: no lock, no schema changes, and a
	// missing file is an error wrapping fs.ErrNotExist.
	ReadOnly bool
	// Synchronous is the writer's PRAGMA synchronous: "full" (the default,
	// SPEC §8), "extra" or "normal" (faster; a power loss may lose the last
	// commits, never corrupt the store).
	Synchronous string
}

// DB is an SQLite store backend.
type DB struct {
	path    string
	ro      bool
	dsn     string // for readers
	lock    *os.File
	w       *conn    // the writer's connection; nil when read-only
	rows    rowBatch // the envelope rows the writer's transaction holds back
	sync    string   // the writer's PRAGMA synchronous
	walFile *os.File // the write-ahead log, opened by Durable
	lowered bool     // the writer is synchronous=NORMAL for an early transaction

	mu     sync.Mutex
	idle   []*conn // reader connections
	inTx   bool
	closed bool
}

var _ store.Backend = (*DB)(nil)

// OpenReader opens the store file at path for reading only, as every
// reading command does: no writer lock, no verification at open (a
// snapshot verifies each row it reads). Closing the Store closes the file.
func OpenReader(ctx context.Context, path string) (*store.Store, error) {
	db, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return store.Reader(db), nil
}

// Open opens the store at cfg.Path. A writer creates the file when it is
// missing (not its directory), takes the writer lock, and creates or
// migrates the schema.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Path == "" {
		return nil, errcode.New(errcode.UsageInvalid, "no store path")
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, ioErr(cfg.Path, "resolve store path", err)
	}
	db := &DB{path: cfg.Path, ro: cfg.ReadOnly}
	sync := "FULL"
	defer func() { db.sync = sync }()
	switch strings.ToLower(cfg.Synchronous) {
	case "", "full":
	case "extra":
		sync = "EXTRA"
	case "normal":
		sync = "NORMAL"
	default:
		return nil, errcode.New(errcode.ConfigInvalid, "synchronous %q: want full, extra or normal", cfg.Synchronous)
	}
	if err := checkFile(cfg.Path, abs, cfg.ReadOnly); err != nil {
		return nil, err
	}
	base := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	db.dsn = base + "&mode=ro"
	if cfg.ReadOnly {
		if readOnlyFS(filepath.Dir(abs)) && !exists(abs+"-wal") {
			// On a read-only file system SQLite cannot create the -shm file
			// a WAL reader needs; nothing can change the file there, so it
			// may be read as immutable.
			db.dsn += "&immutable=1"
		}
		c, err := db.reader()
		if err != nil {
			return nil, err
		}
		version, err := checkSchema(ctx, c, cfg.Path)
		if err == nil && version == 0 {
			err = &errcode.Error{Code: errcode.StoreIO, Path: cfg.Path, Msg: "the store is not initialised yet", Err: fs.ErrNotExist}
		}
		if err == nil && version < SchemaVersion {
			err = &errcode.Error{Code: errcode.StoreSchema, Path: cfg.Path,
				Msg:  fmt.Sprintf("the store has schema version %d and needs migrating to %d", version, SchemaVersion),
				Hint: "open it once with arxi-append, which migrates it"}
		}
		if err != nil {
			c.close()
			return nil, err
		}
		db.release(c)
		return db, nil
	}
	if db.lock, err = lockFile(cfg.Path + "-lock"); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			db.Close()
		}
	}()
	created := false
	if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		created = true
	}
	if db.w, err = openConn(base + "&mode=rwc&_pragma=synchronous(" + sync + ")&_txlock=immediate"); err != nil {
		return nil, mapErr(cfg.Path, "open store", err)
	}
	version, err := checkSchema(ctx, db.w, cfg.Path)
	if err != nil {
		return nil, err
	}
	// SQLite silently opens a file it may not write read-only; a writer
	// says so now rather than at its first commit.
	if ro, err := db.w.dc.(interface{ IsReadOnly(string) (bool, error) }).IsReadOnly("main"); err != nil || ro {
		return nil, &errcode.Error{Code: errcode.StoreIO, Path: cfg.Path, Msg: "the store is read-only", Err: err,
			Hint: "check the permissions of the store file, its directory and its -wal and -shm files; readers such as arxi-query need no write access"}
	}
	if version == 0 {
		// A new store: 8 KiB pages hold seven 1 KiB envelope rows with
		// less waste than 4 KiB ones hold three, and are set before the
		// first table and before WAL mode fixes them.
		if err := db.w.execDirect(ctx, fmt.Sprintf("PRAGMA page_size=%d", pageSize)); err != nil {
			return nil, mapErr(cfg.Path, "set page size", err)
		}
	}
	if err := db.wal(ctx); err != nil {
		return nil, err
	}
	if version < SchemaVersion {
		if err := db.migrate(ctx, version); err != nil {
			return nil, err
		}
	}
	if created {
		syncDir(filepath.Dir(abs))
	}
	ok = true
	return db, nil
}

// checkFile fails early, with a clear message and before anything is
// created, for a missing directory, a missing file (read-only), a path
// that is not a regular file (a FIFO would block SQLite's open) and a file
// that is not an SQLite database.
func checkFile(path, abs string, readOnly bool) error {
	dir := filepath.Dir(abs)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		// Not wrapping fs.ErrNotExist: that means "no store yet" to callers
		// (arxi-seal --open), and a missing directory is an error for all.
		return &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "the store's directory " + dir + " does not exist"}
	}
	if _, err := (safefile.Input{What: "the store", Code: errcode.StoreIO}).Check(path); err != nil {
		return err
	}
	if !readOnly {
		if err := writable(dir); err != nil {
			return &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "the store is read-only: its directory " + dir + " is not writable", Err: err,
				Hint: "a writer creates the -wal, -shm and -lock files beside the store; readers such as arxi-query need no write access"}
		}
		if f, err := os.OpenFile(abs, os.O_RDWR, 0); err == nil {
			f.Close()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "the store is read-only", Err: unwrapPath(err),
				Hint: "check the permissions of the store file; readers such as arxi-query need no write access"}
		}
	}
	f, err := os.Open(abs)
	if errors.Is(err, fs.ErrNotExist) {
		if readOnly {
			return &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "no store at this path", Err: fs.ErrNotExist,
				Hint: "create one with arxi-append --store " + path}
		}
		return nil
	}
	if err != nil {
		return ioErr(path, "open store", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ioErr(path, "open store", err)
	}
	var head [16]byte
	n, err := io.ReadFull(f, head[:])
	switch {
	case n == 0 && st.Size() == 0:
		return nil // an empty file is a new database
	case err != nil || string(head[:]) != "SQLite format 3\x00":
		return &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "not an Arxi store: the file is not an SQLite database"}
	}
	return nil
}

// checkSchema returns the schema version, failing for a database that is
// not an Arxi store or comes from a newer Arxi.
func checkSchema(ctx context.Context, c *conn, path string) (int64, error) {
	row, err := c.queryRow(ctx, "PRAGMA application_id")
	if err != nil {
		return 0, mapErr(path, "read store header", err)
	}
	app, _ := asInt(row[0])
	row, err = c.queryRow(ctx, "PRAGMA user_version")
	if err != nil {
		return 0, mapErr(path, "read store header", err)
	}
	version, _ := asInt(row[0])
	row, err = c.queryRow(ctx, "SELECT count(*) FROM sqlite_schema")
	if err != nil {
		return 0, mapErr(path, "read store schema", err)
	}
	tables, _ := asInt(row[0])
	switch {
	case app == 0 && version == 0 && tables == 0:
		return 0, nil // a new, empty database
	case app != applicationID:
		return 0, &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "not an Arxi store: an SQLite database of another application"}
	case version > SchemaVersion:
		return 0, &errcode.Error{Code: errcode.StoreSchema, Path: path,
			Msg:  fmt.Sprintf("the store has schema version %d; this Arxi reads up to version %d", version, SchemaVersion),
			Hint: "use a newer Arxi"}
	}
	return version, nil
}

func (db *DB) wal(ctx context.Context) error {
	row, err := db.w.queryRow(ctx, "PRAGMA journal_mode=WAL")
	if err != nil {
		return mapErr(db.path, "set WAL mode", err)
	}
	if mode, _ := asText(row[0]); !strings.EqualFold(mode, "wal") {
		return &errcode.Error{Code: errcode.StoreIO, Path: db.path, Msg: "cannot switch the store to WAL mode (journal mode " + mode + ")"}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, from int64) error {
	c := db.w
	if err := c.execDirect(ctx, "BEGIN IMMEDIATE"); err != nil {
		return mapErr(db.path, "migrate schema", err)
	}
	fail := func(what string, err error) error {
		c.execDirect(context.Background(), "ROLLBACK")
		return mapErr(db.path, what, err)
	}
	if from == 0 {
		if err := c.execDirect(ctx, schema); err != nil {
			return fail("create schema", err)
		}
	}
	for v := max(from, 1); from > 0 && v < SchemaVersion; v++ {
		if err := upgrades[v](ctx, c); err != nil {
			return fail(fmt.Sprintf("migrate schema to version %d", v+1), err)
		}
	}
	for _, q := range []string{fmt.Sprintf("PRAGMA application_id=%d", applicationID), fmt.Sprintf("PRAGMA user_version=%d", SchemaVersion), "COMMIT"} {
		if err := c.execDirect(ctx, q); err != nil {
			return fail("migrate schema", err)
		}
	}
	return nil
}

// Close implements store.Backend: it closes the connections and releases
// the writer lock.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed {
		return nil
	}
	db.closed = true
	var first error
	for _, c := range db.idle {
		if err := c.close(); err != nil && first == nil {
			first = err
		}
	}
	db.idle = nil
	if db.w != nil {
		if err := db.w.close(); err != nil && first == nil {
			first = err
		}
	}
	if db.lock != nil {
		db.lock.Close() // releases the flock
	}
	if db.walFile != nil {
		db.walFile.Close()
	}
	if first != nil {
		return mapErr(db.path, "close store", first)
	}
	return nil
}

// reader takes an idle reader connection or opens one.
func (db *DB) reader() (*conn, error) {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil, errClosed(db.path)
	}
	if n := len(db.idle); n > 0 {
		c := db.idle[n-1]
		db.idle = db.idle[:n-1]
		db.mu.Unlock()
		return c, nil
	}
	db.mu.Unlock()
	c, err := openConn(db.dsn)
	if err != nil {
		return nil, mapErr(db.path, "open store", err)
	}
	return c, nil
}

const maxIdle = 4

func (db *DB) release(c *conn) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed || len(db.idle) >= maxIdle {
		c.close()
		return
	}
	db.idle = append(db.idle, c)
}

func errClosed(path string) error {
	return &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: "the store is closed"}
}

// View implements store.Backend: a read transaction on a reader
// connection, whose snapshot is fixed by its first read.
func (db *DB) View(ctx context.Context) (store.View, error) {
	c, err := db.reader()
	if err != nil {
		return nil, err
	}
	if err := c.execDirect(ctx, "BEGIN"); err != nil {
		db.release(c)
		return nil, mapErr(db.path, "begin read", err)
	}
	v := &view{db: db, c: c}
	// Fix the snapshot now, not at the first query.
	if _, err := c.queryRow(ctx, "SELECT 1 FROM segments LIMIT 1"); err != nil {
		v.Close()
		return nil, mapErr(db.path, "begin read", err)
	}
	return v, nil
}

// Begin implements store.Backend: BEGIN IMMEDIATE on the writer
// connection.
func (db *DB) Begin(ctx context.Context) (store.Tx, error) { return db.begin(ctx, false) }

// begin begins a write transaction; early, its commit does not fsync
// (BeginEarly). The safety level cannot change inside a transaction, so
// it is set before BEGIN, when it differs from the last transaction's.
func (db *DB) begin(ctx context.Context, early bool) (store.Tx, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	switch {
	case db.closed:
		return nil, errClosed(db.path)
	case db.ro:
		return nil, &errcode.Error{Code: errcode.StoreIO, Path: db.path, Msg: "the store is open read-only"}
	case db.inTx:
		return nil, &errcode.Error{Code: errcode.Internal, Path: db.path, Msg: "a write transaction is already open"}
	}
	if early != db.lowered {
		level := db.sync
		if early {
			level = "NORMAL"
		}
		if err := db.w.execDirect(ctx, "PRAGMA synchronous="+level); err != nil {
			return nil, mapErr(db.path, "begin write", err)
		}
		db.lowered = early
	}
	if err := db.w.execDirect(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, mapErr(db.path, "begin write", err)
	}
	db.inTx = true
	return &tx{view: view{db: db, c: db.w}}, nil
}

// view reads through one connection inside a read transaction.
type view struct {
	db     *DB
	c      *conn
	closed bool
}

const segmentCols = "seq, segment_id, first_position, genesis, genesis_hash, envelope_count, head, seal"

func (v *view) err(what string, err error) error {
	if err == nil || err == errStop {
		return nil
	}
	if _, ok := errcode.As(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errcode.Wrap(errcode.IOFailed, err, "interrupted")
	}
	return mapErr(v.db.path, what, err)
}

func (v *view) Segments(ctx context.Context, from int64, fn func(*store.SegmentRow) error) error {
	err := v.c.query(ctx, "SELECT "+segmentCols+" FROM segments WHERE seq >= ? ORDER BY seq", []any{from}, eachRow(segmentRow, fn))
	return v.err("read segments", err)
}

// eachRow adapts fn, which takes rows converted by conv and may stop the
// walk with store.ErrStop, to conn.query.
func eachRow[R any](conv func([]driver.Value) (R, error), fn func(R) error) func([]driver.Value) error {
	return func(vals []driver.Value) error {
		row, err := conv(vals)
		if err != nil {
			return err
		}
		if err := fn(row); err != nil {
			if err == store.ErrStop {
				return errStop
			}
			return err
		}
		return nil
	}
}

func (v *view) segment(ctx context.Context, query string, args ...any) (*store.SegmentRow, error) {
	var row *store.SegmentRow
	err := v.c.query(ctx, query, args, func(vals []driver.Value) error {
		var err error
		row, err = segmentRow(vals)
		if err != nil {
			return err
		}
		return errStop
	})
	if err := v.err("read segments", err); err != nil {
		return nil, err
	}
	if row == nil {
		return nil, store.ErrNotFound
	}
	return row, nil
}

func (v *view) SegmentByID(ctx context.Context, id scalar.UUID) (*store.SegmentRow, error) {
	return v.segment(ctx, "SELECT "+segmentCols+" FROM segments WHERE segment_id = ?", id[:])
}

func (v *view) LastSegment(ctx context.Context) (*store.SegmentRow, error) {
	return v.segment(ctx, "SELECT "+segmentCols+" FROM segments ORDER BY seq DESC LIMIT 1")
}

// segmentRow converts a row; values of the wrong type or size are
// store.corrupt naming the row.
func segmentRow(vals []driver.Value) (*store.SegmentRow, error) {
	var r store.SegmentRow
	var err error
	fail := func(col string, err error) error {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: fmt.Sprintf("segments row %d: column %s: %v", r.Order, col, err)}
	}
	if r.Order, err = asInt(vals[0]); err != nil {
		return nil, fail("seq", err)
	}
	if err := fixed(r.ID[:], vals[1]); err != nil {
		return nil, fail("segment_id", err)
	}
	first, err := asInt(vals[2])
	if err != nil || first < 1 {
		return nil, fail("first_position", fmt.Errorf("want a positive integer"))
	}
	r.FirstPosition = uint64(first)
	if r.Genesis, err = asBytes(vals[3]); err != nil {
		return nil, fail("genesis", err)
	}
	if err := fixed(r.GenesisHash[:], vals[4]); err != nil {
		return nil, fail("genesis_hash", err)
	}
	count, err := asInt(vals[5])
	if err != nil || count < 0 {
		return nil, fail("envelope_count", fmt.Errorf("want a non-negative integer"))
	}
	r.Count = uint64(count)
	if err := fixed(r.Head[:], vals[6]); err != nil {
		return nil, fail("head", err)
	}
	if vals[7] != nil {
		if r.Seal, err = asBytes(vals[7]); err != nil {
			return nil, fail("seal", err)
		}
	}
	return &r, nil
}

// fixed and fixedArg copy a blob of exactly len(dst) bytes into dst.
func fixed(dst []byte, v driver.Value) error { return fixedArg(dst, readArg(v)) }

func fixedArg(dst []byte, a arg) error {
	b, err := a.bytes()
	if err != nil {
		return err
	}
	if len(b) != len(dst) {
		return fmt.Errorf("want %d bytes, have %d", len(dst), len(b))
	}
	copy(dst, b)
	return nil
}

func (v *view) Blob(ctx context.Context, h scalar.Digest) ([]byte, error) {
	row, err := v.c.queryRow(ctx, "SELECT data FROM attachments WHERE hash = ?", h[:])
	if err != nil {
		return nil, v.err("read attachment", err)
	}
	if row == nil {
		return nil, store.ErrNotFound
	}
	b, err := asBytes(row[0]) // the driver's copy, owned by the caller
	if err != nil {
		return nil, &errcode.Error{Code: errcode.StoreCorrupt, Msg: "attachments row " + h.String() + ": column data: " + err.Error()}
	}
	return b, nil
}

func (v *view) BlobSize(ctx context.Context, h scalar.Digest) (int64, error) {
	row, err := v.c.queryRow(ctx, "SELECT length(data) FROM attachments WHERE hash = ?", h[:])
	if err != nil {
		return 0, v.err("read attachment", err)
	}
	if row == nil {
		return 0, store.ErrNotFound
	}
	return asInt(row[0])
}

func (v *view) Meta(ctx context.Context, key string) (string, error) {
	row, err := v.c.queryRow(ctx, "SELECT value FROM store_meta WHERE key = ?", key)
	if err != nil {
		return "", v.err("read store_meta", err)
	}
	if row == nil {
		return "", store.ErrNotFound
	}
	return asText(row[0])
}

// Close ends the read transaction and returns the connection to the pool.
func (v *view) Close() error {
	if v.closed {
		return nil
	}
	v.closed = true
	err := v.c.execDirect(context.Background(), "ROLLBACK")
	if err != nil {
		v.c.close()
		return nil
	}
	v.db.release(v.c)
	return nil
}

// tx is the writer's transaction on the writer connection.
type tx struct {
	view
	done     bool
	postings postings // labels written by this transaction
	zone     zone     // positions and claimed times written since the last zone row
}

// bg is the context of row-level statements: one without a Done channel,
// which the driver would watch with a goroutine per call. Cancellation is
// checked between batches instead.
var bg = context.Background()

func (t *tx) AddSegment(ctx context.Context, s *store.SegmentRow) error {
	var seal any
	if s.Seal != nil {
		seal = s.Seal
	}
	_, err := t.c.exec(bg, "INSERT INTO segments ("+segmentCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		s.Order, s.ID[:], int64(s.FirstPosition), s.Genesis, s.GenesisHash[:], int64(s.Count), s.Head[:], seal)
	if isConstraint(err, "segment_id") {
		return &errcode.Error{Code: errcode.StoreDuplicate, Field: "segment_id", Segment: s.ID.String(), Msg: "a segment with this id is already stored"}
	}
	if isConstraint(err, "segments_one_open") || isConstraint(err, "seal IS NULL") {
		return &errcode.Error{Code: errcode.SegmentAlreadyOpen, Segment: s.ID.String(), Msg: "another segment is open"}
	}
	return t.err("write segment", err)
}

func (t *tx) UpdateSegment(ctx context.Context, s *store.SegmentRow) error {
	var seal any
	if s.Seal != nil {
		seal = s.Seal
	}
	n, err := t.c.exec(bg, "UPDATE segments SET envelope_count = ?, head = ?, seal = ? WHERE seq = ?",
		int64(s.Count), s.Head[:], seal, s.Order)
	if err == nil && n != 1 {
		return errcode.New(errcode.Internal, "no segment %d to update", s.Order)
	}
	return t.err("write segment", err)
}

func (t *tx) AddBlob(ctx context.Context, h scalar.Digest, data []byte) error {
	n, err := t.c.exec(bg, "INSERT INTO attachments (hash, data) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING", h[:], data)
	if err != nil {
		return t.err("write attachment", err)
	}
	if n == 1 {
		return nil
	}
	old, err := t.Blob(ctx, h)
	if err != nil {
		return err
	}
	if !bytes.Equal(old, data) {
		return &errcode.Error{Code: errcode.StoreCorrupt, Msg: "attachments row " + h.String() + ": stored bytes differ from a blob with the same hash"}
	}
	return nil
}

func (t *tx) SetMeta(ctx context.Context, key, value string) error {
	_, err := t.c.exec(bg, "INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return t.err("write store_meta", err)
}

// Commit implements store.Tx. With synchronous=FULL, SQLite fsyncs the
// write-ahead log before COMMIT returns.
func (t *tx) Commit() error {
	if t.done {
		return errcode.New(errcode.Internal, "transaction already finished")
	}
	if err := t.Flush(bg); err != nil {
		return err
	}
	if err := t.postings.flush(t.c); err != nil {
		return t.err("write postings", err)
	}
	if err := t.flushZone(); err != nil {
		return err
	}
	err := t.c.execDirect(bg, "COMMIT")
	if err != nil {
		// A failed COMMIT may leave the transaction open (SQLITE_BUSY) or
		// rolled back (disk full); Close rolls back in either case.
		return t.err("commit", err)
	}
	t.finish()
	return nil
}

// BeginEarly implements store.EarlyBackend. With synchronous=FULL, the
// transaction commits as with synchronous=NORMAL, without an fsync, and
// Durable fsyncs the write-ahead log, which makes it exactly as durable as
// a FULL commit: SQLite's own syncs (of the log's header when it restarts,
// and around checkpoints) are the same in both modes. With extra or
// normal it is Begin.
func (db *DB) BeginEarly(ctx context.Context) (store.Tx, error) {
	if db.sync != "FULL" {
		return db.Begin(ctx)
	}
	return db.begin(ctx, true)
}

// Durable implements store.EarlyBackend: it fsyncs the store's
// write-ahead log when the writer is synchronous=FULL. The log is opened
// once, and again when its file was replaced (SQLite deletes it when the
// last connection closes, never while the writer's is open). It may run
// while the writer writes the next transaction.
func (db *DB) Durable() error {
	if db.sync != "FULL" {
		return nil
	}
	path := db.path + "-wal"
	st, err := os.Stat(path)
	if err != nil {
		return ioErr(db.path, "sync the write-ahead log", err)
	}
	if db.walFile != nil {
		if cur, err := db.walFile.Stat(); err != nil || !os.SameFile(cur, st) {
			db.walFile.Close()
			db.walFile = nil
		}
	}
	if db.walFile == nil {
		if db.walFile, err = os.Open(path); err != nil {
			return ioErr(db.path, "sync the write-ahead log", err)
		}
	}
	if err := db.walFile.Sync(); err != nil {
		return ioErr(db.path, "sync the write-ahead log", err)
	}
	return nil
}

func (t *tx) finish() {
	t.db.rows.reset()
	t.done = true
	t.db.mu.Lock()
	t.db.inTx = false
	t.db.mu.Unlock()
}

// Close implements store.Tx: it rolls back unless committed.
func (t *tx) Close() error {
	if t.done {
		return nil
	}
	t.c.execDirect(bg, "ROLLBACK") // fails harmlessly when SQLite already rolled back
	t.finish()
	return nil
}

// isConstraint reports a UNIQUE/PRIMARY KEY violation naming what.
func isConstraint(err error, what string) bool {
	var se sqliteError
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT && strings.Contains(se.Error(), what)
}

// mapErr turns an SQLite or OS error into a coded store error.
func mapErr(path, what string, err error) error {
	if _, ok := errcode.As(err); ok {
		return err
	}
	e := &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: what, Err: err}
	var se sqliteError
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL:
			e.Msg, e.Hint = what+": the disk is full", "free space; the store holds every batch committed before this one"
		case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			e.Msg, e.Hint = what+": the store is read-only", "check the permissions of the store file and its directory"
		case sqlite3.SQLITE_NOTADB:
			e.Msg = what + ": not an Arxi store: the file is not an SQLite database"
		case sqlite3.SQLITE_CORRUPT:
			e.Code, e.Msg = errcode.StoreCorrupt, what+": the SQLite file is damaged"
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			e.Code, e.Msg = errcode.StoreLocked, what+": the database is locked"
		case sqlite3.SQLITE_CANTOPEN:
			e.Msg = what + ": cannot open the database file"
		}
	}
	return e
}

func ioErr(path, what string, err error) error {
	return &errcode.Error{Code: errcode.StoreIO, Path: path, Msg: what, Err: unwrapPath(err)}
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// syncDir fsyncs a directory so a new file's entry is durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

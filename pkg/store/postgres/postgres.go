// Package postgres is the PostgreSQL store.Backend (SPEC §8.1), through
// github.com/jackc/pgx/v5: a pool of connections for readers and one
// dedicated connection for the writer.
//
// # Addressing and logs
//
// A store is a log in a database, named by a URL:
// postgres://USER@HOST:PORT/DB?log=NAME (see ParseURL). One database
// holds many logs; every table is keyed by the log first, and no query
// reads another log's rows. Passwords come from PGPASSWORD or a password
// file, never from the URL, and no error names one.
//
// # One writer per log
//
// A writer takes a session-level advisory lock on its log, on the
// connection it writes through, for its whole life: a second writer, on
// any host, fails at once with store.locked. When the writer's process or
// host dies the server ends its session and frees the lock; a successor
// re-verifies the head before it appends, like every writer (store.Open).
// The writer never reconnects: a lost connection is a lost lock, and the
// writer fails with store.io.
//
// # Durability and snapshots
//
// A writer refuses a server or role where synchronous_commit or fsync is
// off, unless Config.Synchronous is "normal", so a commit has reached the
// write-ahead log on disk when Tx.Commit returns; a transaction of
// BeginEarly, when the Durable after its commit returns. Readers read in
// repeatable-read, read-only transactions: a consistent snapshot that
// never waits for the writer.
//
// # Schema
//
// The tables live in the schema arxi (see schema.go; labels are indexed
// by postings, see postings.go), versioned in
// arxi.schema_version. The writer migrates an older schema in one
// transaction on open; a newer one fails with store.schema_unsupported.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockClass is the first key of Arxi's advisory locks ("ARXI"); the
// second is a log's id, or 0 for the lock that serialises migrations.
const lockClass = 0x41525849

// MinServerVersion is the oldest PostgreSQL server supported (14).
const MinServerVersion = 140000

// Config configures Open.
type Config struct {
	// URL is the store URL (see ParseURL).
	URL string
	// ReadOnly opens for reading only: no lock, no schema changes, no new
	// log; a database without the store or without the log is an error
	// wrapping fs.ErrNotExist.
	ReadOnly bool
	// Synchronous is "full" (the default) or "extra": the server must
	// commit synchronously; or "normal": commits are asynchronous
	// (synchronous_commit off for the writer's session), faster, and a
	// server crash may lose the last commits, never corrupt the store.
	Synchronous string
	// MaxReaders bounds the readers' connection pool; 0 means 4.
	MaxReaders int32
}

// DB is a PostgreSQL store backend: one log of one database.
type DB struct {
	url    *URL
	secret string // the password pgx found, scrubbed from every error
	pool   *pgxpool.Pool
	w      *pgx.Conn // the writer's connection; nil when read-only
	log    int32     // the log's id
	ro     bool
	normal bool // Config.Synchronous normal: every commit is asynchronous

	mu     sync.Mutex
	cur    *tx // the open write transaction
	closed bool
}

var _ store.Backend = (*DB)(nil)

// OpenReader opens the log at url for reading only, as every reading
// command does: no writer lock, no verification at open (a snapshot
// verifies each row it reads). Closing the Store closes the connections.
func OpenReader(ctx context.Context, url string) (*store.Store, error) {
	db, err := Open(ctx, Config{URL: url, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return store.Reader(db), nil
}

// Open opens the log at cfg.URL. A writer creates or migrates the schema,
// creates the log when it is new, and takes the log's writer lock.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	u, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	sync := strings.ToLower(cfg.Synchronous)
	switch sync {
	case "", "full", "extra", "normal":
	default:
		return nil, errcode.New(errcode.ConfigInvalid, "synchronous %q: want full, extra or normal", cfg.Synchronous)
	}
	pc, err := pgxpool.ParseConfig(u.conn)
	if err != nil {
		return nil, &errcode.Error{Code: errcode.ConfigInvalid, Field: "store", Msg: "invalid store URL " + u.display,
			Err: errors.New(scrubUserinfo(u.conn, err.Error()))}
	}
	db := &DB{url: u, secret: pc.ConnConfig.Password, ro: cfg.ReadOnly, normal: sync == "normal"}
	rp := pc.ConnConfig.RuntimeParams
	if _, ok := rp["application_name"]; !ok {
		rp["application_name"] = "arxi"
	}
	if _, ok := rp["plan_cache_mode"]; !ok {
		// Plan each query for its values: a generic plan cannot know
		// whether a position or time bound selects ten rows or a million.
		rp["plan_cache_mode"] = "force_custom_plan"
	}
	pc.MaxConns = 4
	if cfg.MaxReaders > 0 {
		pc.MaxConns = cfg.MaxReaders
	}
	pc.MinConns = 0
	ok := false
	defer func() {
		if !ok {
			db.Close()
		}
	}()
	if !cfg.ReadOnly {
		if db.w, err = pgx.ConnectConfig(ctx, pc.ConnConfig.Copy()); err != nil {
			return nil, db.err("connect", err)
		}
		if err := db.checkServer(ctx, sync == "normal"); err != nil {
			return nil, err
		}
		if err := db.migrate(ctx); err != nil {
			return nil, err
		}
		if err := db.openLog(ctx); err != nil {
			return nil, err
		}
		if err := db.lock(ctx); err != nil {
			return nil, err
		}
		// A batch's transaction stays open while the writer waits for its
		// input, which may be a live pipe: a server's idle timeout for
		// transactions would end the writer's session, and its lock.
		set := "SET idle_in_transaction_session_timeout = 0"
		if sync == "normal" {
			set += "; SET synchronous_commit = off"
		}
		if _, err := db.w.Exec(ctx, set, pgx.QueryExecModeSimpleProtocol); err != nil {
			return nil, db.err("set the writer's session", err)
		}
	}
	if db.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, db.err("connect", err)
	}
	if cfg.ReadOnly {
		if err := db.checkReader(ctx); err != nil {
			return nil, err
		}
	}
	ok = true
	return db, nil
}

// URL returns the store's URL as it is safe to print.
func (db *DB) URL() *URL { return db.url }

// checkServer refuses what would break SPEC §8.1's promises: an old
// server, a standby, and (unless normal) commits that return before they
// are durable.
func (db *DB) checkServer(ctx context.Context, normal bool) error {
	var version int
	var syncCommit, fsync string
	var standby bool
	err := db.w.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('synchronous_commit'), current_setting('fsync'), pg_is_in_recovery()").
		Scan(&version, &syncCommit, &fsync, &standby)
	if err != nil {
		return db.err("read the server's settings", err)
	}
	bad := func(msg, hint string) error {
		return &errcode.Error{Code: errcode.StoreIO, Path: db.url.display, Msg: msg, Hint: hint}
	}
	switch {
	case version < MinServerVersion:
		return bad(fmt.Sprintf("PostgreSQL %d.%d is older than 14, the oldest Arxi supports", version/10000, version%10000), "")
	case standby:
		return bad("the server is a standby (in recovery): the writer needs the primary", "point --store at the primary; readers such as arxi-query may use a standby")
	case normal:
	case syncCommit == "off":
		return bad("synchronous_commit is off for this server, database or role: a receipt could be written for a commit the server then loses",
			"turn it on (ALTER ROLE … SET synchronous_commit = on), or accept the risk with --synchronous normal")
	case fsync == "off":
		return bad("fsync is off on this server: a receipt could be written for a commit a power loss then loses",
			"turn fsync on in postgresql.conf, or accept the risk with --synchronous normal")
	}
	return nil
}

// schemaState reads the arxi schema's version: 0 when the database has
// none yet.
func schemaState(ctx context.Context, q pgx.Tx) (int, error) {
	var hasSchema, hasVersion bool
	if err := q.QueryRow(ctx, "SELECT to_regnamespace('arxi') IS NOT NULL, to_regclass('arxi.schema_version') IS NOT NULL").Scan(&hasSchema, &hasVersion); err != nil {
		return 0, err
	}
	switch {
	case !hasSchema:
		return 0, nil
	case !hasVersion:
		return 0, errNotArxi
	}
	var version int
	if err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM arxi.schema_version").Scan(&version); err != nil {
		return 0, err
	}
	return version, nil
}

var errNotArxi = errors.New("not arxi")

func (db *DB) schemaErr(version int, err error) error {
	switch {
	case errors.Is(err, errNotArxi):
		return &errcode.Error{Code: errcode.StoreIO, Path: db.url.display, Msg: "not an Arxi store: the database has a schema arxi without arxi.schema_version",
			Hint: "use another database, or drop that schema"}
	case err != nil:
		return db.err("read the store's schema", err)
	case version > SchemaVersion:
		return &errcode.Error{Code: errcode.StoreSchema, Path: db.url.display,
			Msg:  fmt.Sprintf("the store has schema version %d; this Arxi reads up to version %d", version, SchemaVersion),
			Hint: "use a newer Arxi"}
	}
	return nil
}

// migrate creates or migrates the schema in one transaction, under the
// migration lock.
func (db *DB) migrate(ctx context.Context) error {
	tx, err := db.w.Begin(ctx)
	if err != nil {
		return db.err("migrate schema", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, 0)", int32(lockClass)); err != nil {
		return db.err("migrate schema", err)
	}
	version, err := schemaState(ctx, tx)
	if err := db.schemaErr(version, err); err != nil {
		return err
	}
	if version == SchemaVersion {
		return nil
	}
	for v := version; v < SchemaVersion; v++ {
		if _, err := tx.Exec(ctx, migrations[v], pgx.QueryExecModeSimpleProtocol); err != nil {
			return db.err(fmt.Sprintf("migrate schema to version %d", v+1), err)
		}
		if up := upgrades[v]; up != nil {
			if err := up(ctx, tx); err != nil {
				return db.err(fmt.Sprintf("migrate schema to version %d", v+1), err)
			}
		}
		if _, err := tx.Exec(ctx, "INSERT INTO arxi.schema_version (version) VALUES ($1)", v+1); err != nil {
			return db.err(fmt.Sprintf("migrate schema to version %d", v+1), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return db.err("migrate schema", err)
	}
	return nil
}

// openLog finds the log's id, creating the log when it is new.
func (db *DB) openLog(ctx context.Context) error {
	if _, err := db.w.Exec(ctx, "INSERT INTO arxi.logs (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", db.url.Log); err != nil {
		return db.err("create log "+db.url.Log, err)
	}
	if err := db.w.QueryRow(ctx, "SELECT id FROM arxi.logs WHERE name = $1", db.url.Log).Scan(&db.log); err != nil {
		return db.err("read log "+db.url.Log, err)
	}
	return nil
}

// lock takes the log's writer lock, or fails at once with store.locked.
func (db *DB) lock(ctx context.Context) error {
	var got bool
	if err := db.w.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", int32(lockClass), db.log).Scan(&got); err != nil {
		return db.err("take the writer lock", err)
	}
	if got {
		return nil
	}
	e := &errcode.Error{Code: errcode.StoreLocked, Path: db.url.display, Msg: "another writer holds log " + db.url.Log,
		Hint: "one writer per log: stop the other arxi-append or sidecar, or write to another log (?log=NAME)"}
	var pid int32
	var app, addr string
	err := db.w.QueryRow(ctx, fmt.Sprintf(`SELECT l.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local')
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.classid = %d AND l.objid = $1 AND l.objsubid = 2 AND l.granted`, lockClass), db.log).Scan(&pid, &app, &addr)
	if err == nil {
		e.Msg += fmt.Sprintf(" (server process %d, %s, from %s)", pid, app, addr)
	}
	return e
}

// checkReader checks that the database holds the store, at this schema
// version, and the log, and finds the log's id.
func (db *DB) checkReader(ctx context.Context) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return db.err("connect", err)
	}
	defer tx.Rollback(context.Background())
	version, err := schemaState(ctx, tx)
	if err := db.schemaErr(version, err); err != nil {
		return err
	}
	switch {
	case version == 0:
		return &errcode.Error{Code: errcode.StoreIO, Path: db.url.display, Msg: "the database holds no Arxi store yet", Err: fs.ErrNotExist,
			Hint: "create one with arxi-append --store URL"}
	case version < SchemaVersion:
		return &errcode.Error{Code: errcode.StoreSchema, Path: db.url.display,
			Msg:  fmt.Sprintf("the store has schema version %d and needs migrating to %d", version, SchemaVersion),
			Hint: "open it once with arxi-append, which migrates it"}
	}
	err = tx.QueryRow(ctx, "SELECT id FROM arxi.logs WHERE name = $1", db.url.Log).Scan(&db.log)
	if errors.Is(err, pgx.ErrNoRows) {
		return &errcode.Error{Code: errcode.StoreIO, Path: db.url.display, Msg: "the database holds no log " + db.url.Log, Err: fs.ErrNotExist,
			Hint: "arxi-append log list --store URL lists the logs; arxi-append --store URL creates one"}
	}
	if err != nil {
		return db.err("read log "+db.url.Log, err)
	}
	return nil
}

// Close implements store.Backend: it closes the writer's connection,
// which ends its session and so releases its lock, and the readers'
// pool. A reader's connection still in a View closes when the View does.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	cur := db.cur
	db.mu.Unlock()
	if cur != nil {
		cur.Close() // ends its COPY and rolls back
	}
	if db.pool != nil {
		// pgxpool's Close waits for connections in use.
		go db.pool.Close()
	}
	if db.w != nil {
		// Release the lock before the session ends: the server ends it
		// after the connection closes, and a successor starting at once
		// would find the lock still held.
		if db.log != 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			db.w.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", int32(lockClass), db.log)
			cancel()
		}
		if err := db.w.Close(context.Background()); err != nil {
			return db.err("close store", err)
		}
	}
	return nil
}

func (db *DB) errClosed() error {
	return &errcode.Error{Code: errcode.StoreIO, Path: db.url.display, Msg: "the store is closed"}
}

// View implements store.Backend: a repeatable-read, read-only transaction
// on a pooled connection, its snapshot fixed at once.
func (db *DB) View(ctx context.Context) (store.View, error) {
	db.mu.Lock()
	closed := db.closed
	db.mu.Unlock()
	if closed {
		return nil, db.errClosed()
	}
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, db.err("begin read", err)
	}
	v := &view{db: db, tx: tx}
	if _, err := tx.Exec(ctx, "SELECT 1"); err != nil {
		v.Close()
		return nil, db.err("begin read", err)
	}
	return v, nil
}

// Begin implements store.Backend: a transaction on the writer's
// connection.
func (db *DB) Begin(ctx context.Context) (store.Tx, error) { return db.begin(ctx, false) }

// BeginEarly implements store.EarlyBackend: a transaction on the writer's
// connection whose commit does not wait for the write-ahead log to reach
// the disk (synchronous_commit off for that transaction alone); Durable
// then waits for it. With Config.Synchronous normal it is Begin.
func (db *DB) BeginEarly(ctx context.Context) (store.Tx, error) { return db.begin(ctx, !db.normal) }

// earlyBegin begins a transaction that commits asynchronously, in one
// round trip.
const earlyBegin = "BEGIN; SET LOCAL synchronous_commit = off"

// Durable implements store.EarlyBackend. A commit waits for the
// write-ahead log up to its own commit record, and so for every commit
// before it: Durable commits a write of its own (the log's durable_at) on
// a pooled connection, as synchronously as the writer's plain commits,
// which makes every transaction the writer committed before it exactly as
// durable as a plain commit would have. It may run while the writer
// writes the next transaction. With Config.Synchronous normal it does
// nothing.
func (db *DB) Durable() error {
	if db.normal {
		return nil
	}
	ctx, cancel := context.WithTimeout(bg, commitTimeout)
	defer cancel()
	_, err := db.pool.Exec(ctx, "UPDATE arxi.logs SET durable_at = now() WHERE id = $1", db.log)
	return db.err("make the batch durable", err)
}

var _ store.EarlyBackend = (*DB)(nil)

func (db *DB) begin(ctx context.Context, early bool) (store.Tx, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	switch {
	case db.closed:
		return nil, db.errClosed()
	case db.ro:
		return nil, &errcode.Error{Code: errcode.StoreIO, Path: db.url.display, Msg: "the store is open read-only"}
	case db.cur != nil:
		return nil, &errcode.Error{Code: errcode.Internal, Path: db.url.display, Msg: "a write transaction is already open"}
	}
	var opts pgx.TxOptions
	if early {
		opts.BeginQuery = earlyBegin
	}
	ptx, err := db.w.BeginTx(ctx, opts)
	if err != nil {
		return nil, db.err("begin write", err)
	}
	db.cur = &tx{view: view{db: db, tx: ptx}}
	return db.cur, nil
}

// err turns a pgx or server error into a coded store error that names
// the store by its printable URL and never holds the password.
func (db *DB) err(what string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errcode.As(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errcode.Wrap(errcode.IOFailed, err, "interrupted")
	}
	e := &errcode.Error{Code: errcode.StoreIO, Path: db.url.display, Msg: what, Err: errors.New(db.scrub(err.Error()))}
	var pe *pgconn.PgError
	var ce *pgconn.ConnectError
	switch {
	case errors.As(err, &pe):
		switch pe.Code {
		case "53100":
			e.Msg, e.Hint = what+": the server's disk is full", "free space on the server; the store holds every batch committed before this one"
		case "42501":
			e.Msg, e.Hint = what+": permission denied", "see docs/store.md, roles and grants: a writer needs USAGE and CREATE on the database's arxi schema, readers SELECT"
		case "28P01", "28000":
			e.Msg, e.Hint = what+": the server refused the login", "give the password in PGPASSWORD or a password file (~/.pgpass, or PGPASSFILE)"
		case "3D000":
			e.Msg, e.Hint = what+": the database does not exist", "create it (createdb NAME); Arxi creates its tables, not the database"
		case "57P01", "57P02", "57P03":
			e.Msg = what + ": the server is shutting down or starting up"
		case "25006":
			e.Msg, e.Hint = what+": the server is read-only", "a writer needs the primary"
		case "XX001", "XX002":
			e.Code, e.Msg = errcode.StoreCorrupt, what+": the server reports damaged data"
		}
	case errors.As(err, &ce):
		e.Msg = what + ": cannot reach the server"
	}
	return e
}

// scrub removes the password from an error text, should any library ever
// put it there.
func (db *DB) scrub(s string) string {
	if db.secret != "" {
		s = strings.ReplaceAll(s, db.secret, "…")
	}
	return s
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"github.com/dustin/go-humanize"
	"github.com/jackc/pgx/v5"
)

// Log describes one log of a database, as its rows say (unverified: the
// counts are those of the segment rows; arxi-append doctor verifies).
type Log struct {
	Name        string
	Segments    int64
	Envelopes   int64
	OpenSegment *scalar.UUID // nil when no segment is open
	Writer      bool         // a writer holds the log's lock
	CreatedAt   time.Time
}

// writerHeld is the SQL condition that a writer holds the lock of the log
// with id logID (a column or a parameter).
func writerHeld(logID string) string {
	return fmt.Sprintf(`EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.classid = %d AND k.objid = %s AND k.objsubid = 2 AND k.granted)`, lockClass, logID)
}

// Logs lists the logs of the database at url (its log parameter, if any,
// is ignored), by name. A database without the store has none.
func Logs(ctx context.Context, url string) ([]Log, error) {
	u, err := ParseURL(url)
	if err != nil {
		return nil, err
	}
	db := &DB{url: u}
	c, err := pgx.Connect(ctx, u.conn)
	if err != nil {
		return nil, db.err("connect", err)
	}
	defer c.Close(context.Background())
	db.secret = c.Config().Password
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, db.err("begin read", err)
	}
	defer tx.Rollback(context.Background())
	version, err := schemaState(ctx, tx)
	if err := db.schemaErr(version, err); err != nil || version == 0 {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT l.name, count(s.seq), coalesce(sum(s.envelope_count), 0)::bigint,
			(SELECT o.segment_id FROM arxi.segments o WHERE o.log_id = l.id AND o.seal IS NULL LIMIT 1),
			`+writerHeld("l.id")+`, l.created_at
		FROM arxi.logs l LEFT JOIN arxi.segments s ON s.log_id = l.id
		GROUP BY l.id ORDER BY l.name`)
	if err != nil {
		return nil, db.err("read logs", err)
	}
	defer rows.Close()
	var out []Log
	for rows.Next() {
		var l Log
		var open *[16]byte
		if err := rows.Scan(&l.Name, &l.Segments, &l.Envelopes, &open, &l.Writer, &l.CreatedAt); err != nil {
			return nil, db.err("read logs", err)
		}
		if open != nil {
			id := scalar.UUID(*open)
			l.OpenSegment = &id
		}
		l.CreatedAt = l.CreatedAt.UTC()
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, db.err("read logs", err)
	}
	return out, nil
}

// Inspect implements store.Inspector: the schema version, whether a
// writer holds the log (and who), the server's version and durability
// settings, and the sizes of the database and of the envelopes and
// postings tables (every log's).
func (db *DB) Inspect(ctx context.Context) (*store.Inspection, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, db.err("begin read", err)
	}
	defer tx.Rollback(context.Background())
	in := &store.Inspection{Backend: "postgres", Writer: "free"}
	version, err := schemaState(ctx, tx)
	if err := db.schemaErr(version, err); err != nil {
		return nil, err
	}
	in.SchemaVersion = version
	var server, syncCommit string
	var dbSize, envSize, postSize int64
	err = tx.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('synchronous_commit'),
		pg_database_size(current_database()), pg_total_relation_size('arxi.envelopes'), pg_total_relation_size('arxi.postings')`).
		Scan(&server, &syncCommit, &dbSize, &envSize, &postSize)
	if err != nil {
		return nil, db.err("read the server's settings", err)
	}
	var pid int32
	var app, addr string
	var since time.Time
	err = tx.QueryRow(ctx, fmt.Sprintf(`SELECT l.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), coalesce(a.backend_start, now())
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.classid = %d AND l.objid = $1 AND l.objsubid = 2 AND l.granted`, lockClass), db.log).Scan(&pid, &app, &addr, &since)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, db.err("read the writer lock", err)
	default:
		in.Writer = "held"
		in.WriterInfo = fmt.Sprintf("server process %d (%s, from %s, connected %s)", pid, app, addr, since.UTC().Format(time.RFC3339))
	}
	bytes := func(name string, n int64) store.Fact {
		return store.Fact{Name: name, Value: n, Text: humanize.IBytes(uint64(max(n, 0)))}
	}
	in.Facts = append(in.Facts,
		store.Fact{Name: "server_version", Value: server, Text: server},
		store.Fact{Name: "synchronous_commit", Value: syncCommit, Text: syncCommit},
		bytes("database_bytes", dbSize),
		bytes("envelopes_table_bytes", envSize),
		bytes("postings_table_bytes", postSize))
	return in, nil
}

var _ store.Inspector = (*DB)(nil)

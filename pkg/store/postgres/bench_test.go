package postgres

// Benchmarks of SPEC §8.1's store, beside SQLite's in the same run (make
// bench):
//
//	go test -run '^$' -bench Append -cpu 1 ./pkg/store/postgres
//	go test -run '^$' -bench Million -benchtime 1x ./pkg/store/postgres
//	go test -run '^$' -bench IndexChoice -benchtime 1x ./pkg/store/postgres
//
// The server is a private one on a local unix socket, its data on disk
// (the temp directory, as SQLite's file), fsync and synchronous_commit on.
// The 1,000,000-envelope log is built once (a minute or two) and kept in
// the temp directory with its server's data.

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/cputime"
	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/internal/storebench"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
	"github.com/jackc/pgx/v5"
)

const benchN = 50_000

// BenchmarkAppend appends 50,000 sealed 1 KiB envelopes to a new log in
// batches of 1000 (every hash recomputed, every row indexed, every commit
// durable), and in the same run appends them to a new SQLite store and
// COPYs the same envelope lines into a one-column table in the same
// batches, each batch committed: the server's own cost for these bytes. It
// reports the three rates and the ratios to SQLite and to COPY.
func BenchmarkAppend(b *testing.B) {
	srv := pgtest.NewIn(b, os.TempDir())
	stream := storebench.Seal(b, events.Store.Lines(0, benchN), 0)
	lines := storebench.EnvelopeLines(stream)
	var pg, sq, cp, pgCPU, sqCPU time.Duration
	var pgServer, cpServer time.Duration
	var pgSize int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		db := srv.NewDatabase(b)
		url := pgtest.LogURL(db, "bench")
		dir := b.TempDir()
		b.StartTimer()

		c, start := cputime.Self(), time.Now()
		w, err := Open(ctx, Config{URL: url})
		if err != nil {
			b.Fatal(err)
		}
		server := backendCPU(b, w.w)
		storebench.AppendHook(b, w, stream, 1000, func() { pgServer += server() })
		pg, pgCPU = pg+time.Since(start), pgCPU+cputime.Self()-c

		c, start = cputime.Self(), time.Now()
		s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "arxi.db")})
		if err != nil {
			b.Fatal(err)
		}
		storebench.Append(b, s, stream, 1000)
		sq, sqCPU = sq+time.Since(start), sqCPU+cputime.Self()-c

		start = time.Now()
		cpServer += copyPlain(b, db, lines, 1000)
		cp += time.Since(start)

		b.StopTimer()
		v, err := pgtest.Value(db, "SELECT (pg_total_relation_size('arxi.envelopes') + pg_total_relation_size('arxi.segments') + pg_total_relation_size('arxi.postings'))::text")
		if err != nil {
			b.Fatal(err)
		}
		fmt.Sscan(v, &pgSize)
		b.StartTimer()
	}
	n := float64(benchN * b.N)
	b.ReportMetric(n/pg.Seconds(), "envelopes/s")
	b.ReportMetric(n/sq.Seconds(), "sqlite-envelopes/s")
	b.ReportMetric(n/cp.Seconds(), "copy-rows/s")
	b.ReportMetric(sq.Seconds()/pg.Seconds(), "ratio-to-sqlite")
	b.ReportMetric(cp.Seconds()/pg.Seconds(), "ratio-to-copy")
	// CPU time does not count waiting for the disk or for other processes
	// on a shared machine: the server's is its writer session's.
	b.ReportMetric(float64(pgCPU.Nanoseconds())/1e3/n, "client-cpu-µs/envelope")
	b.ReportMetric(float64(pgServer.Nanoseconds())/1e3/n, "server-cpu-µs/envelope")
	b.ReportMetric(float64(sqCPU.Nanoseconds())/1e3/n, "sqlite-cpu-µs/envelope")
	b.ReportMetric(float64(cpServer.Nanoseconds())/1e3/n, "copy-server-cpu-µs/row")
	b.ReportMetric(float64(pgSize)/benchN, "bytes/envelope")
}

// copyPlain COPYs lines into a new one-column table of the database at db,
// batch rows per committed transaction, and returns the server session's
// CPU time.
func copyPlain(b *testing.B, db string, lines [][]byte, batch int) time.Duration {
	c, err := pgx.Connect(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	server := backendCPU(b, c)
	if _, err := c.Exec(ctx, "CREATE TABLE plain (line bytea NOT NULL)"); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(lines); i += batch {
		tx, err := c.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rows := lines[i:min(i+batch, len(lines))]
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"plain"}, []string{"line"}, pgx.CopyFromSlice(len(rows), func(j int) ([]any, error) { return []any{rows[j]}, nil })); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return server()
}

// backendCPU returns a function that returns the CPU time the server
// process of connection c has used since, from /proc (0 where there is
// none).
func backendCPU(b testing.TB, c *pgx.Conn) func() time.Duration {
	var pid int
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	read := func() time.Duration {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0
		}
		// Fields after the command's closing parenthesis: utime and stime
		// are the 12th and 13th, in clock ticks (100 a second on Linux).
		f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:]))
		var u, s int64
		fmt.Sscan(f[11], &u)
		fmt.Sscan(f[12], &s)
		return time.Duration(u+s) * 10 * time.Millisecond
	}
	start := read()
	return func() time.Duration { return read() - start }
}

// bigLog returns the URL of a log of 1,000,000 1 KiB envelopes in
// segments of 100,000 (storebench.FillBig) on a server whose data is kept
// in the temp directory, named by a hash of the schema, so that it is
// built once.
func bigLog(b *testing.B) string {
	schema := sha256.Sum256([]byte(strings.Join(migrations, "")))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("arxi-bench-pg-%d-%x", storebench.BigN, schema[:4]))
	srv := pgtest.Persistent(b, dir)
	url := pgtest.LogURL(srv.URL("postgres"), "big")
	if s, err := OpenReader(ctx, url); err == nil {
		big := storebench.IsBig(s)
		s.Close()
		if big {
			return url
		}
	}
	b.Logf("building %s", dir)
	srv.Exec(b, srv.URL("postgres"), "DROP SCHEMA IF EXISTS arxi CASCADE")
	w, err := Open(ctx, Config{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	s, _ := store.Open(ctx, w, store.Config{})
	storebench.FillBig(b, s)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	srv.Exec(b, srv.URL("postgres"), "VACUUM ANALYZE")
	return url
}

// BenchmarkQueryTraceMillion is SQLite's on a 1,000,000-envelope log:
// the first page of a trace, from opening the store (storebench.QueryTrace).
func BenchmarkQueryTraceMillion(b *testing.B) {
	url := bigLog(b)
	v, err := pgtest.Value(url[:strings.LastIndex(url, "&log=")], "SELECT pg_database_size(current_database())::text")
	if err != nil {
		b.Fatal(err)
	}
	var size float64
	fmt.Sscan(v, &size)
	storebench.QueryTrace(b, func() (*store.Store, error) { return OpenReader(ctx, url) }, size/storebench.BigN)
}

// BenchmarkBundleMillion is SQLite's on a 1,000,000-envelope log: the
// bundle of one trace of consecutive events (storebench.BundleTrace).
func BenchmarkBundleMillion(b *testing.B) {
	url := bigLog(b)
	storebench.BundleTrace(b, func() (*store.Store, error) { return OpenReader(ctx, url) })
}

// BenchmarkIndexChoice measures what the label index costs the server,
// the way the store writes (a COPY of each batch's envelope rows, 1000 a
// transaction, every commit durable), on the rows of 50,000 envelopes:
// with no label index (the primary key, the unique envelope id and the
// block range index on claimed_at only), with the postings the store
// keeps, with the same postings compressed (the default
// toast_tuple_target), and with the B-trees of schema version 3 on the
// six label columns instead (docs/store.md). It reports the server
// session's CPU per row and the bytes per envelope of the envelopes and
// postings tables.
func BenchmarkIndexChoice(b *testing.B) {
	srv := pgtest.NewIn(b, os.TempDir())
	seg, rows := storebench.Rows(b, storebench.Seal(b, events.Store.Lines(0, benchN), 0))
	for _, variant := range []string{"none", "postings", "postings-compressed", "btrees"} {
		b.Run(variant, func(b *testing.B) {
			var wall, server time.Duration
			var size int64
			for range b.N {
				db := srv.NewDatabase(b)
				w, err := Open(ctx, Config{URL: pgtest.LogURL(db, "bench")})
				if err != nil {
					b.Fatal(err)
				}
				if variant == "postings-compressed" {
					srv.Exec(b, db, "ALTER TABLE arxi.postings RESET (toast_tuple_target)")
				}
				if variant == "btrees" {
					srv.Exec(b, db, `CREATE INDEX envelopes_event_type ON arxi.envelopes (log_id, event_type, position);
						CREATE INDEX envelopes_actor ON arxi.envelopes (log_id, actor_id, position);
						CREATE INDEX envelopes_environment ON arxi.envelopes (log_id, environment_id, position);
						CREATE INDEX envelopes_adapter ON arxi.envelopes (log_id, adapter_id, position);
						CREATE INDEX envelopes_trace ON arxi.envelopes (log_id, trace_id, position) WHERE trace_id IS NOT NULL;
						CREATE INDEX envelopes_session ON arxi.envelopes (log_id, session_id, position) WHERE session_id IS NOT NULL`)
				}
				cpu := backendCPU(b, w.w)
				start := time.Now()
				var t store.Tx
				for i := range rows {
					if i%1000 == 0 {
						if t, err = w.Begin(ctx); err != nil {
							b.Fatal(err)
						}
						if i == 0 {
							if err := t.AddSegment(ctx, seg); err != nil {
								b.Fatal(err)
							}
						}
					}
					if err := t.AddEnvelope(ctx, &rows[i]); err != nil {
						b.Fatal(err)
					}
					if i%1000 == 999 || i == len(rows)-1 {
						if !strings.HasPrefix(variant, "postings") {
							t.(*tx).postings = postings{}
						}
						if err := t.Commit(); err != nil {
							b.Fatal(err)
						}
					}
				}
				wall, server = wall+time.Since(start), server+cpu()
				w.Close()
				v, err := pgtest.Value(db, "SELECT (pg_total_relation_size('arxi.envelopes') + pg_total_relation_size('arxi.postings'))::text")
				if err != nil {
					b.Fatal(err)
				}
				fmt.Sscan(v, &size)
			}
			n := float64(len(rows) * b.N)
			b.ReportMetric(n/wall.Seconds(), "rows/s")
			b.ReportMetric(float64(server.Nanoseconds())/1e3/n, "server-cpu-µs/row")
			b.ReportMetric(float64(size)/float64(len(rows)), "bytes/envelope")
		})
	}
}

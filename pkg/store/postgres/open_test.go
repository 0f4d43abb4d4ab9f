package postgres

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

func wantCode(t *testing.T, what string, err error, code errcode.Code) {
	t.Helper()
	if !errors.Is(err, code) {
		t.Fatalf("%s: error = %v, want %s", what, err, code)
	}
}

// TestSameBytesAsSQLite appends one stream to an SQLite store and to a
// log, and copies each into the other backend: streams, bundles (whole,
// by trace, by time) and every cursor page are the same bytes (SPEC §8.1).
func TestSameBytesAsSQLite(t *testing.T) {
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 9}, storetest.Events(0, 50), true)
	sq, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "arxi.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	sqs := storetest.Fill(t, sq, in)
	pgs := storetest.Fill(t, openWriter(t, newLog(t)), in)
	// Copied across: what arxi-query --format stream | arxi-append does.
	copied := storetest.Fill(t, openWriter(t, newLog(t)), storetest.StreamOf(t, sqs, store.Filter{}))
	since, _ := scalar.ParseTimestamp("2026-11-22T10:00:07Z")
	until, _ := scalar.ParseTimestamp("2026-11-22T10:00:31Z")
	filters := []store.Filter{{}, {TraceID: scalar.MustLabel("trace-2")}, {EventTypes: []scalar.Token{scalar.MustToken("tool.call"), scalar.MustToken("session.start")}},
		{Since: &since, Until: &until}, {ActorID: scalar.MustLabel("agent:1"), SessionID: scalar.MustLabel("sess-3")}}
	selectors := []bundle.Selector{{All: true}, {TraceIDs: []scalar.Label{scalar.MustLabel("trace-1")}}, {Since: &since, Until: &until},
		{EventTypes: []scalar.Token{scalar.MustToken("policy.decision")}, SessionIDs: []scalar.Label{scalar.MustLabel("sess-0")}}}
	want := outputs(t, sqs, filters, selectors)
	for name, s := range map[string]*store.Store{"postgres": pgs, "copied from sqlite": copied} {
		got := outputs(t, s, filters, selectors)
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%s: output %d differs from SQLite's:\n%.300s\nwant\n%.300s", name, i, got[i], want[i])
			}
		}
	}
	back, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "back.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if got := storetest.StreamOf(t, storetest.Fill(t, back, storetest.StreamOf(t, pgs, store.Filter{})), store.Filter{}); !bytes.Equal(got, in) {
		t.Error("a log copied into SQLite differs")
	}
}

// outputs is every stream, query page (pages of 4) and bundle of s for the
// filters and selectors, in order.
func outputs(t *testing.T, s *store.Store, filters []store.Filter, selectors []bundle.Selector) [][]byte {
	t.Helper()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var out [][]byte
	for _, f := range filters {
		var b bytes.Buffer
		if err := sn.WriteStream(ctx, &b, f); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Bytes())
		for cursor := ""; ; {
			p, err := sn.Query(ctx, f, cursor, 4)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p.AppendJSON(nil))
			if cursor = p.Next; cursor == "" {
				break
			}
		}
	}
	for _, sel := range selectors {
		if err := sel.Normalize(); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := bundle.Build(ctx, storesource.New(sn), sel, &b, bundle.Options{}); err != nil {
			t.Fatalf("bundle %v: %v", sel, err)
		}
		out = append(out, b.Bytes())
	}
	return out
}

// TestLogsIsolated: two logs of one database hold the same stream, ids
// and all, and a third another; each reads back only its own, a writer
// of one never blocks another, and a damaged log leaves the others whole.
func TestLogsIsolated(t *testing.T) {
	a, b, c := newLog(t), newLog(t), newLog(t)
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 5}, storetest.Events(0, 12), false)
	other := storetest.Seal(t, sealing.Config{RecorderID: scalar.MustLabel("other")}, storetest.Events(100, 103), true)
	wa, wb, wc := openWriter(t, a), openWriter(t, b), openWriter(t, c) // three writers at once
	sa, sb, sc := storetest.Fill(t, wa, in), storetest.Fill(t, wb, in), storetest.Fill(t, wc, other)
	for name, tc := range map[string]struct {
		s    *store.Store
		want []byte
	}{"a": {sa, in}, "b": {sb, in}, "c": {sc, other}} {
		if got := storetest.StreamOf(t, tc.s, store.Filter{}); !bytes.Equal(got, tc.want) {
			t.Errorf("log %s holds another stream", name)
		}
		sn, _ := tc.s.Snapshot(ctx)
		p, err := sn.Query(ctx, store.Filter{TraceID: scalar.MustLabel("trace-1")}, "", 0)
		sn.Close()
		if err != nil || len(p.Items) != strings.Count(string(tc.want), `"trace_id":"trace-1"`) {
			t.Errorf("log %s: trace query: %v", name, err)
		}
	}
	pgtest.Shared(t).Exec(t, database(t), "UPDATE arxi.envelopes SET payload = 'x' WHERE log_id = $1", wa.log)
	if err := check(a); !errors.Is(err, errcode.StoreCorrupt) {
		t.Errorf("damaged log: %v", err)
	}
	for _, u := range []string{b, c} {
		if err := check(u); err != nil {
			t.Errorf("another log of the database: %v", err)
		}
	}
	// A reader of a log that does not exist: not found, as a missing file.
	_, err := OpenReader(ctx, pgtest.LogURL(database(t), "never-written"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no log never-written") {
		t.Errorf("reader of a missing log: %v", err)
	}
}

// TestOneWriter: a second writer of a log fails at once with
// store.locked, naming the holder; readers never wait; a writer whose
// connection dies fails with store.io and never reconnects, and the
// server frees the lock for a successor, which re-verifies the head.
func TestOneWriter(t *testing.T) {
	url := newLog(t)
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 5), false)
	w := openWriter(t, url)
	s := storetest.Fill(t, w, in)
	start := time.Now()
	_, err := Open(ctx, Config{URL: url})
	wantCode(t, "second writer", err, errcode.StoreLocked)
	if !strings.Contains(err.Error(), "server process ") {
		t.Errorf("store.locked does not name the holder: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("store.locked took %v", d)
	}
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SetMeta(ctx, "k", "uncommitted"); err != nil {
		t.Fatal(err)
	}
	r, err := OpenReader(ctx, url)
	if err != nil {
		t.Fatalf("reader while writing: %v", err)
	}
	defer r.Close()
	if got := storetest.StreamOf(t, r, store.Filter{}); !bytes.Equal(got, in) {
		t.Error("reader during a write transaction")
	}
	if _, ok, _ := r.Meta(ctx, "k"); ok {
		t.Error("a reader sees an uncommitted write")
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := r.Meta(ctx, "k"); v != "uncommitted" {
		t.Errorf("a reader does not see the commit: %q", v)
	}
	// The server ends the writer's session, as when its host dies.
	pgtest.Shared(t).Exec(t, database(t), "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND objsubid = 2",
		int64(lockClass), w.log)
	err = s.SetMeta(ctx, "k", "after")
	wantCode(t, "write after the connection died", err, errcode.StoreIO)
	next, err := Open(ctx, Config{URL: url})
	if err != nil {
		t.Fatalf("successor: %v", err)
	}
	defer next.Close()
	pgtest.Shared(t).Exec(t, database(t), "UPDATE arxi.segments SET head = '\\x00000000000000000000000000000000000000000000000000000000000000ff' WHERE log_id = $1", next.log)
	_, err = store.Open(ctx, next, store.Config{})
	wantCode(t, "successor of a damaged head", err, errcode.StoreCorrupt)
	w.Close()
}

// TestSchema: migrations are all or nothing; a newer schema, a foreign
// arxi schema and a database without the store are refused before
// anything is written.
func TestSchema(t *testing.T) {
	srv := pgtest.Shared(t)
	t.Run("all or nothing", func(t *testing.T) {
		db := srv.NewDatabase(t)
		saved := migrations
		defer func() { migrations = saved }()
		// The last migration fails after it has done most of its work.
		migrations = append([]string(nil), saved...)
		migrations[SchemaVersion-1] += "; CREATE TABLE arxi.half_done (x int); SELECT 1/0"
		_, err := Open(ctx, Config{URL: pgtest.LogURL(db, "l")})
		wantCode(t, "failing migration", err, errcode.StoreIO)
		if !strings.Contains(err.Error(), fmt.Sprintf("migrate schema to version %d", SchemaVersion)) {
			t.Errorf("error %v does not name the migration", err)
		}
		var n string
		for _, q := range []string{"SELECT count(*)::text FROM pg_namespace WHERE nspname = 'arxi'", "SELECT count(*)::text FROM pg_tables WHERE tablename = 'half_done'"} {
			if n = value(t, db, q); n != "0" {
				t.Errorf("%s = %s after a failed migration", q, n)
			}
		}
	})
	t.Run("newer", func(t *testing.T) {
		db := srv.NewDatabase(t)
		w := openWriter(t, pgtest.LogURL(db, "l"))
		w.Close()
		srv.Exec(t, db, "INSERT INTO arxi.schema_version (version) VALUES (99)")
		for _, ro := range []bool{false, true} {
			_, err := Open(ctx, Config{URL: pgtest.LogURL(db, "l"), ReadOnly: ro})
			wantCode(t, "newer schema", err, errcode.StoreSchema)
			if !strings.Contains(err.Error(), "schema version 99") {
				t.Errorf("error %v", err)
			}
		}
	})
	t.Run("foreign schema", func(t *testing.T) {
		db := srv.NewDatabase(t)
		srv.Exec(t, db, "CREATE SCHEMA arxi; CREATE TABLE arxi.envelopes (x int)")
		_, err := Open(ctx, Config{URL: pgtest.LogURL(db, "l")})
		wantCode(t, "foreign schema", err, errcode.StoreIO)
		if !strings.Contains(err.Error(), "not an Arxi store") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("no store", func(t *testing.T) {
		_, err := OpenReader(ctx, pgtest.LogURL(srv.NewDatabase(t), "l"))
		if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, errcode.StoreIO) {
			t.Errorf("reader of an empty database: %v", err)
		}
		_, err = OpenReader(ctx, pgtest.LogURL(srv.URL("no_such_database"), "l"))
		wantCode(t, "missing database", err, errcode.StoreIO)
		if errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "the database does not exist") {
			t.Errorf("missing database: %v", err)
		}
	})
}

func value(t *testing.T, db, q string) string {
	t.Helper()
	v, err := pgtest.Value(db, q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDurability: a writer refuses a role whose commits are not
// synchronous unless told normal, and normal then commits
// asynchronously; readers do not care.
func TestDurability(t *testing.T) {
	srv := pgtest.Shared(t)
	db := srv.NewDatabase(t)
	url := pgtest.LogURL(db, "l")
	w := openWriter(t, url)
	w.Close()
	name := db[strings.LastIndex(db, "/")+1 : strings.Index(db, "?")]
	srv.Exec(t, db, "ALTER DATABASE "+name+" SET synchronous_commit = off")
	_, err := Open(ctx, Config{URL: url})
	wantCode(t, "synchronous_commit off", err, errcode.StoreIO)
	if e, _ := errcode.As(err); e == nil || !strings.Contains(e.Msg, "synchronous_commit is off") || !strings.Contains(e.Hint, "--synchronous normal") {
		t.Errorf("error %v", err)
	}
	n, err := Open(ctx, Config{URL: url, Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	var sc string
	if err := n.w.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil || sc != "off" {
		t.Errorf("normal: synchronous_commit %q, %v", sc, err)
	}
	n.Close()
	r, err := OpenReader(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	srv.Exec(t, db, "ALTER DATABASE "+name+" RESET synchronous_commit")
	w = openWriter(t, url)
	if err := w.w.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil || sc != "on" {
		t.Errorf("full: synchronous_commit %q, %v", sc, err)
	}
	_, err = Open(ctx, Config{URL: url, Synchronous: "sometimes"})
	wantCode(t, "bad synchronous", err, errcode.ConfigInvalid)
}

// TestGrants: the read-only role of docs/store.md reads, lists logs and
// inspects; as a writer it gets store.io permission denied.
func TestGrants(t *testing.T) {
	srv := pgtest.Shared(t)
	db := srv.NewDatabase(t)
	name := db[strings.LastIndex(db, "/")+1 : strings.Index(db, "?")]
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 4), false)
	storetest.Fill(t, openWriter(t, pgtest.LogURL(db, "l")), in).Close()
	srv.Exec(t, db, `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'arxi_reader') THEN CREATE ROLE arxi_reader LOGIN; END IF; END $$;
		GRANT CONNECT ON DATABASE `+name+` TO arxi_reader;
		GRANT USAGE ON SCHEMA arxi TO arxi_reader;
		GRANT SELECT ON ALL TABLES IN SCHEMA arxi TO arxi_reader`)
	url := pgtest.LogURL(srv.UserURL("arxi_reader", name), "l")
	r, err := OpenReader(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := storetest.StreamOf(t, r, store.Filter{}); !bytes.Equal(got, in) {
		t.Error("the reader reads another stream")
	}
	if _, ok, err := r.Inspect(ctx); !ok || err != nil {
		t.Errorf("Inspect: %v", err)
	}
	if logs, err := Logs(ctx, url); err != nil || len(logs) != 1 {
		t.Errorf("Logs: %v %v", logs, err)
	}
	_, err = Open(ctx, Config{URL: url})
	if !errors.Is(err, errcode.StoreIO) || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the reader as a writer: %v", err)
	}
}

// TestCloseInTransaction: closing the backend with a write transaction
// open, a COPY in flight, rolls it back and frees the log.
func TestCloseInTransaction(t *testing.T) {
	url := newLog(t)
	w := openWriter(t, url)
	tx, err := w.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	at, _ := scalar.ParseTimestamp("2026-11-22T10:00:00Z")
	row := &store.EnvelopeRow{Position: 1, Segment: 1, EnvelopeID: scalar.UUID{1}, EventType: "e", ActorID: "a",
		EnvironmentID: "n", AdapterID: "d", ClaimedAt: at, Payload: []byte("{}")}
	if err := tx.AddEnvelope(ctx, row); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	tx.Close()
	w = openWriter(t, url)
	if n := value(t, database(t), fmt.Sprintf("SELECT count(*)::text FROM arxi.envelopes WHERE log_id = %d", w.log)); n != "0" {
		t.Errorf("%s rows after closing in a transaction", n)
	}
}

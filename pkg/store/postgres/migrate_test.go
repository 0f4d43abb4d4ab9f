package postgres

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

// v3Database returns a new database holding testdata/v3.sql: a version 3
// store of two logs, written by the version 3 writer.
func v3Database(t *testing.T) string {
	t.Helper()
	dump, err := os.ReadFile("testdata/v3.sql")
	if err != nil {
		t.Fatal(err)
	}
	srv := pgtest.Shared(t)
	db := srv.NewDatabase(t)
	srv.Exec(t, db, string(dump))
	if v := value(t, db, "SELECT max(version)::text FROM arxi.schema_version"); v != "3" {
		t.Fatalf("testdata/v3.sql: schema version %s", v)
	}
	return db
}

// TestMigrateV3: the first writer of a version 3 store builds the
// postings from the envelope rows and drops the label B-trees, in one
// transaction; every read of the migrated log is then what the same
// appends give a new log, and doctor's check passes on both logs.
func TestMigrateV3(t *testing.T) {
	db := v3Database(t)
	_, err := OpenReader(ctx, pgtest.LogURL(db, "a"))
	wantCode(t, "reader of a version 3 store", err, errcode.StoreSchema)
	w := openWriter(t, pgtest.LogURL(db, "a"))
	w.Close()
	for q, want := range map[string]string{
		"SELECT max(version)::text FROM arxi.schema_version":                                          "4",
		"SELECT count(*)::text FROM pg_indexes WHERE schemaname = 'arxi' AND tablename = 'envelopes'": "3", // primary key, envelope id, claimed_at
		"SELECT count(DISTINCT log_id)::text FROM arxi.postings":                                      "2",
		// 40 envelopes in one group of 1000 positions: one row per label
		// (4 event types, 3 actors, 2 environments, 2 adapters, 4 traces,
		// 6 sessions).
		"SELECT count(*)::text FROM arxi.postings p JOIN arxi.logs l ON l.id = p.log_id WHERE l.name = 'a'": "21",
	} {
		if got := value(t, db, q); got != want {
			t.Errorf("%s = %s, want %s", q, got, want)
		}
	}
	fresh := newLog(t)
	fw := openWriter(t, fresh)
	storetest.FillTamper(t, fw)
	fw.Close()
	// Every label, and two of them at once: the migrated postings (one
	// row per label per 1000 positions) answer as the written ones (one
	// per batch).
	l, tok := scalar.MustLabel, scalar.MustToken
	filters := []store.Filter{{}, {TraceID: l("trace-2")}, {SessionID: l("sess-1")}, {ActorID: l("agent:1"), SessionID: l("sess-4")},
		{EventTypes: []scalar.Token{tok("tool.call"), tok("policy.decision")}}, {EnvironmentID: l("env-1")}, {AdapterID: tok("adapter-0")}}
	for _, f := range filters {
		if got, want := queryLines(t, pgtest.LogURL(db, "a"), f, 3), queryLines(t, fresh, f, 3); got != want || got == "" {
			t.Errorf("query %v of the migrated log:\n%s\nwant\n%s", f, got, want)
		}
	}
	if err := check(pgtest.LogURL(db, "a")); err != nil {
		t.Errorf("check of log a: %v", err)
	}
	s, err := OpenReader(ctx, pgtest.LogURL(db, "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 4}, storetest.Events(100, 110), false)
	if got := storetest.StreamOf(t, s, store.Filter{}); !bytes.Equal(got, in) {
		t.Error("log b reads another stream")
	}
	if err := check(pgtest.LogURL(db, "b")); err != nil {
		t.Errorf("check of log b: %v", err)
	}
}

// TestMigrateV3Fails: a migration to version 4 that fails leaves the
// version 3 store as it was.
func TestMigrateV3Fails(t *testing.T) {
	db := v3Database(t)
	saved := migrations
	defer func() { migrations = saved }()
	migrations = append([]string(nil), saved...)
	migrations[3] += "; SELECT 1/0"
	_, err := Open(ctx, Config{URL: pgtest.LogURL(db, "a")})
	wantCode(t, "failing migration", err, errcode.StoreIO)
	if !strings.Contains(err.Error(), "migrate schema to version 4") {
		t.Errorf("error %v does not name the migration", err)
	}
	for q, want := range map[string]string{
		"SELECT max(version)::text FROM arxi.schema_version":                                          "3",
		"SELECT count(*)::text FROM pg_indexes WHERE schemaname = 'arxi' AND tablename = 'envelopes'": "9",
		"SELECT (to_regclass('arxi.postings') IS NULL)::text":                                         "true",
	} {
		if got := value(t, db, q); got != want {
			t.Errorf("%s = %s, want %s", q, got, want)
		}
	}
}

// queryLines pages through the matches of f in the log at url, page at a
// time, and returns their lines.
func queryLines(t *testing.T, url string, f store.Filter, page int) string {
	t.Helper()
	s, err := OpenReader(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var b strings.Builder
	cursor := ""
	for {
		p, err := sn.Query(ctx, f, cursor, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range p.Items {
			b.Write(it.Line)
			b.WriteByte('\n')
		}
		if cursor = p.Next; cursor == "" {
			return b.String()
		}
	}
}

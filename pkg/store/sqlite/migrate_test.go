package sqlite

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestMigrate: stores written by older schema versions are refused by
// readers until a writer opens them, which migrates them in one
// transaction; then they read back byte for byte the stream that filled
// them, answer label queries as before, and keep their idempotency
// records. testdata/v1.sqlite was written by the version 1 binaries,
// testdata/v2.sqlite (with one idempotency record added) by the version 2
// ones, both from arxi-seal | arxi-append of testdata/demo/events.ndjson,
// signed, four segments with blobs; testdata/v1.stream is what arxi-query
// --format stream read from either.
func TestMigrate(t *testing.T) {
	want, err := os.ReadFile("testdata/v1.stream")
	if err != nil {
		t.Fatal(err)
	}
	envs := storetest.Envelopes(t, want)
	trace := envs[3].TraceID
	n := 0
	for _, e := range envs {
		if e.TraceID == trace {
			n++
		}
	}
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "arxi.db")
			data, err := os.ReadFile("testdata/" + version + ".sqlite")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = OpenReader(ctx, path)
			wantCode(t, "reader of an older store", err, errcode.StoreSchema)
			db, err := Open(ctx, Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			s, err := store.Open(ctx, db, store.Config{})
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = OpenReader(ctx, path)
			if err != nil {
				t.Fatalf("reader after migration: %v", err)
			}
			defer s.Close()
			sn, _ := s.Snapshot(ctx)
			defer sn.Close()
			var out bytes.Buffer
			if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("the migrated store reads back\n%s\nwant\n%s", out.Bytes(), want)
			}
			p, err := sn.Query(ctx, store.Filter{TraceID: trace}, "", 0)
			if err != nil || len(p.Items) != n || n == 0 {
				t.Errorf("trace query after the migration: %d envelopes, want %d (%v)", len(p.Items), n, err)
			}
			if version == "v2" {
				at, _ := scalar.ParseTimestamp("2026-11-22T10:00:00Z")
				r, err := sn.Idempotency(ctx, "key-1", at, 1<<62)
				if err != nil || r == nil || string(r.Body) != "{}" {
					t.Errorf("idempotency record after the migration: %+v, %v", r, err)
				}
			}
		})
	}
}

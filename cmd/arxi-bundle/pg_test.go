package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestPostgresStore: a bundle from a PostgreSQL log of the demo stream is
// the bundle of its SQLite store, byte for byte; list shows the same.
func TestPostgresStore(t *testing.T) {
	dir := fixtures(t)
	db := filepath.Join(dir, "demo.db")
	if err := makeStore(db, filepath.Join(dir, "demo.ndjson")); err != nil {
		t.Fatal(err)
	}
	demo, err := os.ReadFile(filepath.Join(dir, "demo.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	url := pgtest.NewLog(t)
	b, err := backend.Open(context.Background(), backend.Config{Store: url})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Fill(t, b, demo).Close()
	for _, args := range [][]string{{"--all"}, {"--trace-id", "trace-7f3a"}, {"--event-type", "tool.call", "--session-id", "sess-002"}, {"list", "--json"}} {
		var out [2]string
		for i, addr := range []string{db, url} {
			a := append([]string{"--store", addr}, args...)
			if args[0] == "list" {
				a = append([]string{"list", "--store", addr}, args[1:]...)
			}
			code, stdout, stderr := runBundle(t, nil, a...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", a, code, stderr)
			}
			out[i] = stdout
		}
		if out[0] != out[1] || out[0] == "" {
			t.Errorf("%v: PostgreSQL's bundle differs from SQLite's", args)
		}
	}
}

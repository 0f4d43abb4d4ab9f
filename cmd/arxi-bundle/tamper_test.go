package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestTamperedIndex deletes the label index rows of one segment behind the
// store's back (segment 2 of 3, every label of it): arxi-bundle
// --session-id still writes exactly the bundle of the untampered store,
// that segment included, because the envelope lines decide what a selector
// matches (SPEC §8). It used to exit 0 with the segment missing.
func TestTamperedIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	storetest.FillTamper(t, db)
	db.Close()
	bundleOf := func(args ...string) string {
		t.Helper()
		code, out, stderr := runBundle(t, nil, append([]string{"--store", path}, args...)...)
		if code != 0 {
			t.Fatalf("arxi-bundle %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	sels := [][]string{{"--session-id", "sess-1"}, {"--trace-id", "trace-2"}, {"--event-type", "tool.call"},
		{"--since", "2026-11-22T10:00:14Z", "--until", "2026-11-22T10:00:26Z"}}
	var want []string
	for _, sel := range sels {
		b := bundleOf(sel...)
		if n := strings.Count(b, `"record":"genesis"`); n < 2 {
			t.Fatalf("untampered bundle %v holds %d segments, want 2 or 3", sel, n)
		}
		want = append(want, b)
	}
	// Batches of 10: segment 2 (positions 16-30) is the postings rows
	// and zones ending at 20 and 30.
	clitest.ExecSQL(t, path, "DELETE FROM postings WHERE last BETWEEN 16 AND 30")
	clitest.ExecSQL(t, path, "DELETE FROM zones WHERE last BETWEEN 16 AND 30")
	for i, sel := range sels {
		if got := bundleOf(sel...); !bytes.Equal([]byte(got), []byte(want[i])) {
			t.Errorf("arxi-bundle %v over the tampered index: %d bytes, %d segments; want the untampered %d bytes",
				sel, len(got), strings.Count(got, `"record":"genesis"`), len(want[i]))
		}
	}
}

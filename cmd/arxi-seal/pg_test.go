package main

import (
	"strings"
	"testing"

	"arxi.dev/arxi/internal/pgtest"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestPostgresStore: --store takes a log URL; a log not written yet is
// empty for --open, and the next run continues its open segment.
func TestPostgresStore(t *testing.T) {
	url := pgtest.NewLog(t)
	code, _, stderr := runSeal(t, storetest.Events(0, 3), "--recorder-id", "r", "--store", url)
	if code != 4 || !strings.Contains(stderr, "store.io") {
		t.Errorf("missing log without --open: exit %d, %s", code, stderr)
	}
	code, first, stderr := runSeal(t, storetest.Events(0, 3), "--recorder-id", "r", "--store", url, "--open")
	if code != 0 {
		t.Fatalf("new log: exit %d, %s", code, stderr)
	}
	appendURL(t, url, first)
	code, more, stderr := runSeal(t, storetest.Events(3, 5), "--recorder-id", "r", "--store", url, "--seal-at-end")
	if code != 0 || !strings.Contains(more, `"sequence":4,`) {
		t.Fatalf("continue: exit %d, %s", code, stderr)
	}
	appendURL(t, url, more)
	if err := backend.InSnapshot(t.Context(), url, func(sn *store.Snapshot) error {
		g, err := sn.LastSegment(t.Context())
		if err == nil && (g.Count != 5 || !g.Sealed()) {
			t.Errorf("the log holds %d envelopes, sealed %v", g.Count, g.Sealed())
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func appendURL(t *testing.T, url, sealed string) {
	t.Helper()
	b, err := backend.Open(t.Context(), backend.Config{Store: url})
	if err != nil {
		t.Fatal(err)
	}
	storetest.Fill(t, b, []byte(sealed)).Close()
}

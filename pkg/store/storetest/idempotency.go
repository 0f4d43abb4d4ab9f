package storetest

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
)

// testIdempotency checks the idempotency records of SIDECAR.md §3: written
// in the batch of the evidence they answer for (rolled back and committed
// with it), read back through snapshots, surviving a reopen, replaced when
// a key is used again, expired by age at read time, and pruned by age and
// count.
func testIdempotency(t *testing.T, h Harness) {
	b := h.New(t)
	s := open(t, b, 0)
	t0, _ := scalar.ParseTimestamp("2026-11-22T10:00:00Z")
	const ttl = time.Hour
	row := func(key string, at scalar.Timestamp, body string) *store.IdempotencyRow {
		return &store.IdempotencyRow{Key: key, RequestHash: scalar.Sum([]byte(key + body)), Status: 201,
			ContentType: "application/json", Body: []byte(body), CreatedAt: at}
	}
	get := func(s *store.Store, key string, now scalar.Timestamp) *store.IdempotencyRow {
		t.Helper()
		sn, err := s.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer sn.Close()
		r, err := sn.Idempotency(ctx, key, now, ttl)
		if err != nil {
			t.Fatalf("Idempotency(%q): %v", key, err)
		}
		return r
	}
	in := threeSegments(t)
	recs := Records(t, in)
	a, err := s.Appender(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Rolled back with the records of its batch.
	for _, rec := range recs[:3] {
		if err := a.Add(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PutIdempotency(ctx, row("k1", t0, "first")); err != nil {
		t.Fatal(err)
	}
	a.Rollback()
	if r := get(s, "k1", t0); r != nil {
		t.Fatal("a rolled-back batch's idempotency record is stored")
	}
	// Committed with them.
	for _, rec := range recs[:3] {
		if err := a.Add(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PutIdempotency(ctx, row("k1", t0, "first")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()
	s = open(t, h.Reopen(t, b), 0)
	got := get(s, "k1", t0.Add(time.Minute))
	if got == nil || got.Key != "k1" || got.Status != 201 || got.ContentType != "application/json" ||
		!bytes.Equal(got.Body, []byte("first")) || got.RequestHash != scalar.Sum([]byte("k1first")) || got.CreatedAt != t0 {
		t.Fatalf("after reopening: %+v", got)
	}
	if r := get(s, "k1", t0.Add(ttl)); r != nil {
		t.Error("a record is returned at its expiry")
	}
	if r := get(s, "nope", t0); r != nil {
		t.Error("an unknown key is found")
	}
	sn, _ := s.Snapshot(ctx)
	_, err = sn.Idempotency(ctx, "bad\x01key", t0, ttl)
	sn.Close()
	wantCode(t, "invalid key", err, errcode.IdempotencyKeyInvalid)
	// Reusing a key replaces its record; pruning removes by age, then the
	// oldest beyond the count.
	a, _ = s.Appender(ctx)
	defer a.Close()
	if err := a.PutIdempotency(ctx, row("k1", t0.Add(2*time.Hour), "second")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := a.PutIdempotency(ctx, row("n"+strconv.Itoa(i), t0.Add(time.Duration(3+i)*time.Hour), "x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.PutIdempotency(ctx, &store.IdempotencyRow{Key: "bad", Status: 99, ContentType: "a/b", CreatedAt: t0}); !errors.Is(err, errcode.Internal) {
		t.Errorf("an invalid record: %v", err)
	}
	if _, err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if r := get(s, "k1", t0.Add(2*time.Hour+time.Minute)); r == nil || string(r.Body) != "second" {
		t.Fatalf("reused key: %+v", r)
	}
	n, err := a.PruneIdempotency(ctx, t0.Add(2*time.Hour+time.Second), 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("pruned %d records, want 3 (k1 by age, n0 and n1 by count)", n)
	}
	late := t0.Add(3 * time.Hour) // before any of n0-n4 expires
	for key, kept := range map[string]bool{"k1": false, "n0": false, "n1": false, "n2": true, "n3": true, "n4": true} {
		if r := get(s, key, late); (r != nil) != kept {
			t.Errorf("after pruning, %s kept = %v, want %v", key, r != nil, kept)
		}
	}
	// Records do not disturb the evidence.
	if got, want := string(dump(t, s)), strings.Join(Lines(in)[:3], ""); got != want {
		t.Errorf("the store's evidence changed:\n%s", got)
	}
}

package sqlite

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestIndexesAgainstMemory compares the SQLite backend's postings and
// zones with the memory backend's plain scans: random queries over a
// store whose claimed times sometimes go backwards, written in batches of
// varying size, must give the same pages.
func TestIndexesAgainstMemory(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	base := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var events strings.Builder
	at := base
	for i := range 600 {
		step := time.Duration(rng.IntN(2000)) * time.Millisecond
		if rng.IntN(10) == 0 {
			step = -time.Duration(rng.IntN(20)) * time.Second // out of order
		}
		at = at.Add(step)
		trace := fmt.Sprintf(`"t-%d"`, rng.IntN(15))
		if rng.IntN(6) == 0 {
			trace = "null"
		}
		fmt.Fprintf(&events, `{"event_type":"e.%d","actor_id":"a-%d","environment_id":"env-%d","adapter_id":"ad-%d","trace_id":%s,"session_id":"s-%d","claimed_at":%q,"payload":%d}`+"\n",
			rng.IntN(5), rng.IntN(7), rng.IntN(2), rng.IntN(3), trace, rng.IntN(9), at.Format(time.RFC3339Nano), i)
	}
	in := storetest.Seal(t, sealing.Config{MaxEnvelopes: 97}, events.String(), false)
	mem, err := store.Open(ctx, memory.New(), store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "arxi.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sq, _ := store.Open(ctx, db, store.Config{})
	for _, s := range []*store.Store{mem, sq} {
		a, _ := s.Appender(ctx)
		if _, err := store.AppendStream(ctx, a, bytes.NewReader(in), store.AppendOptions{Batch: 1 + rng.IntN(40)}); err != nil {
			t.Fatal(err)
		}
	}
	label := func(prefix string, n int) scalar.Label {
		return scalar.MustLabel(fmt.Sprintf("%s-%d", prefix, rng.IntN(n)))
	}
	ts := func() *scalar.Timestamp {
		t, _ := scalar.TimestampOf(base.Add(time.Duration(rng.IntN(600)) * time.Second))
		return &t
	}
	page := func(s *store.Store, f store.Filter, limit int) string {
		sn, _ := s.Snapshot(ctx)
		defer sn.Close()
		var b strings.Builder
		cursor := ""
		for {
			p, err := sn.Query(ctx, f, cursor, limit)
			if err != nil {
				return "error: " + err.Error()
			}
			for _, it := range p.Items {
				fmt.Fprintf(&b, "%d ", it.Position)
			}
			if p.Next == "" {
				return b.String()
			}
			cursor = p.Next
		}
	}
	for i := range 300 {
		var f store.Filter
		if rng.IntN(3) == 0 {
			for range 1 + rng.IntN(2) {
				f.EventTypes = append(f.EventTypes, scalar.MustToken(fmt.Sprintf("e.%d", rng.IntN(6))))
			}
		}
		if rng.IntN(3) == 0 {
			f.ActorID = label("a", 8)
		}
		if rng.IntN(4) == 0 {
			f.EnvironmentID = label("env", 2)
		}
		if rng.IntN(4) == 0 {
			f.AdapterID = scalar.MustToken(fmt.Sprintf("ad-%d", rng.IntN(3)))
		}
		if rng.IntN(3) == 0 {
			f.TraceID = label("t", 16)
		}
		if rng.IntN(4) == 0 {
			f.SessionID = label("s", 9)
		}
		if rng.IntN(3) == 0 {
			f.Since = ts()
		}
		if rng.IntN(3) == 0 {
			f.Until = ts()
		}
		if f.Since != nil && f.Until != nil && f.Since.Compare(*f.Until) > 0 {
			f.Since, f.Until = f.Until, f.Since
		}
		limit := 1 + rng.IntN(60)
		want, got := page(mem, f, limit), page(sq, f, limit)
		if got != want {
			t.Fatalf("query %d %+v (limit %d):\nsqlite %s\nmemory %s", i, f, limit, got, want)
		}
	}
}

// TestPostingsCorrupt: a damaged postings list or zone is store.corrupt
// naming it, not a wrong answer.
func TestPostingsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	newStore(t, path, storetest.Seal(t, sealing.Config{}, storetest.Events(0, 30), false))
	clitest.ExecSQL(t, path, fmt.Sprintf(`UPDATE postings SET positions = x'00' WHERE label = %d`, labelID(kindTrace, "trace-1")))
	clitest.ExecSQL(t, path, fmt.Sprintf(`UPDATE postings SET last = last + 1000 WHERE label = %d`, labelID(kindActor, "agent:2")))
	clitest.ExecSQL(t, path, `UPDATE zones SET first = 0`)
	db, err := Open(ctx, Config{Path: path, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := store.Open(ctx, db, store.Config{VerifyDepth: store.NoVerify})
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	since, _ := scalar.ParseTimestamp("2026-11-22T10:00:05Z")
	for _, f := range []store.Filter{{TraceID: scalar.MustLabel("trace-1")}, {ActorID: scalar.MustLabel("agent:2")}, {Since: &since}} {
		_, err := sn.Query(ctx, f, "", 0)
		if !errors.Is(err, errcode.StoreCorrupt) {
			t.Errorf("query %+v on damaged index: %v", f, err)
		}
	}
	// Everything else still reads.
	if _, err := sn.Query(ctx, store.Filter{TraceID: scalar.MustLabel("trace-2")}, "", 0); err != nil {
		t.Error(err)
	}
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil {
		t.Error(err)
	}
	if n := len(storetest.Envelopes(t, out.Bytes())); n != 30 {
		t.Errorf("%d envelopes", n)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

// ack is an acknowledged request: its idempotency key, body and response.
type ack struct {
	key        string
	body, resp []byte
	envelopeID string
}

// ackOf is the acknowledgement of a request with key and body whose
// response is resp, {"envelope","receipt"}.
func ackOf(key string, body, resp []byte) ack {
	var v struct {
		Receipt struct {
			EnvelopeID string `json:"envelope_id"`
		} `json:"receipt"`
	}
	json.Unmarshal(resp, &v)
	return ack{key: key, body: body, resp: resp, envelopeID: v.Receipt.EnvelopeID}
}

// TestKill kills the sidecar with SIGKILL while 32 clients post
// envelopes, at several moments. After each restart: every acknowledged
// envelope is in the store, the store verifies whole, the chain goes on
// (new envelopes follow the last stored one), and the idempotency record
// of every acknowledged request is replayed.
func TestKill(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("kills a subprocess many times")
	}
	const clients = 32
	e := newEnv(t, "unix", map[string]string{"recorder": "max_envelopes = 500"})
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	var acked []ack
	next := 0 // events numbered across rounds
	for round := range kills {
		p := e.start(t)
		// Every request acknowledged before the last kill is replayed.
		for _, a := range sample(rng, acked, 20) {
			r := p.do("POST", "/v1/envelopes", a.body, "Idempotency-Key: "+a.key)
			if r.status != 201 || !bytes.Equal(r.body, a.resp) || r.header.Get("Idempotency-Replayed") != "true" {
				t.Fatalf("round %d: replay of %s: %d %s", round, a.key, r.status, r.body)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var wg sync.WaitGroup
		// The kill comes a random time after the round's first
		// acknowledgement, so that every round kills a sidecar that is
		// committing, however slow the machine.
		first, once := make(chan struct{}), new(sync.Once)
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					mu.Lock()
					i := next
					next++
					mu.Unlock()
					key := fmt.Sprintf("kill-%d-%d", c, i)
					body := event(i)
					r, err := p.try("POST", "/v1/envelopes", body, "Idempotency-Key: "+key)
					if err != nil || r.status != 201 {
						if err == nil && ctx.Err() == nil && r.status != 503 {
							t.Errorf("round %d: %d %s", round, r.status, r.body)
						}
						return // the sidecar died under us
					}
					mu.Lock()
					acked = append(acked, ackOf(key, body, r.body))
					mu.Unlock()
					once.Do(func() { close(first) })
				}
			}()
		}
		select {
		case <-first:
		case <-time.After(time.Minute):
			t.Fatalf("round %d: no request acknowledged in a minute", round)
		}
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		p.cmd.Process.Kill()
		<-p.ended
		cancel()
		wg.Wait()
		checkStore(t, filepath.Join(e.dir, "arxi.db"), acked)
		t.Logf("round %d: %d envelopes acknowledged so far", round, len(acked))
	}
	if len(acked) < kills {
		t.Fatalf("only %d envelopes acknowledged", len(acked))
	}
	// The chain continues after the last kill.
	p := e.start(t)
	r := p.do("POST", "/v1/envelopes/batch", []byte(storetest.Events(next, next+10)), "Content-Type: application/x-ndjson")
	if r.status != 201 {
		t.Fatalf("after the kills: %d %s", r.status, r.body)
	}
	p.stop(syscall.SIGTERM)
	checkStore(t, filepath.Join(e.dir, "arxi.db"), acked)
}

// checkStore opens the store as a writer does, verifies every segment
// whole, and checks that every acknowledged envelope is in it; it returns
// the number of envelopes stored.
func checkStore(t *testing.T, path string, acked []ack) int {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := store.Open(ctx, db, store.Config{VerifyDepth: 1 << 30})
	if err != nil {
		t.Fatalf("the store does not verify: %v", err)
	}
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	var out bytes.Buffer
	if err := sn.WriteStream(ctx, &out, store.Filter{}); err != nil {
		t.Fatalf("read back: %v", err)
	}
	storetest.CheckStream(t, out.Bytes())
	have := map[string]bool{}
	for _, e := range storetest.Envelopes(t, out.Bytes()) {
		have[e.EnvelopeID.String()] = true
	}
	for _, a := range acked {
		if !have[a.envelopeID] {
			t.Fatalf("acknowledged envelope %s (%s) is not in the store", a.envelopeID, a.key)
		}
	}
	if !strings.Contains(out.String(), `"record":"genesis"`) && len(acked) > 0 {
		t.Fatal("no genesis")
	}
	return len(have)
}

func sample(rng *rand.Rand, a []ack, n int) []ack {
	if len(a) <= n {
		return a
	}
	out := make([]ack, n)
	for i := range out {
		out[i] = a[rng.IntN(len(a))]
	}
	return out
}

// TestDiskFull runs the sidecar with a file size limit (EFBIG past it, as
// on a full disk; RLIMIT_FSIZE needs no privileges) while 32 clients post
// envelopes: commits start failing while the next group is being
// prepared on top of the failing one. Each request is answered 201 or
// 503 store.io, /ready reports storage_unavailable, and after a restart
// without the limit the store verifies, holds exactly the acknowledged
// envelopes (a failed commit wrote nothing of its group), replays their
// idempotency records, and the chain goes on.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a subprocess")
	}
	const clients = 32
	e := newEnv(t, "unix", map[string]string{"recorder": "max_envelopes = 500"})
	e.childEnv = []string{childFSize + "=2000000"}
	p := e.start(t)
	var mu sync.Mutex
	var acked []ack
	failed := 0
	next := 0
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each client posts until its third refusal (past the first
			// failed commit, so that later groups meet a failing store
			// too), or a bound on the whole.
			for refused := 0; refused < 3; {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= 5000 {
					return
				}
				key := fmt.Sprintf("full-%d-%d", c, i)
				body := event(i)
				r, err := p.try("POST", "/v1/envelopes", body, "Idempotency-Key: "+key)
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case r.status == 201:
					mu.Lock()
					acked = append(acked, ackOf(key, body, r.body))
					mu.Unlock()
				case r.status == 503 && bytes.Contains(r.body, []byte(`"code":"store.io"`)):
					refused++
					mu.Lock()
					failed++
					mu.Unlock()
				default:
					t.Errorf("%d %s", r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(acked) == 0 || failed == 0 {
		t.Fatalf("%d acknowledged, %d refused: the limit did not bite", len(acked), failed)
	}
	r := p.do("GET", "/ready", nil)
	want(t, "ready on a full disk", r, 503, "storage_unavailable")
	p.cmd.Process.Kill()
	<-p.ended
	t.Logf("%d envelopes acknowledged, %d refused", len(acked), failed)

	e.childEnv = nil
	if n := checkStore(t, filepath.Join(e.dir, "arxi.db"), acked); n != len(acked) {
		t.Fatalf("the store holds %d envelopes, %d were acknowledged", n, len(acked))
	}
	p = e.start(t)
	for _, a := range acked[:min(len(acked), 20)] {
		r := p.do("POST", "/v1/envelopes", a.body, "Idempotency-Key: "+a.key)
		if r.status != 201 || !bytes.Equal(r.body, a.resp) || r.header.Get("Idempotency-Replayed") != "true" {
			t.Fatalf("replay of %s: %d %s", a.key, r.status, r.body)
		}
	}
	r = p.do("POST", "/v1/envelopes/batch", []byte(storetest.Events(next, next+10)), "Content-Type: application/x-ndjson")
	if r.status != 201 {
		t.Fatalf("after the disk is free again: %d %s", r.status, r.body)
	}
	p.stop(syscall.SIGTERM)
	checkStore(t, filepath.Join(e.dir, "arxi.db"), acked)
}

package store_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
)

// earlyMemory is the memory backend with an early commit: Durable is the
// test's to hold, release or fail, one call at a time.
type earlyMemory struct {
	*memory.Backend
	early   atomic.Int32 // transactions begun early
	adds    chan uint64  // the positions of the rows added
	calls   chan struct{}
	results chan error
}

func (b *earlyMemory) BeginEarly(ctx context.Context) (store.Tx, error) {
	b.early.Add(1)
	tx, err := b.Begin(ctx)
	return &earlyTx{tx, b.adds}, err
}

type earlyTx struct {
	store.Tx
	adds chan uint64
}

func (t *earlyTx) AddEnvelope(ctx context.Context, e *store.EnvelopeRow) error {
	t.adds <- e.Position
	return t.Tx.AddEnvelope(ctx, e)
}

func (b *earlyMemory) Durable() error {
	b.calls <- struct{}{}
	return <-b.results
}

// TestAppendStreamEarly: with an EarlyBackend, AppendStream writes the
// next batch's rows while a batch's Durable runs, gives a batch's
// receipts only after its Durable returned, and on a failed Durable stops
// with its error, the stats and receipts ending at the batch before. (That
// no batch commits before the one before is durable, cmd/arxi-append's
// TestKill checks: a killed writer leaves at most one batch unreceipted.)
func TestAppendStreamEarly(t *testing.T) {
	ctx := context.Background()
	in := storetest.Seal(t, sealing.Config{}, storetest.Events(0, 30), true)
	for _, failAt := range []int{0, 1, 2, 3} { // the Durable call that fails; 0 for none
		b := &earlyMemory{Backend: memory.New(), calls: make(chan struct{}), results: make(chan error),
			adds: make(chan uint64, 100)}
		s, err := store.Open(ctx, b, store.Config{})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := s.Appender(ctx)
		var receipts atomic.Int64
		type result struct {
			st  store.AppendStats
			err error
		}
		done := make(chan result, 1)
		go func() {
			st, err := store.AppendStream(ctx, a, bytes.NewReader(in), store.AppendOptions{Batch: 10,
				Receipts: func(rs []store.Receipt) error { receipts.Add(int64(len(rs))); return nil }})
			done <- result{st, err}
		}()
		var res result
	calls:
		for call := 1; ; call++ {
			select {
			case <-b.calls:
			case res = <-done:
				break calls
			}
			if got, want := receipts.Load(), int64(10*(call-1)); got != want {
				t.Errorf("fail at %d, Durable %d: %d receipts given before it returned, want %d", failAt, call, got, want)
			}
			if call == 1 {
				// The second batch is written while the first's Durable runs.
				for p := uint64(0); p <= 10; {
					select {
					case p = <-b.adds:
					case <-time.After(time.Minute):
						t.Fatal("the second batch was not written while the first was made durable")
					}
				}
			}
			if call == failAt {
				b.results <- errors.New("disk on fire")
				continue
			}
			b.results <- nil
		}
		if b.early.Load() == 0 {
			t.Fatalf("no transaction began early")
		}
		want := int64(30)
		if failAt > 0 {
			want = int64(10 * (failAt - 1))
			if res.err == nil || !strings.Contains(res.err.Error(), "disk on fire") {
				t.Errorf("fail at %d: error %v, want Durable's", failAt, res.err)
			}
			if !errors.Is(res.err, errcode.StoreIO) {
				t.Errorf("fail at %d: error %v, want %s", failAt, res.err, errcode.StoreIO)
			}
		} else if res.err != nil {
			t.Fatalf("append: %v", res.err)
		}
		if res.st.Envelopes != want || receipts.Load() != want {
			t.Errorf("fail at %d: %d envelopes in the stats, %d receipts, want %d", failAt, res.st.Envelopes, receipts.Load(), want)
		}
		s.Close()
	}
}

package memory

import (
	"bytes"
	"context"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

// BenchmarkAppendSigned appends 5,000 signed envelopes to a store whose
// current key signed them (SPEC §11.1: every envelope's signature by it
// is verified) and, as the baseline measured in the same run, the same
// envelopes to a store with no key (no signature verified). x-base is the
// first's time over the second's: the cost of enforcing the key, with the
// signatures verified on the decoding goroutines.
func BenchmarkAppendSigned(b *testing.B) {
	ctx := context.Background()
	k := storetest.Key(1)
	at, _ := scalar.TimestampOf(storetest.Base)
	// enrolled is the enrolment, then the events from its sealed head.
	setup, err := store.Open(ctx, New(), store.Config{})
	if err != nil {
		b.Fatal(err)
	}
	enrol := storetest.Rotate(b, setup, storetest.LifecycleOf(signing.Enrolled, 1, nil, k), at, k)
	fill := func(s *store.Store, in []byte) time.Duration {
		start := time.Now()
		a, err := s.Appender(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer a.Close()
		if _, err := store.AppendStream(ctx, a, bytes.NewReader(in), store.AppendOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	fill(setup, enrol)
	signed := storetest.Continue(b, setup, sealing.Config{Signers: []sealing.Signer{k}}, storetest.Events(1, 5001), true)
	plain := storetest.Seal(b, sealing.Config{Signers: []sealing.Signer{k}}, storetest.Events(1, 5001), true)
	var enforced, base time.Duration
	for b.Loop() {
		s, _ := store.Open(ctx, New(), store.Config{})
		fill(s, enrol)
		enforced += fill(s, signed)
		s, _ = store.Open(ctx, New(), store.Config{})
		base += fill(s, plain)
	}
	b.ReportMetric(float64(enforced)/float64(base), "x-base")
}

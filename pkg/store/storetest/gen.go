package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/stream"
)

// Recorder is the recorder id of the generated streams.
var Recorder = scalar.MustLabel("recorder-test")

// Base is the claimed_at of the first generated event.
var Base = events.Base

// Shape is the shape of the suite's events: event types, actors, traces
// and sessions cycle with different periods, every 7th event has an inline
// attachment (one of two blobs, so blobs repeat), and every 5th has no
// trace.
var Shape = &events.Shape{
	Types:       []string{"tool.call", "tool.result", "session.start", "policy.decision"},
	Actor:       func(i int) string { return fmt.Sprintf("agent:%d", i%3) },
	Environment: func(i int) string { return fmt.Sprintf("env-%d", i%2) },
	Adapter:     func(i int) string { return fmt.Sprintf("adapter-%d", i%2) },
	Trace: func(i int) string {
		if i%5 == 4 {
			return ""
		}
		return fmt.Sprintf("trace-%d", i%4)
	},
	Session: func(i int) string { return fmt.Sprintf("sess-%d", i%6) },
	Step:    time.Second,
	Payload: func(i int) string { return fmt.Sprintf(`{"i":%d}`, i) },
	Attachment: func(i int) []byte {
		if i%7 != 3 {
			return nil
		}
		return fmt.Appendf(nil, "blob %d\n", i%2)
	},
}

// Event returns the unsealed line of generated event i.
func Event(i int) string { return string(Shape.Line(i)) }

// Events returns the unsealed lines of events from..to-1.
func Events(from, to int) string { return string(Shape.Lines(from, to)) }

// Seal seals unsealed input with cfg (RecorderID defaults to Recorder)
// and returns the sealed stream.
func Seal(t testing.TB, cfg sealing.Config, input string, sealAtEnd bool) []byte {
	t.Helper()
	if cfg.RecorderID.IsZero() {
		cfg.RecorderID = Recorder
	}
	s, err := sealing.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := sealing.Stream(context.Background(), s, strings.NewReader(input), &out, sealing.StreamOptions{SealAtEnd: sealAtEnd}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Lines splits a stream into its lines, each with its newline.
func Lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// Records decodes a sealed stream, failing the test on error.
func Records(t testing.TB, b []byte) []evidence.Record {
	t.Helper()
	r := stream.NewReader(bytes.NewReader(b), stream.Sealed, evidence.Limits{})
	var out []evidence.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read sealed stream: %v", err)
		}
		out = append(out, rec)
	}
}

// Envelopes returns the envelopes of a sealed stream in order.
func Envelopes(t testing.TB, b []byte) []*evidence.Envelope {
	t.Helper()
	var out []*evidence.Envelope
	for _, r := range Records(t, b) {
		if e, ok := r.(*evidence.Envelope); ok {
			out = append(out, e)
		}
	}
	return out
}

// CheckStream checks that b is a grammatical sealed stream whose chains
// and seals recompute and whose segments link.
func CheckStream(t testing.TB, b []byte) {
	t.Helper()
	var g stream.Grammar
	var ch *evidence.Chain
	var last *evidence.Link
	blobs := map[scalar.Digest]bool{}
	for i, rec := range Records(t, b) {
		if err := g.Next(rec.Kind()); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		switch v := rec.(type) {
		case *evidence.Genesis:
			if !v.Verify() {
				t.Fatalf("record %d: genesis does not verify", i+1)
			}
			if last != nil && (v.Predecessor == nil || *v.Predecessor != *last) {
				t.Fatalf("record %d: genesis does not link to %+v", i+1, last)
			}
			ch = evidence.NewChain(v)
		case *evidence.Attachment:
			if !v.Verify() || blobs[v.Hash] {
				t.Fatalf("record %d: attachment bad or repeated", i+1)
			}
			blobs[v.Hash] = true
		case *evidence.Envelope:
			if evidence.ContentHash(&v.Content) != v.ContentHash {
				t.Fatalf("record %d: content hash", i+1)
			}
			if err := ch.Next(v.SegmentID, v.Sequence, v.ContentHash, v.ChainHash); err != nil {
				t.Fatalf("record %d: %v", i+1, err)
			}
			for _, ref := range v.Attachments {
				if !blobs[ref.Hash] {
					t.Fatalf("record %d: blob %s not emitted before its first reference", i+1, ref.Hash)
				}
			}
		case *evidence.Seal:
			if err := ch.CheckSeal(v); err != nil {
				t.Fatalf("record %d: %v", i+1, err)
			}
			last = &evidence.Link{SegmentID: v.SegmentID, ChainHead: v.HeadChainHash}
		}
	}
	if err := g.End(); err != nil {
		t.Fatal(err)
	}
}

// Append opens a store over b and appends the sealed stream r to it, as
// arxi-append does with default options.
func Append(ctx context.Context, b store.Backend, r io.Reader) (*store.Store, error) {
	s, err := store.Open(ctx, b, store.Config{})
	if err != nil {
		return nil, err
	}
	a, err := s.Appender(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := store.AppendStream(ctx, a, r, store.AppendOptions{}); err != nil {
		return nil, err
	}
	return s, nil
}

// Fill is Append of stream, failing t on any error.
func Fill(t testing.TB, b store.Backend, stream []byte) *store.Store {
	t.Helper()
	s, err := Append(context.Background(), b, bytes.NewReader(stream))
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return s
}

// Add appends the sealed stream in to s with default options, failing t on
// any error.
func Add(t testing.TB, s *store.Store, in []byte) {
	t.Helper()
	a, err := s.Appender(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := store.AppendStream(context.Background(), a, bytes.NewReader(in), store.AppendOptions{}); err != nil {
		t.Fatalf("append: %v", err)
	}
}

// Continue seals unsealed input with cfg from s's head — its open segment,
// or a new segment linked to its last sealed one — as arxi-seal --store
// --open does.
func Continue(t testing.TB, s *store.Store, cfg sealing.Config, input string, sealAtEnd bool) []byte {
	t.Helper()
	return continueFrom(t, s, true, cfg, input, sealAtEnd)
}

// Package bundletest makes deterministic sealed streams, keys and trust
// roots for the tests and benchmarks of bundles and verification. Every
// stream is sealed in-process by sealing.Sealer, so it is exactly what
// arxi-seal would write for the same events.
package bundletest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"arxi.dev/arxi/internal/events"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/stream"
)

// Options shape a stream.
type Options struct {
	Envelopes   int            // number of envelopes
	PerSegment  uint64         // seal a segment after this many envelopes (auto_count); 0 for one segment
	LineSize    int            // pad payloads so envelope lines are about this long; 0 for short lines
	AttachEvery int            // every Nth envelope (from the first) carries an attachment; 0 for none
	Keys        []*signing.Key // sign every envelope and seal with these keys
	LeaveOpen   bool           // do not seal the last segment
	Predecessor *evidence.Link
	Recorder    string // default "recorder-1"
}

// Base is the claimed_at of the first event.
var Base = events.Base

// Event returns the i-th event of every stream: event types, actors,
// traces and sessions cycle so that selectors have something to match.
// trace-N holds events 5N..5N+4 modulo 20; session_id is null for every
// seventh event.
func Event(i int, o Options) *evidence.Unsealed { return shape(o).Event(i) }

// shape is the shape of o's events.
func shape(o Options) *events.Shape {
	s := &events.Shape{
		Types:       []string{"session.start", "tool.call", "tool.result", "model.reply"},
		Actor:       func(i int) string { return "agent:" + strconv.Itoa(i%3) },
		Environment: func(int) string { return "prod" },
		Adapter:     func(int) string { return "bundletest" },
		Trace:       func(i int) string { return "trace-" + strconv.Itoa((i/5)%4) },
		Session: func(i int) string {
			if i%7 == 0 {
				return ""
			}
			return "sess-" + strconv.Itoa(i%3)
		},
		Step: time.Second,
		Payload: func(i int) string {
			if o.LineSize > 0 {
				// An envelope line without attachments is about 595 bytes
				// plus its payload padding and 198 bytes per signature.
				if pad := o.LineSize - 595 - 198*len(o.Keys); pad > 0 {
					return fmt.Sprintf(`{"i":%d,"pad":%q,"tool":"search"}`, i, strings.Repeat("x", pad))
				}
			}
			return fmt.Sprintf(`{"i":%d,"tool":"search"}`, i)
		},
	}
	if o.AttachEvery > 0 {
		// Three blobs, reused: a blob's later references may fall in other
		// segments than its first.
		s.Attachment = func(i int) []byte {
			if i%o.AttachEvery != 0 {
				return nil
			}
			return []byte(fmt.Sprintf("attachment %d\n", (i/o.AttachEvery)%3))
		}
	}
	return s
}

// Records seals o.Envelopes events and returns the sealed stream's records.
func Records(o Options) []evidence.Record {
	var out []evidence.Record
	each(o, func(recs []evidence.Record) { out = append(out, recs...) })
	return out
}

// Write seals o.Envelopes events and writes the sealed stream to w as it
// goes, holding one envelope at a time: for streams too large to hold.
func Write(w io.Writer, o Options) error {
	sw := stream.NewWriter(w)
	var err error
	each(o, func(recs []evidence.Record) {
		for _, r := range recs {
			if err == nil {
				err = sw.Write(r)
			}
		}
	})
	if err != nil {
		return err
	}
	return sw.Flush()
}

// each seals the events of o and passes each batch of records out.
func each(o Options, emit func([]evidence.Record)) {
	rec := o.Recorder
	if rec == "" {
		rec = "recorder-1"
	}
	signers := make([]sealing.Signer, len(o.Keys))
	for i, k := range o.Keys {
		signers[i] = k
	}
	s, err := sealing.New(sealing.Config{
		RecorderID:   scalar.MustLabel(rec),
		MaxEnvelopes: o.PerSegment,
		Signers:      signers,
		Start:        sealing.Start{Predecessor: o.Predecessor},
	})
	if err != nil {
		panic(err)
	}
	var out []evidence.Record
	for i := range o.Envelopes {
		if out, err = s.Append(out[:0], Event(i, o)); err != nil {
			panic(err)
		}
		emit(out)
	}
	emit(s.Finish(out[:0], !o.LeaveOpen))
}

// Stream returns the sealed stream of Records(o) as NDJSON.
func Stream(o Options) []byte { return Encode(Records(o)) }

// Encode writes records as NDJSON lines.
func Encode(recs []evidence.Record) []byte {
	var b bytes.Buffer
	w := stream.NewWriter(&b)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			panic(err)
		}
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// Key returns the Ed25519 key whose seed is 32 copies of seed.
func Key(seed byte) *signing.Key {
	return signing.NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
}

// TrustRoot returns a trust-root file for keys with the policy
// "any_trusted_key", "all_must_sign" or "threshold:K".
func TrustRoot(policy string, keys ...*signing.Key) []byte {
	p := signing.Policy{Kind: signing.PolicyKind(policy)}
	if n, ok := strings.CutPrefix(policy, "threshold:"); ok {
		p.Kind = signing.Threshold
		p.Threshold, _ = strconv.Atoi(n)
	}
	tks := make([]signing.TrustedKey, len(keys))
	for i, k := range keys {
		tks[i] = k.TrustedKey()
	}
	tr, err := signing.NewTrustRoot(tks, p)
	if err != nil {
		panic(err)
	}
	return tr.AppendJCS(nil)
}

// ParseTrustRoot is TrustRoot parsed.
func ParseTrustRoot(policy string, keys ...*signing.Key) *signing.TrustRoot {
	tr, err := signing.ParseTrustRoot(TrustRoot(policy, keys...))
	if err != nil {
		panic(err)
	}
	return tr
}

// B64 is standard base64, for tests that build attachment lines by hand.
func B64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// Bench seals n of the realistic ~1 KiB events of events.Bench (recorder "bench",
// segments of perSegment envelopes, signed by keys) and writes the sealed
// stream to w, holding one event at a time.
func Bench(w io.Writer, n int, perSegment uint64, keys ...*signing.Key) error {
	signers := make([]sealing.Signer, len(keys))
	for i, k := range keys {
		signers[i] = k
	}
	s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("bench"), MaxEnvelopes: perSegment, Signers: signers})
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(events.Bench.Write(pw, n)) }()
	_, err = sealing.Stream(context.Background(), s, pr, w, sealing.StreamOptions{SealAtEnd: true})
	pr.Close()
	return err
}

// BenchBytes is Bench into memory.
func BenchBytes(n int, perSegment uint64, keys ...*signing.Key) []byte {
	var b bytes.Buffer
	if err := Bench(&b, n, perSegment, keys...); err != nil {
		panic(err)
	}
	return b.Bytes()
}

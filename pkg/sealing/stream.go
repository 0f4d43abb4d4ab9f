package sealing

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/stream"
)

// StreamOptions configures Stream.
type StreamOptions struct {
	Limits    evidence.Limits // zero fields take the defaults
	SealAtEnd bool
	// Progress, when set, is called with the number of envelopes sealed
	// since the previous call.
	Progress func(n int)
}

// Stats counts what Stream did.
type Stats struct {
	Envelopes   int64
	Attachments int64 // attachment records written
	Segments    int64 // genesis records written
	Seals       int64
}

// Stream reads unsealed envelopes and attachment records from r, seals them
// with s and writes the sealed stream to w. On a bad line it writes every
// record of the lines before it, nothing for the bad line, and returns the
// error naming the line; the output is then a valid stream prefix without a
// final seal.
//
// Lines are decoded, and the id-less views of envelopes without an id
// hashed, by GOMAXPROCS goroutines ahead of the Sealer (stream.Parallel).
func Stream(ctx context.Context, s *Sealer, r io.Reader, w io.Writer, opts StreamOptions) (Stats, error) {
	var st Stats
	in := stream.NewParallel(r, stream.ParallelConfig{Limits: opts.Limits, Workers: runtime.GOMAXPROCS(0), Unsealed: true, Work: hashAnon})
	defer in.Close()
	out := stream.NewWriter(w)
	var recs []evidence.Record
	write := func() error {
		for _, rec := range recs {
			switch rec.Kind() {
			case evidence.KindEnvelope:
				st.Envelopes++
			case evidence.KindAttachment:
				st.Attachments++
			case evidence.KindGenesis:
				st.Segments++
			case evidence.KindSeal:
				st.Seals++
			}
			if err := out.Write(rec); err != nil {
				return err
			}
		}
		return nil
	}
	fail := func(err error) (Stats, error) {
		if ferr := out.Flush(); ferr != nil && err == nil {
			err = ferr
		}
		return st, err
	}
	var line int64
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(errcode.Wrap(errcode.IOFailed, err, "interrupted after line %d", line))
			}
		}
		it, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		line = it.Line
		recs = recs[:0]
		switch v := it.Record.(type) {
		case *evidence.Attachment:
			err = s.Attachment(v)
		case *evidence.Unsealed:
			anon, _ := it.Aux.(*scalar.Digest)
			recs, err = s.append(recs, v, anon)
			if opts.Progress != nil && err == nil {
				opts.Progress(1)
			}
		}
		if err != nil {
			return fail(errcode.AtLine(err, line))
		}
		if err := write(); err != nil {
			return fail(err)
		}
	}
	recs = s.Finish(recs[:0], opts.SealAtEnd)
	if err := write(); err != nil {
		return fail(err)
	}
	return st, out.Flush()
}

// hashAnon is the work of Stream's decoders: the id-less view's hash of an
// envelope whose id is to be derived.
func hashAnon(it *stream.Item) {
	u, ok := it.Record.(*evidence.Unsealed)
	if !ok || !u.EnvelopeID.IsZero() {
		return
	}
	h := hashers.Get().(*evidence.Hasher)
	anon := h.Anon(&u.Content)
	hashers.Put(h)
	it.Aux = &anon
}

var hashers = sync.Pool{New: func() any { return new(evidence.Hasher) }}

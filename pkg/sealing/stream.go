package sealing

import (
	"context"
	"errors"
	"io"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
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
func Stream(ctx context.Context, s *Sealer, r io.Reader, w io.Writer, opts StreamOptions) (Stats, error) {
	var st Stats
	in := stream.NewReader(r, stream.Unsealed, opts.Limits)
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
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(errcode.Wrap(errcode.IOFailed, err, "interrupted after line %d", in.Line()))
			}
		}
		rec, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(err)
		}
		recs = recs[:0]
		switch v := rec.(type) {
		case *evidence.Attachment:
			err = s.Attachment(v)
		case *evidence.Unsealed:
			recs, err = s.Append(recs, v)
			if opts.Progress != nil && err == nil {
				opts.Progress(1)
			}
		}
		if err != nil {
			return fail(errcode.AtLine(err, in.Line()))
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

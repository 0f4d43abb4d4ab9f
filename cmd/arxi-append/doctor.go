package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
)

const doctorUsage = `arxi-append doctor checks a store's health (SPEC §8): it re-verifies the
whole store — every segment from its genesis to its seal, every envelope
decoded, rehashed and chained, every referenced blob rehashed, not only the
--verify-depth a writer checks — rebuilds every index from the verified rows
and compares, and reports the schema version, whether a writer holds the
store, and sizes and free space where the backend knows them.

It only reads, through one consistent snapshot, so it runs beside a writer.

Exit status: 0 healthy; 1 an integrity failure (store.corrupt, naming the
first bad row); 4 a storage failure.

Usage:
  arxi-append doctor [--store arxi.db|postgres://…?log=NAME] [--json]

Example:
  arxi-append doctor --store arxi.db`

func doctor(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-append doctor", doctorUsage, stdout, stderr)
	addr := storeFlag(c)
	asJSON := c.Flags.Bool("json", false, "write one JSON object instead of a report")
	progress := c.ProgressFlag()
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	p, err := c.NewProgress(*progress, "verifying", "envelopes")
	if err != nil {
		return c.Exit(err)
	}
	s, err := backend.OpenReader(ctx, *addr)
	if err != nil {
		return c.Exit(err)
	}
	defer s.Close()
	r := report{Store: backend.Display(*addr)}
	in, ok, err := s.Inspect(ctx)
	if err != nil {
		return c.Exit(err)
	}
	if ok {
		r.Inspection = in
	}
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return c.Exit(err)
	}
	defer sn.Close()
	if segs, err := sn.Segments(ctx); err == nil {
		var total int64
		for _, g := range segs {
			total += int64(g.Count)
		}
		p.SetTotal(total)
	}
	r.Stats, r.Err = sn.Check(ctx, store.CheckOptions{Progress: p.Add})
	p.Finish()
	if r.Err != nil && !errors.Is(r.Err, errcode.StoreCorrupt) {
		return c.Exit(r.Err) // not a finding about the store: no report
	}
	if *asJSON {
		err = r.writeJSON(stdout)
	} else {
		err = r.write(stdout)
	}
	if err != nil {
		return c.Exit(err)
	}
	return c.Exit(r.Err)
}

// report is what doctor found.
type report struct {
	Store      string
	Inspection *store.Inspection
	Stats      store.CheckStats
	Err        error // nil when healthy
}

func (r *report) write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("store", r.Store)
	if in := r.Inspection; in != nil {
		row("backend", in.Backend+", schema version "+strconv.Itoa(in.SchemaVersion))
		writer := in.Writer
		if in.WriterInfo != "" {
			writer += ": " + in.WriterInfo
		}
		row("writer", writer)
		for _, f := range in.Facts {
			row(f.Name, f.Text)
		}
	}
	st := r.Stats
	row("segments", fmt.Sprintf("%d (%d sealed, %d open)", st.Segments, st.Sealed, st.Segments-st.Sealed))
	row("envelopes", fmt.Sprintf("%d decoded, rehashed and chained", st.Envelopes))
	row("attachments", fmt.Sprintf("%d rehashed", st.Attachments))
	if r.Err == nil {
		row("indexes", "rebuilt from the rows: no difference")
		row("verdict", "healthy")
	} else {
		row("verdict", "corrupt: "+errMessage(r.Err))
	}
	if err := tw.Flush(); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

// writeJSON writes the report as one canonical object:
// {"attachments","backend","envelopes","error","facts","healthy",
// "record":"doctor","schema_version","sealed","segments","store","writer"}.
func (r *report) writeJSON(w io.Writer) error {
	facts := map[string]any{}
	o := map[string]any{"record": "doctor", "store": r.Store, "healthy": r.Err == nil,
		"segments": r.Stats.Segments, "sealed": r.Stats.Sealed, "envelopes": r.Stats.Envelopes, "attachments": r.Stats.Attachments,
		"backend": nil, "schema_version": nil, "writer": nil, "facts": facts, "error": nil}
	if in := r.Inspection; in != nil {
		o["backend"], o["schema_version"], o["writer"] = in.Backend, in.SchemaVersion, in.Writer
		for _, f := range in.Facts {
			facts[f.Name] = f.Value
		}
	}
	if e, ok := errcode.As(r.Err); ok {
		o["error"] = map[string]any{"code": string(e.Code), "message": errMessage(e)}
	}
	b, err := canonical.Marshal(o)
	if err != nil {
		return errcode.Wrap(errcode.Internal, err, "encode report")
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

// errMessage is an error without its code, as a report states it.
func errMessage(err error) string {
	e, ok := errcode.As(err)
	if !ok {
		return err.Error()
	}
	s := e.Msg
	if e.Segment != "" {
		where := "segment " + e.Segment
		if e.Sequence > 0 {
			where += " sequence " + strconv.FormatUint(e.Sequence, 10)
		}
		s = where + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

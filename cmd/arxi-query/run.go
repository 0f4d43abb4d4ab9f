package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
)

const usage = `arxi-query reads envelopes back from a store (SPEC §8). Filters combine with
AND; --event-type may be repeated and matches any of its values. Results
come in store order (segment order, then sequence), one page of --limit at a
time; pass the page's next_cursor as --cursor for the next one. Every row is
verified as it is read.

Formats:
  ndjson  envelope lines, then {"next_cursor":…,"record":"page"} (default)
  json    one object {"envelopes":[…],"next_cursor":…}
  stream  the whole segments holding a match, as a sealed stream (no paging),
          for arxi-bundle --from-stream or arxi-verify; with no filter it is
          the stream that was appended, byte for byte

Usage:
  arxi-query [--store arxi.db] [filters] [--limit N] [--cursor C] [--format F] [-o FILE]

Example:
  arxi-query --store arxi.db --trace-id trace-7f3a --format json`

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-query", usage, stdout, stderr)
	fs := c.Flags
	storePath := fs.String("store", "arxi.db", "the store `file` (SQLite)")
	segment := fs.String("segment", "", "only envelopes of the segment with this `id`")
	var eventTypes multi
	fs.Var(&eventTypes, "event-type", "only envelopes of this event `type` (repeatable: any of them)")
	actor := fs.String("actor", "", "only envelopes with this actor_id")
	environment := fs.String("environment", "", "only envelopes with this environment_id")
	adapter := fs.String("adapter", "", "only envelopes with this adapter_id")
	trace := fs.String("trace-id", "", "only envelopes with this trace_id")
	session := fs.String("session-id", "", "only envelopes with this session_id")
	since := fs.String("since", "", "only envelopes claimed at or after this RFC 3339 UTC `time`")
	until := fs.String("until", "", "only envelopes claimed before this RFC 3339 UTC `time`")
	after := fs.Uint64("after-sequence", 0, "with --segment: only envelopes after this `sequence`")
	limit := fs.Int("limit", store.DefaultPageSize, "at most `N` envelopes per page (1 to 10000)")
	cursor := fs.String("cursor", "", "continue after the page that returned this next_cursor")
	format := fs.String("format", "ndjson", "output `format`: ndjson, json or stream")
	output := fs.String("o", "-", "write to this `file` (atomically) instead of stdout")
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	f, err := filter(*segment, eventTypes, *actor, *environment, *adapter, *trace, *session, *since, *until, *after)
	if err != nil {
		return c.Exit(err)
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	switch *format {
	case "ndjson", "json":
		if *limit < 1 || *limit > store.MaxPageSize {
			return c.Exit(&errcode.Error{Code: errcode.ConfigInvalid, Field: "limit", Msg: "must be between 1 and 10000"})
		}
	case "stream":
		if set["limit"] || set["cursor"] {
			return c.Exit(c.UsageError("--format stream writes whole segments and takes no --limit or --cursor"))
		}
	default:
		return c.Exit(c.UsageError("--format %q: want ndjson, json or stream", *format))
	}
	s, err := sqlite.OpenReader(ctx, *storePath)
	if err != nil {
		return c.Exit(err)
	}
	defer s.Close()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return c.Exit(err)
	}
	defer sn.Close()
	return c.Exit(writeOutput(*output, stdout, func(w io.Writer) error {
		if *format == "stream" {
			return sn.WriteStream(ctx, w, f)
		}
		p, err := sn.Query(ctx, f, *cursor, *limit)
		if err != nil {
			return err
		}
		return writePage(w, p, *format)
	}))
}

// filter validates the filter flags.
func filter(segment string, eventTypes []string, actor, environment, adapter, trace, session, since, until string, after uint64) (store.Filter, error) {
	var f store.Filter
	var err error
	bad := func(field string, err error) error {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: field, Msg: "invalid value", Err: err}
	}
	if segment != "" {
		if f.SegmentID, err = scalar.ParseUUID(segment); err != nil {
			return f, bad("segment", err)
		}
	}
	for _, t := range eventTypes {
		tok, err := scalar.ParseToken(t)
		if err != nil {
			return f, bad("event-type", err)
		}
		f.EventTypes = append(f.EventTypes, tok)
	}
	for _, l := range []struct {
		name, val string
		dst       *scalar.Label
	}{{"actor", actor, &f.ActorID}, {"environment", environment, &f.EnvironmentID}, {"trace-id", trace, &f.TraceID}, {"session-id", session, &f.SessionID}} {
		if l.val == "" {
			continue
		}
		if *l.dst, err = scalar.ParseLabel(l.val); err != nil {
			return f, bad(l.name, err)
		}
	}
	if adapter != "" {
		if f.AdapterID, err = scalar.ParseToken(adapter); err != nil {
			return f, bad("adapter", err)
		}
	}
	for _, t := range []struct {
		name, val string
		dst       **scalar.Timestamp
	}{{"since", since, &f.Since}, {"until", until, &f.Until}} {
		if t.val == "" {
			continue
		}
		ts, err := scalar.ParseTimestamp(t.val)
		if err != nil {
			return f, bad(t.name, err)
		}
		*t.dst = &ts
	}
	f.AfterSequence = after
	return f, f.Check()
}

func writePage(w io.Writer, p *store.Page, format string) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	next := []byte("null")
	if p.Next != "" {
		next = canonical.AppendString(nil, p.Next)
	}
	if format == "json" {
		bw.Write(append(p.AppendJSON(nil), '\n'))
	} else {
		for _, it := range p.Items {
			bw.Write(it.Line)
			bw.WriteByte('\n')
		}
		bw.WriteString(`{"next_cursor":`)
		bw.Write(next)
		bw.WriteString(`,"record":"page"}` + "\n")
	}
	if err := bw.Flush(); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

// writeOutput runs write against stdout, or against a temporary file in
// the target's directory that is renamed over it only when write succeeds,
// so a failed run leaves nothing half-written.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "create output", Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "write output", Err: err}
	}
	if err := tmp.Close(); err != nil {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "write output", Err: err}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "write output", Err: err}
	}
	ok = true
	return nil
}

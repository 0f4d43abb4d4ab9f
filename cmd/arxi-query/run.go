package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"strings"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
)

const usage = `arxi-query reads envelopes back from a store (SPEC §8). Filters combine with
AND; --event-type may be repeated and matches any of its values. Results
come in store order (segment order, then sequence), one page of --limit at a
time; pass the page's next_cursor as --cursor for the next one. Every row is
verified as it is read.

What an index guarantees (SPEC §8): filters are answered from the store's
label and time indexes, which are not evidence. Every envelope returned is
verified and checked against the filters, so a tampered index can never put
a row into a result that does not match: that is store.corrupt. An index
can still leave a matching row out, unnoticed. --scan decides from the
verified envelope lines alone, reading every envelope from the cursor on
(within --segment, if given): its results are complete, at the cost of a
read of the store. --format stream always decides so, as arxi-bundle does.
arxi-append doctor rebuilds every index from the rows and reports any
difference as store.corrupt.

With --all it pages through every match itself and writes the envelope
lines only (ndjson, no page line).

Formats:
  ndjson  envelope lines, then {"next_cursor":…,"record":"page"} (default)
  json    one object {"envelopes":[…],"next_cursor":…}
  stream  the whole segments holding a match, as a sealed stream (no paging),
          for arxi-bundle --from-stream or arxi-verify; with no filter it is
          the stream that was appended, byte for byte

Usage:
  arxi-query [--store arxi.db] [filters] [--limit N] [--cursor C | --all] [--format F] [-o FILE]

Example:
  arxi-query --store arxi.db --trace-id trace-7f3a --format json`

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

var program = cli.Program{Name: "arxi-query", Main: query}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(ctx, args, stdin, stdout, stderr)
}

func query(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-query", usage, stdout, stderr)
	fs := c.Flags
	storePath := fs.String("store", "arxi.db", backend.FlagUsage)
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
	all := fs.Bool("all", false, "page through every match (after --cursor, if given) and write the envelope lines only")
	scan := fs.Bool("scan", false, "decide from the verified envelope lines alone, asking no index: complete results, reading every envelope passed")
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
		if *all && *format == "json" {
			return c.Exit(c.UsageError("--all writes envelope lines: use --format ndjson (the default)"))
		}
		if *limit < 1 || *limit > store.MaxPageSize {
			return c.Exit(&errcode.Error{Code: errcode.ConfigInvalid, Field: "limit", Msg: "must be between 1 and 10000"})
		}
	case "stream":
		if set["limit"] || set["cursor"] || *all {
			return c.Exit(c.UsageError("--format stream writes whole segments and takes no --limit, --cursor or --all"))
		}
	default:
		return c.Exit(c.UsageError("--format %q: want ndjson, json or stream", *format))
	}
	s, err := backend.OpenReader(ctx, *storePath)
	if err != nil {
		return c.Exit(err)
	}
	defer s.Close()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		return c.Exit(err)
	}
	defer sn.Close()
	more := false
	err = c.Output(ctx, *output, false, func(w io.Writer) error {
		if *format == "stream" {
			return sn.WriteStream(ctx, w, f)
		}
		pw := newPageWriter(w, *format, !*all)
		for cur := *cursor; ; {
			page := sn.Query
			if *scan {
				page = sn.Scan
			}
			p, err := page(ctx, f, cur, *limit)
			if err != nil {
				return err
			}
			if err := pw.items(p); err != nil {
				return err
			}
			if cur = p.Next; !*all || cur == "" {
				more = cur != ""
				return pw.end(cur)
			}
		}
	})
	if err == nil && more && cli.IsTerminal(stderr) {
		c.Note("more matches: pass the page's next_cursor as --cursor for the next page, or --all for every one")
	}
	return c.Exit(err)
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

// pageWriter writes query results page by page: a page as one JSON
// object (json), or envelope lines (ndjson) with, when trailer is set, the
// page line naming the next page's cursor.
type pageWriter struct {
	bw      *bufio.Writer
	format  string
	trailer bool
}

func newPageWriter(w io.Writer, format string, trailer bool) *pageWriter {
	return &pageWriter{bw: bufio.NewWriterSize(w, 256<<10), format: format, trailer: trailer}
}

func (pw *pageWriter) items(p *store.Page) error {
	if pw.format == "json" {
		pw.bw.Write(append(p.AppendJSON(nil), '\n'))
	} else {
		for _, it := range p.Items {
			pw.bw.Write(it.Line)
			pw.bw.WriteByte('\n')
		}
	}
	if _, err := pw.bw.Write(nil); err != nil { // a failed flush of a full buffer
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

// end writes the page line for the next page's cursor ("" for none), if
// it is one to write, and flushes.
func (pw *pageWriter) end(next string) error {
	if pw.format == "ndjson" && pw.trailer {
		cursor := []byte("null")
		if next != "" {
			cursor = canonical.AppendString(nil, next)
		}
		pw.bw.WriteString(`{"next_cursor":`)
		pw.bw.Write(cursor)
		pw.bw.WriteString(`,"record":"page"}` + "\n")
	}
	if err := pw.bw.Flush(); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

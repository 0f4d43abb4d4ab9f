package main

import (
	"context"
	"io"
	"strings"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/safefile"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/zstdio"
)

const usage = `arxi-bundle exports selected evidence as a bundle: one NDJSON file with a
manifest, then each segment that holds a selected envelope, whole, with the
envelopes the selector does not select replaced by elided records (their
hashes only), and every attachment a disclosed envelope needs. The output is
deterministic: the same input and selector give the same bytes.

Usage:
  arxi-bundle --from-stream [selectors] [-o FILE] < sealed.ndjson
  arxi-bundle --store PATH (--all | selectors) [-o FILE]
  arxi-bundle --store PATH --id BUNDLE_ID [-o FILE]
  arxi-bundle list --store PATH [--json]   list the canonical bundle of each sealed segment
  arxi-bundle inspect [--json] FILE       summarise a bundle (see inspect --help)
  arxi-bundle checkpoints [--trust-root ROOT] FILE
                                          print each signed seal as a signed note (see checkpoints --help)

Selectors combine as a union: an envelope is disclosed when it matches any.
--segment, --trace-id, --session-id and --event-type may be repeated;
--since and --until bound claimed_at to [since, until). With --from-stream
and no selector the whole stream is disclosed (selector {"stream":true}).

Every sealed segment has a canonical bundle, the one --segment ID writes,
with a stable bundle id: list shows them, and --id fetches one by its id
(byte for byte the --segment ID bundle; the id is derived again and
checked, never read from the store).

Output goes to stdout, or to -o FILE: a new or regular file is written to
a temporary file beside it and renamed into place (a symlink's target is
replaced the same way), a device or FIFO such as /dev/stdout is written
directly, a directory is refused. It is zstd-compressed when FILE ends in
.zst or with --zstd; zstd is not written to a terminal.

Example:
  arxi-seal --recorder-id r1 --seal-at-end < events.ndjson | arxi-bundle --from-stream --trace-id trace-7f3a -o case.arxb.zst`

var program = cli.Program{Name: "arxi-bundle", Main: bundleMain, Subcommands: []cli.Subcommand{
	{Name: "inspect", Run: inspect},
	{Name: "list", Run: list},
	{Name: "checkpoints", Run: checkpoints},
}}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(ctx, args, stdin, stdout, stderr)
}

func bundleMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-bundle", usage, stdout, stderr)
	fs := c.Flags
	fromStream := fs.Bool("from-stream", false, "read a sealed stream on stdin (spooled to a temporary file)")
	storePath := fs.String("store", "", "export from the store at `PATH` (a file or a postgres:// URL)")
	out := fs.String("o", "", "write the bundle to `FILE` (a new or regular file atomically) instead of stdout")
	compress := fs.Bool("zstd", false, "compress with zstd (implied by an -o name ending in .zst)")
	var id scalar.UUID
	fs.Func("id", "with --store: the canonical bundle with this `BUNDLE_ID` (see list)", func(s string) (err error) {
		id, err = scalar.ParseUUID(s)
		return err
	})
	var sel bundle.Selector
	fs.BoolVar(&sel.All, "all", false, "select every envelope")
	fs.Func("segment", "select every envelope of segment `ID` (repeatable)", appendParsed(&sel.Segments, scalar.ParseUUID))
	fs.Func("trace-id", "select envelopes with trace_id `T` (repeatable)", appendParsed(&sel.TraceIDs, scalar.ParseLabel))
	fs.Func("session-id", "select envelopes with session_id `S` (repeatable)", appendParsed(&sel.SessionIDs, scalar.ParseLabel))
	fs.Func("event-type", "select envelopes with event_type `E` (repeatable)", appendParsed(&sel.EventTypes, scalar.ParseToken))
	fs.Func("since", "select envelopes claimed at or after `TIME` (RFC 3339, UTC)", timestamp(&sel.Since))
	fs.Func("until", "select envelopes claimed before `TIME` (RFC 3339, UTC)", timestamp(&sel.Until))
	progress := c.ProgressFlag()
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	switch {
	case *fromStream && *storePath != "":
		return c.Exit(c.UsageError("--from-stream and --store exclude each other"))
	case !*fromStream && *storePath == "":
		return c.Exit(c.UsageError("give --from-stream (a sealed stream on stdin) or --store PATH"))
	case !id.IsZero() && (*fromStream || !sel.IsZero()):
		return c.Exit(c.UsageError("--id names a whole bundle: it takes --store and no selector"))
	case !id.IsZero():
		sel = bundle.Selector{All: true} // unused: the id selects
	case *fromStream && sel.IsZero():
		sel.Stream = true
	case sel.IsZero():
		return c.Exit(c.UsageError("give a selector (--segment, --trace-id, --session-id, --event-type, --since, --until) or --all"))
	}
	if err := sel.Normalize(); err != nil {
		return c.Exit(err)
	}
	p, err := c.NewProgress(*progress, "bundling", "records")
	if err != nil {
		return c.Exit(err)
	}
	dst := output{c: c, path: *out, zstd: *compress || strings.HasSuffix(*out, ".zst")}
	if err := c.CheckOutput(dst.path, dst.zstd); err != nil {
		return c.Exit(err)
	}
	// Temporary files (the spooled stream, the bundle's body) go beside
	// the output file, on the file system that will hold the bundle.
	opts := bundle.Options{Progress: p.Add, ProgressTotal: p.SetTotal}
	if *out != "" && *out != "-" {
		opts.TempDir = safefile.Dir(*out)
	}
	if *fromStream {
		err = fromStreamBundle(ctx, c, stdin, sel, dst, opts)
	} else {
		err = storeBundle(ctx, *storePath, id, sel, dst, opts)
	}
	return c.Exit(err)
}

// output is where a bundle goes, compressed or not.
type output struct {
	c    *cli.Command
	path string
	zstd bool
}

// write runs fill over the output, through a zstd encoder when asked.
func (o output) write(ctx context.Context, fill func(io.Writer) error) error {
	return o.c.Output(ctx, o.path, o.zstd, func(w io.Writer) error {
		if !o.zstd {
			return fill(w)
		}
		zw, err := zstdio.NewWriter(w)
		if err != nil {
			return err
		}
		if err := fill(zw); err != nil {
			zw.Close()
			return err
		}
		if err := zw.Close(); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "write output")
		}
		return nil
	})
}

func fromStreamBundle(ctx context.Context, c *cli.Command, stdin io.Reader, sel bundle.Selector, dst output, opts bundle.Options) error {
	in, err := c.Input(ctx, "-", stdin)
	if err != nil {
		return err
	}
	sp, err := bundle.Spool(ctx, in, bundle.SpoolConfig{Dir: opts.TempDir, Progress: opts.Progress})
	if err != nil {
		return err
	}
	defer sp.Close()
	return dst.write(ctx, func(w io.Writer) error {
		_, err := bundle.Build(ctx, sp, sel, w, opts)
		return err
	})
}

// appendParsed is a repeatable flag's function: each value parsed and
// appended to *dst.
func appendParsed[T any](dst *[]T, parse func(string) (T, error)) func(string) error {
	return func(s string) error {
		v, err := parse(s)
		*dst = append(*dst, v)
		return err
	}
}

func timestamp(dst **scalar.Timestamp) func(string) error {
	return func(s string) error {
		t, err := scalar.ParseTimestamp(s)
		*dst = &t
		return err
	}
}

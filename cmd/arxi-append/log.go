package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store/backend"
	"arxi.dev/arxi/pkg/store/postgres"
)

const logUsage = `arxi-append log lists the logs of a PostgreSQL database (SPEC §8.1). One
database holds many logs, each named by the log parameter of the store URL
and each its own chain, segments and attachments. Counts are those of the
segment rows, unverified (arxi-append doctor verifies a log). An SQLite
store is one log.

Usage:
  arxi-append log list --store postgres://USER@HOST/DB [--json]
      every log by name: segments, envelopes, the open segment, whether a
      writer holds it (--json: one object per line)

Example:
  arxi-append log list --store postgres://arxi@db.internal/arxi`

func logCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	c := cli.New("arxi-append log "+sub, logUsage, stdout, stderr)
	addr := c.Flags.String("store", "", "the database: postgres://USER@HOST/DB")
	asJSON := c.Flags.Bool("json", false, "write JSON instead of a table")
	switch sub {
	case "list":
	case "", "-h", "-help", "--help", "help":
		c.PrintUsage(stdout)
		if sub == "" {
			return c.Exit(c.UsageError("missing subcommand: list"))
		}
		return 0
	default:
		return c.Exit(c.UsageError("unknown subcommand %q: want list", sub))
	}
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	switch {
	case len(c.Args()) > 0:
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	case *addr == "":
		return c.Exit(c.UsageError("give --store postgres://USER@HOST/DB"))
	case !backend.IsURL(*addr):
		return c.Exit(&errcode.Error{Code: errcode.UsageInvalid, Path: *addr, Msg: "an SQLite store is one log; log list lists the logs of a PostgreSQL database",
			Hint: "give --store postgres://USER@HOST/DB"})
	}
	logs, err := postgres.Logs(ctx, *addr)
	if err != nil {
		return c.Exit(err)
	}
	return c.Exit(showLogs(stdout, logs, *asJSON))
}

func showLogs(w io.Writer, logs []postgres.Log, asJSON bool) error {
	if asJSON {
		for _, l := range logs {
			o := map[string]any{"record": "log", "log": l.Name, "segment_count": l.Segments, "envelope_count": l.Envelopes,
				"open_segment_id": nil, "writer": "free", "created_at": l.CreatedAt.Format(time.RFC3339Nano)}
			if l.OpenSegment != nil {
				o["open_segment_id"] = l.OpenSegment.String()
			}
			if l.Writer {
				o["writer"] = "held"
			}
			b, err := canonical.Marshal(o)
			if err != nil {
				return errcode.Wrap(errcode.Internal, err, "encode log")
			}
			if _, err := w.Write(append(b, '\n')); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "write output")
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LOG\tSEGMENTS\tENVELOPES\tOPEN SEGMENT\tWRITER\tCREATED")
	for _, l := range logs {
		open, writer := "-", "free"
		if l.OpenSegment != nil {
			open = l.OpenSegment.String()
		}
		if l.Writer {
			writer = "held"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", l.Name, l.Segments, l.Envelopes, open, writer, l.CreatedAt.Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

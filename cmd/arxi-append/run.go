package main

import (
	"bufio"
	"context"
	"fmt"
	"io"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
)

const usage = `arxi-append reads a sealed stream (NDJSON, plain or zstd: the output of
arxi-seal) on stdin or from FILE, checks every hash and its continuity with
the store, and appends it to the store in transactions of --batch
envelopes. After each durable commit it writes one receipt per envelope on
stdout, unless -q: {"chain_hash","envelope_id","record":"receipt","segment_id","sequence"}.

A writer holds the lock file STORE-lock (arxi.db-lock) while it runs, so a
second writer fails at once (store.locked); readers never wait for it.

Usage:
  arxi-append [--store arxi.db] [flags] [FILE] > receipts.ndjson
  arxi-append segment open|seal|status|list    manage segments (see segment --help)
  arxi-append doctor [--store STORE] [--json]  re-verify the whole store (see doctor --help)
  arxi-append log list --store URL             list the logs of a PostgreSQL database

The store is an SQLite file or a log of a PostgreSQL database:
--store postgres://USER@HOST:PORT/DB?log=NAME (the password from PGPASSWORD
or ~/.pgpass, never from the URL).

Example:
  arxi-seal --recorder-id recorder-1 --store arxi.db --open < events.ndjson | arxi-append --store arxi.db`

var program = cli.Program{Name: "arxi-append", Main: appendMain, Subcommands: []cli.Subcommand{{Name: "segment", Run: segment}, {Name: "doctor", Run: doctor}, {Name: "log", Run: logCmd}}}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(ctx, args, stdin, stdout, stderr)
}

func appendMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-append", usage, stdout, stderr)
	fs := c.Flags
	storePath := storeFlag(c)
	batch := fs.Int("batch", store.DefaultBatch, "commit every `N` envelopes in one transaction")
	depth := verifyDepthFlag(c)
	sync := syncFlag(c)
	limits := c.LimitFlags()
	progress := c.ProgressFlag()
	quiet := fs.Bool("q", false, "write no receipts")
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 1 {
		return c.Exit(c.UsageError("unexpected argument %q: arxi-append reads one stream", c.Args()[1]))
	}
	if *batch < 1 || *batch > 1_000_000 {
		return c.Exit(&errcode.Error{Code: errcode.ConfigInvalid, Field: "batch", Msg: "must be between 1 and 1000000"})
	}
	if err := checkDepth(*depth); err != nil {
		return c.Exit(err)
	}
	lim, err := limits()
	if err != nil {
		return c.Exit(err)
	}
	p, err := c.NewProgress(*progress, "appending", "envelopes")
	if err != nil {
		return c.Exit(err)
	}
	s, err := openWriter(ctx, *storePath, *sync, *depth)
	if err != nil {
		return c.Exit(err)
	}
	defer s.Close()
	a, err := s.Appender(ctx)
	if err != nil {
		return c.Exit(err)
	}
	defer a.Close()
	in, err := c.Input(ctx, c.Arg(0), stdin)
	if err != nil {
		return c.Exit(err)
	}
	defer in.Close()
	out := bufio.NewWriterSize(stdout, 256<<10)
	var line []byte
	st, err := store.AppendStream(ctx, a, in, store.AppendOptions{
		Batch:    *batch,
		Limits:   lim,
		Progress: p.Add,
		Receipts: func(rs []store.Receipt) error {
			if *quiet {
				return nil
			}
			for i := range rs {
				line = rs[i].AppendJCS(line[:0])
				line = append(line, '\n')
				out.Write(line)
			}
			if err := out.Flush(); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "write receipts")
			}
			return nil
		},
	})
	if err != nil {
		return c.Exit(committedHint(err, st))
	}
	return c.Exit(s.Close())
}

// committedHint tells the user how far the store got (SPEC §8: the error
// says through which line and sequence the store is committed).
func committedHint(err error, st store.AppendStats) error {
	switch {
	case st.Last != nil:
		return errcode.WithHint(err, fmt.Sprintf("the store is committed through input line %d (segment %s sequence %d); nothing after it was written",
			st.Line, st.Last.SegmentID, st.Last.Sequence))
	case st.Line > 0:
		return errcode.WithHint(err, fmt.Sprintf("the store is committed through input line %d (no envelope); nothing after it was written", st.Line))
	}
	return errcode.WithHint(err, "nothing from this input was written to the store")
}

func storeFlag(c *cli.Command) *string {
	return c.Flags.String("store", "arxi.db", backend.FlagUsage)
}

func verifyDepthFlag(c *cli.Command) *int {
	return c.Flags.Int("verify-depth", store.DefaultVerifyDepth, "on opening, re-verify the open segment's last `N` envelopes against the stored head")
}

func syncFlag(c *cli.Command) *string {
	return c.Flags.String("synchronous", "full", "durability `mode`: full (durable receipts), extra or normal (SQLite synchronous; PostgreSQL: normal commits asynchronously)")
}

func checkDepth(depth int) error {
	if depth < 1 {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: "verify-depth", Msg: "must be at least 1"}
	}
	return nil
}

// openWriter opens the store for writing: the writer lock, the schema, and
// the verification of SPEC §8.
func openWriter(ctx context.Context, path, sync string, depth int) (*store.Store, error) {
	return backend.OpenStore(ctx, backend.Config{Store: path, Synchronous: sync}, store.Config{VerifyDepth: depth})
}

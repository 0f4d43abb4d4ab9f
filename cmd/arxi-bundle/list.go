package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
)

const listUsage = `arxi-bundle list prints the canonical bundle of every sealed segment of a
store, in store order: its bundle id (derived from the bundle, SPEC §5.6),
the segment, its envelope count and when it was sealed. The canonical bundle
of a segment is the one arxi-bundle --segment ID writes; arxi-bundle --id
BUNDLE_ID fetches it by its id. The open segment has no seal and no
canonical bundle yet. Deriving an id reads the whole segment once.

Usage:
  arxi-bundle list --store PATH [--json]

Example:
  arxi-bundle list --store arxi.db --json`

func list(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := cli.New("arxi-bundle list", listUsage, stdout, stderr)
	storePath := c.Flags.String("store", "", "the store `PATH` (SQLite)")
	asJSON := c.Flags.Bool("json", false, `one JSON object per bundle: {"bundle_id","envelope_count","sealed_at","segment_id"}`)
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	switch {
	case len(c.Args()) > 0:
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	case *storePath == "":
		return c.Exit(c.UsageError("give --store PATH"))
	}
	err := sqlite.InSnapshot(ctx, *storePath, func(sn *store.Snapshot) error {
		var cat storesource.Catalog
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		if !*asJSON {
			fmt.Fprintln(tw, "BUNDLE\tSEGMENT\tENVELOPES\tSEALED")
		}
		for cursor := ""; ; {
			entries, next, err := cat.List(ctx, sn, cursor, store.MaxPageSize)
			if err != nil {
				return err
			}
			for i := range entries {
				e := &entries[i]
				if *asJSON {
					_, err = stdout.Write(append(e.AppendJSON(nil), '\n'))
				} else {
					_, err = fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", e.BundleID, e.SegmentID, e.EnvelopeCount, e.SealedAt)
				}
				if err != nil {
					return errcode.Wrap(errcode.IOFailed, err, "write output")
				}
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if err := tw.Flush(); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "write output")
		}
		return nil
	})
	if err != nil {
		return c.Exit(err)
	}
	return 0
}

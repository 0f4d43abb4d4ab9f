package main

import (
	"context"
	"io"
	"strconv"

	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
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

func list(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-bundle list", listUsage, stdout, stderr)
	storePath := c.Flags.String("store", "", backend.FlagUsage)
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
	err := backend.InSnapshot(ctx, *storePath, func(sn *store.Snapshot) error {
		var cat storesource.Catalog
		tw := c.Table()
		if !*asJSON {
			tw.Row("BUNDLE", "SEGMENT", "ENVELOPES", "SEALED")
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
					tw.Row(e.BundleID.String(), e.SegmentID.String(), strconv.FormatUint(e.EnvelopeCount, 10), c.Time(e.SealedAt))
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
		return tw.Flush()
	})
	return c.Exit(err)
}

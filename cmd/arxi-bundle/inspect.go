package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
)

const inspectUsage = `arxi-bundle inspect prints what a bundle's manifest says: its id and
selector, each segment with its envelope count, how many are disclosed and
elided, whether it is sealed, the attachments and the omitted parent
segments. It reads the manifest only and checks nothing else: arxi-verify
checks that the bundle matches it. --json prints the manifest itself.

Usage:
  arxi-bundle inspect [--json] FILE|-

Example:
  arxi-bundle inspect case.arxb.zst`

func inspect(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-bundle inspect", inspectUsage, stdout, stderr)
	asJSON := c.Flags.Bool("json", false, "print the manifest as one canonical JSON line")
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) != 1 {
		return c.Exit(c.UsageError("inspect takes one bundle file (or - for stdin)"))
	}
	path := c.Args()[0]
	in, err := c.Input(ctx, path, stdin)
	if err != nil {
		return c.Exit(err)
	}
	defer in.Close()
	m, err := bundle.ReadManifest(in)
	if err != nil {
		if path != "-" {
			err = errcode.WithPath(err, path)
		}
		return c.Exit(err)
	}
	if *asJSON {
		_, err = stdout.Write(append(m.AppendJCS(nil), '\n'))
	} else {
		err = describe(c, m)
	}
	if err != nil {
		return c.Exit(errcode.Wrap(errcode.IOFailed, err, "write stdout"))
	}
	return 0
}

// describe writes the human summary.
func describe(c *cli.Command, m *bundle.Manifest) error {
	envelopes, disclosed, elided := m.Totals()
	sealed := 0
	for _, s := range m.Segments {
		if s.Sealed {
			sealed++
		}
	}
	var bytes int64
	for _, a := range m.Attachments {
		bytes += a.Size
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "bundle       %s (version %d, %s)\n", m.BundleID, m.Version, m.HashAlgorithm)
	fmt.Fprintf(b, "selector     %s\n", m.Selector.String())
	fmt.Fprintf(b, "segments     %d (%d sealed)\n", len(m.Segments), sealed)
	fmt.Fprintf(b, "envelopes    %d (%d disclosed, %d elided)\n", envelopes, disclosed, elided)
	fmt.Fprintf(b, "attachments  %d (%d bytes)\n", len(m.Attachments), bytes)
	if len(m.OmittedParents) == 0 {
		fmt.Fprintf(b, "omitted      none: every predecessor named by an included segment is included\n")
	} else {
		parts := make([]string, len(m.OmittedParents))
		for i, p := range m.OmittedParents {
			parts[i] = p.String()
		}
		fmt.Fprintf(b, "omitted      %d parent segment(s) not included: %s\n", len(parts), strings.Join(parts, ", "))
	}
	b.WriteString("\n")
	if _, err := io.WriteString(c.Stdout, b.String()); err != nil {
		return err
	}
	tw := c.Table()
	tw.Row("SEGMENT", "ENVELOPES", "DISCLOSED", "ELIDED", "SEALED")
	for _, s := range m.Segments {
		yes := "no"
		if s.Sealed {
			yes = "yes"
		}
		tw.Row(s.SegmentID.String(), strconv.FormatUint(s.EnvelopeCount, 10), strconv.FormatUint(s.Disclosed, 10), strconv.FormatUint(s.Elided, 10), yes)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(c.Stdout, "\nThis is what the manifest claims; run arxi-verify to check the bundle against it.\n")
	return err
}

package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/verify"
)

const usage = `arxi-verify checks a bundle (or a bare sealed stream), plain or zstd, offline,
in seven phases: manifest, attachments, content, chain, cross_segment,
signatures, seals. It prints one JSON verdict on stdout; the same input and
flags always print the same bytes.

--phases runs a subset of the phases; it lowers assurance, so it is read
from the command line only, and the verdict then carries the warning
phases_skipped.

Usage:
  arxi-verify [flags] [FILE|-]
  arxi-verify trust-root [--policy P] KEY...    write a trust root (see trust-root --help)

Exit status: 0 valid; 1 invalid (or, with --strict, valid with warnings);
2 usage or configuration error; 3 input rejected (not a bundle or stream,
malformed manifest, over a limit); 4 I/O failure.

Example:
  arxi-verify --strict --trust-root root.json case.arxb.zst | jq -r .status`

var program = cli.Program{Name: "arxi-verify", Main: verifyMain, Subcommands: []cli.Subcommand{{Name: "trust-root", Run: trustRoot}}}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(ctx, args, stdin, stdout, stderr)
}

func verifyMain(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-verify", usage, stdout, stderr)
	fs := c.Flags
	trustRoot := fs.String("trust-root", "", "check signatures against this trust-root `file` (SPEC §11); without it phase 6 is skipped")
	phases := fs.String("phases", "", "run only these phases: a comma-separated `list` of numbers or names (1,3,chain); adds the warning phases_skipped")
	c.CommandLineOnly("phases")
	maxEnvelopes := fs.Uint64("max-envelopes", bundle.DefaultLimits.Envelopes, "verify at most `N` envelopes in all (SPEC §16)")
	strict := fs.Bool("strict", false, "exit 1 when the verdict has any warning (signature_skipped, untrusted_signature, omitted_parent, unsealed_segment, phases_skipped, break_glass_rotation)")
	verbose := fs.Bool("v", false, "print a short human summary on stderr")
	progress := c.ProgressFlag()
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 1 {
		return c.Exit(c.UsageError("arxi-verify takes one input file (or - for stdin), not %d", len(c.Args())))
	}
	cfg, err := config(c, *trustRoot, *phases, *maxEnvelopes)
	if err != nil {
		return c.Exit(err)
	}
	path := "-"
	if len(c.Args()) == 1 {
		path = c.Args()[0]
	}
	p, err := c.NewProgress(*progress, "verifying", "records")
	if err != nil {
		return c.Exit(err)
	}
	in, err := c.Input(ctx, path, stdin)
	if err != nil {
		return c.Exit(err)
	}
	defer in.Close()
	cfg.Progress, cfg.ProgressTotal = p.Add, p.SetTotal
	v, err := verify.Bundle(ctx, in, cfg)
	p.Finish()
	if err != nil {
		if path != "-" {
			err = errcode.WithPath(err, path)
		}
		return c.Exit(err)
	}
	if _, err := stdout.Write(append(v.AppendJCS(nil), '\n')); err != nil {
		return c.Exit(errcode.Wrap(errcode.IOFailed, err, "write verdict"))
	}
	if *verbose {
		summarize(c, v)
	}
	switch {
	case !v.Valid():
		return errcode.ExitInvalid
	case *strict && len(v.Warnings) > 0:
		c.Note("--strict: the verdict is valid but has %d warning(s)", len(v.Warnings))
		return errcode.ExitInvalid
	}
	return errcode.ExitOK
}

func config(c *cli.Command, trustRoot, phases string, maxEnvelopes uint64) (verify.Config, error) {
	var cfg verify.Config
	if trustRoot != "" {
		tr, err := signing.LoadTrustRoot(trustRoot)
		if err != nil {
			return cfg, err
		}
		cfg.TrustRoot = tr
	}
	if phases != "" {
		set, err := verify.ParsePhases(phases)
		if err != nil {
			return cfg, errcode.WithHint(err, "see "+c.Name+" --help")
		}
		cfg.Phases = set
	}
	if maxEnvelopes == 0 {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-envelopes", Msg: "must be at least 1"}
	}
	cfg.Limits = bundle.DefaultLimits
	cfg.Limits.Envelopes = maxEnvelopes
	return cfg, nil
}

// summarize writes the -v summary: the status and counts, each phase, the
// warnings and each failing phase's first failure.
func summarize(c *cli.Command, v *verify.Verdict) {
	s := v.Summary
	what := "sealed stream"
	if !v.BundleID.IsZero() {
		what = "bundle " + v.BundleID.String()
	}
	c.Note("%s: %s: %d segment(s), %d envelope(s) disclosed, %d elided, %d attachment(s)",
		v.Status(), what, s.Segments, s.Envelopes, s.Elided, s.Attachments)
	var parts []string
	for _, p := range v.Phases {
		parts = append(parts, fmt.Sprintf("%d %s %s", p.Phase, p.Phase, p.Status))
	}
	c.Note("phases: %s", strings.Join(parts, ", "))
	for _, p := range v.Phases {
		if len(p.Failures) == 0 {
			continue
		}
		f := p.Failures[0]
		n := uint64(len(p.Failures)) + p.Omitted
		where := ""
		if !f.SegmentID.IsZero() {
			where = "segment " + f.SegmentID.String() + ": "
		}
		c.Note("%s failed (%d failure(s)); first: %s: %s%s", p.Phase, n, f.Code, where, f.Message)
	}
	for _, wn := range v.Warnings {
		c.Warn("%s: %s", wn.Code, wn.Message)
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"time"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
)

const usage = `arxi-seal reads unsealed envelopes (NDJSON, plain or zstd) on stdin and
writes a sealed, hash-chained stream on stdout: a genesis, attachment blobs,
envelopes with content and chain hashes, and seals. A segment is sealed
after --max-envelopes envelopes (default and most: 100,000, what a verifier
accepts per segment).

Usage:
  arxi-seal --recorder-id ID [flags] < events.ndjson > sealed.ndjson
  arxi-seal --recorder-id ID --store arxi.db [--open] < events.ndjson | arxi-append --store arxi.db
  arxi-seal keygen -o key.pem          make a signing key (see keygen --help)
  arxi-seal pubkey key.pem             print a key's trust-root entry
  arxi-seal enroll --store DB --sign-key KEY       record the store's first key (see enroll --help)
  arxi-seal rotate --store DB --sign-key OLD --new-key NEW   hand over to a new key (see rotate --help)

Example:
  arxi-seal --recorder-id recorder-1 --seal-at-end < events.ndjson | arxi-append --store arxi.db`

var program = cli.Program{Name: "arxi-seal", Main: seal, Subcommands: []cli.Subcommand{
	{Name: "keygen", Run: keygen},
	{Name: "pubkey", Run: pubkey},
	{Name: "enroll", Run: enroll},
	{Name: "rotate", Run: rotate},
}}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return program.Run(ctx, args, stdin, stdout, stderr)
}

func seal(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-seal", usage, stdout, stderr)
	fs := c.Flags
	recorder := fs.String("recorder-id", "", "the recorder's identity (required)")
	maxEnvelopes := fs.Uint64("max-envelopes", sealing.DefaultMaxEnvelopes, "seal a segment after `N` envelopes (auto_count); at most the default, a verifier's limit per segment")
	maxDuration := fs.Duration("max-duration", 0, "seal before an envelope claimed at least `D` after the segment opened (auto_duration)")
	sealAtEnd := fs.Bool("seal-at-end", false, "seal the last segment at end of input (end_of_stream)")
	predSegment := fs.String("predecessor-segment", "", "link the first segment to this sealed segment `id`")
	predHead := fs.String("predecessor-head", "", "the predecessor's sealed head chain `hash`")
	signKey := fs.String("sign-key", "", "sign each content hash and each seal's checkpoint with this PKCS#8 PEM Ed25519 key `file` (mode 0600)")
	pass := c.PassphraseFlag()
	plainKey := fs.Bool("insecure-plain-key", false, "accept an unencrypted key file")
	limits := c.LimitFlags()
	storePath := fs.String("store", "", "continue the open segment of this store (a `file` or a postgres:// URL), read only (SPEC §7)")
	openNew := fs.Bool("open", false, "with --store and no open segment: open one linked to the last sealed segment")
	progress := c.ProgressFlag()
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	lim, err := limits()
	if err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q: arxi-seal reads stdin", c.Args()[0]))
	}
	cfg, err := sealConfig(c, *recorder, *maxEnvelopes, *maxDuration, *predSegment, *predHead)
	if err != nil {
		return c.Exit(err)
	}
	var key *signing.Key
	if *signKey != "" {
		// stdin carries the events: the passphrase is never prompted for.
		p, err := pass.Given()
		if err != nil {
			return c.Exit(err)
		}
		if key, err = (signing.KeyFile{Path: *signKey, Passphrase: p, AllowPlain: *plainKey}).Load(); err != nil {
			return c.Exit(err)
		}
		cfg.Signers = []sealing.Signer{key}
	}
	if err := storeStart(ctx, c, &cfg, *storePath, *openNew, key); err != nil {
		if errors.Is(err, errcode.KeyNotCurrent) {
			return c.ExitWith(err, errcode.ExitUsage) // refused before any work (SPEC §11.1)
		}
		return c.Exit(err)
	}
	s, err := sealing.New(cfg)
	if err != nil {
		return c.Exit(err)
	}
	p, err := c.NewProgress(*progress, "sealing", "envelopes")
	if err != nil {
		return c.Exit(err)
	}
	in, err := c.Input(ctx, "-", stdin)
	if err != nil {
		return c.Exit(err)
	}
	_, err = sealing.Stream(ctx, s, in, stdout, sealing.StreamOptions{Limits: lim, SealAtEnd: *sealAtEnd, Progress: p.Add})
	return c.Exit(err)
}

// sealConfig validates the sealing flags.
func sealConfig(c *cli.Command, recorder string, maxEnvelopes uint64, maxDuration time.Duration, predSegment, predHead string) (sealing.Config, error) {
	var cfg sealing.Config
	if recorder == "" {
		return cfg, &errcode.Error{Code: errcode.UsageInvalid, Msg: "--recorder-id is required",
			Hint: "or set ARXI_RECORDER_ID, or recorder-id in the --config file"}
	}
	id, err := scalar.ParseLabel(recorder)
	if err != nil {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "recorder-id", Msg: "invalid recorder id", Err: err}
	}
	cfg.RecorderID = id
	set := map[string]bool{}
	c.Flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if maxEnvelopes == 0 { // sealing.Config reads 0 as the default; the flag means it
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-envelopes", Msg: "must be at least 1"}
	}
	if set["max-duration"] && maxDuration <= 0 {
		return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "max-duration", Msg: "must be positive"}
	}
	cfg.MaxEnvelopes, cfg.MaxDuration = maxEnvelopes, maxDuration
	if (predSegment == "") != (predHead == "") {
		return cfg, &errcode.Error{Code: errcode.UsageInvalid, Msg: "--predecessor-segment and --predecessor-head go together"}
	}
	if predSegment != "" {
		seg, err := scalar.ParseUUID(predSegment)
		if err != nil {
			return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "predecessor-segment", Msg: "invalid segment id", Err: err}
		}
		head, err := scalar.ParseDigest(predHead)
		if err != nil {
			return cfg, &errcode.Error{Code: errcode.ConfigInvalid, Field: "predecessor-head", Msg: "invalid chain hash", Err: err}
		}
		cfg.Start.Predecessor = &evidence.Link{SegmentID: seg, ChainHead: head}
	}
	return cfg, nil
}

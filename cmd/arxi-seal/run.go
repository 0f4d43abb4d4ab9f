package main

import (
	"context"
	"flag"
	"io"
	"os"
	"time"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
)

const usage = `arxi-seal reads unsealed envelopes (NDJSON) on stdin and writes a sealed,
hash-chained stream on stdout: a genesis, attachment blobs, envelopes with
content and chain hashes, and seals.

Usage:
  arxi-seal --recorder-id ID [flags] < events.ndjson > sealed.ndjson
  arxi-seal --recorder-id ID --store arxi.db [--open] < events.ndjson | arxi-append --store arxi.db
  arxi-seal keygen -o key.pem            make a signing key (see keygen --help)

Example:
  arxi-seal --recorder-id recorder-1 --seal-at-end < events.ndjson | arxi-append --store arxi.db`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "keygen" {
		return keygen(args[1:], stdout, stderr)
	}
	c := cli.New("arxi-seal", usage, stdout, stderr)
	fs := c.Flags
	recorder := fs.String("recorder-id", "", "the recorder's identity (required)")
	maxEnvelopes := fs.Uint64("max-envelopes", 0, "seal a segment after `N` envelopes (auto_count)")
	maxDuration := fs.Duration("max-duration", 0, "seal before an envelope claimed at least `D` after the segment opened (auto_duration)")
	sealAtEnd := fs.Bool("seal-at-end", false, "seal the last segment at end of input (end_of_stream)")
	predSegment := fs.String("predecessor-segment", "", "link the first segment to this sealed segment `id`")
	predHead := fs.String("predecessor-head", "", "the predecessor's sealed head chain `hash`")
	signKey := fs.String("sign-key", "", "sign each content hash with this PKCS#8 PEM Ed25519 key `file`")
	passFile := fs.String("sign-passphrase-file", "", "read the key's passphrase from this `file` (else ARXI_SIGN_PASSPHRASE)")
	plainKey := fs.Bool("insecure-plain-key", false, "accept an unencrypted key file")
	limits := c.LimitFlags()
	storePath := fs.String("store", "", "continue the open segment of this store `file`, read only (SPEC §7)")
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
	if err := storeStart(ctx, &cfg, *storePath, *openNew); err != nil {
		return c.Exit(err)
	}
	if *signKey != "" {
		key, err := loadKey(*signKey, *passFile, *plainKey)
		if err != nil {
			return c.Exit(err)
		}
		cfg.Signers = []sealing.Signer{key}
	}
	s, err := sealing.New(cfg)
	if err != nil {
		return c.Exit(err)
	}
	p, err := cli.NewProgress(*progress, stderr, "sealing")
	if err != nil {
		return c.Exit(err)
	}
	_, err = sealing.Stream(ctx, s, stdin, stdout, sealing.StreamOptions{Limits: lim, SealAtEnd: *sealAtEnd, Progress: p.Add})
	p.Finish()
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
	if set["max-envelopes"] && maxEnvelopes == 0 {
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

func loadKey(path, passFile string, allowPlain bool) (*signing.Key, error) {
	pass, err := passphrase(passFile)
	if err != nil {
		return nil, err
	}
	return signing.LoadKey(path, pass, allowPlain)
}

// passphrase reads --sign-passphrase-file, else ARXI_SIGN_PASSPHRASE.
func passphrase(file string) ([]byte, error) {
	if file != "" {
		return signing.ReadPassphrase(file)
	}
	if p := os.Getenv("ARXI_SIGN_PASSPHRASE"); p != "" {
		if len(p) > signing.MaxPassphrase {
			return nil, errcode.New(errcode.KeyPassphrase, "ARXI_SIGN_PASSPHRASE exceeds %d bytes", signing.MaxPassphrase)
		}
		return []byte(p), nil
	}
	return nil, nil
}

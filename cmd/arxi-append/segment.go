package main

import (
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/backend"
)

const segmentUsage = `arxi-append segment manages a store's segments (SPEC §8).

Usage:
  arxi-append segment open --recorder-id ID [--store arxi.db] [--json]
      open a segment by hand: a random UUIDv7 and the clock time (the one
      non-deterministic path), linked to the last sealed segment
  arxi-append segment seal [--store arxi.db] [--sign-key KEY] [--json]
      seal the open segment now (reason manual, clock time)
  arxi-append segment status [--store arxi.db] [--json]
      describe the open segment (exit 2, segment.none_open, when none is)
  arxi-append segment list [--store arxi.db] [--json]
      list every segment in store order (--json: one object per line)

status and list only read; open and seal take the writer lock.

Example:
  arxi-append segment list --store arxi.db`

// clock is the operator commands' time source; tests replace it.
var clock = time.Now

func segment(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	sub := ""
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	c := cli.New("arxi-append segment "+sub, segmentUsage, stdout, stderr)
	storePath := storeFlag(c)
	asJSON := c.Flags.Bool("json", false, "write JSON instead of a table")
	var recorder *string
	var depth *int
	var sync *string
	var signKey *string
	var pass *cli.Passphrase
	var plainKey *bool
	switch sub {
	case "open":
		recorder = c.Flags.String("recorder-id", "", "the recorder's identity (required)")
		depth, sync = verifyDepthFlag(c), syncFlag(c)
	case "seal":
		depth, sync = verifyDepthFlag(c), syncFlag(c)
		signKey = c.Flags.String("sign-key", "", "sign the seal with this key `file`: a store with a current key takes only seals signed by it (SPEC §11.2)")
		pass = c.PassphraseFlag()
		plainKey = c.Flags.Bool("insecure-plain-key", false, "accept an unencrypted key file")
	case "status", "list":
	case "", "-h", "-help", "--help", "help":
		c.PrintUsage(stdout)
		if sub == "" {
			return c.Exit(c.UsageError("missing subcommand: open, seal, status or list"))
		}
		return 0
	default:
		err := c.UsageError("unknown subcommand %q: want open, seal, status or list", sub)
		if s := cli.Suggest(sub, []string{"open", "seal", "status", "list"}); s != "" {
			err.(*errcode.Error).Hint = "did you mean arxi-append segment " + s + "?"
		}
		return c.Exit(err)
	}
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	var err error
	switch sub {
	case "open":
		err = segmentOpen(ctx, c, *storePath, *recorder, *sync, *depth, *asJSON)
	case "seal":
		var key *signing.Key
		if *signKey != "" {
			var p []byte
			if p, err = pass.Given(); err == nil {
				key, err = signing.KeyFile{Path: *signKey, Passphrase: p, AllowPlain: *plainKey}.Load()
			}
		}
		if err == nil {
			err = segmentSeal(ctx, c, *storePath, *sync, *depth, *asJSON, key)
		}
	case "status":
		err = segmentStatus(ctx, c, *storePath, *asJSON)
	case "list":
		err = segmentList(ctx, c, *storePath, *asJSON)
	}
	return c.Exit(err)
}

func now() (scalar.Timestamp, error) {
	return scalar.TimestampOf(clock().UTC())
}

func segmentOpen(ctx context.Context, c *cli.Command, path, recorder, sync string, depth int, asJSON bool) error {
	if recorder == "" {
		return &errcode.Error{Code: errcode.UsageInvalid, Msg: "--recorder-id is required",
			Hint: "or set ARXI_RECORDER_ID, or recorder-id in the --config file"}
	}
	id, err := scalar.ParseLabel(recorder)
	if err != nil {
		return &errcode.Error{Code: errcode.ConfigInvalid, Field: "recorder-id", Msg: "invalid recorder id", Err: err}
	}
	segID, err := scalar.NewRandomUUID7()
	if err != nil {
		return err
	}
	return withAppender(ctx, path, sync, depth, func(s *store.Store, a *store.Appender, at scalar.Timestamp) error {
		g, err := a.OpenSegmentNow(ctx, id, segID, at)
		if err != nil {
			return err
		}
		return showOne(ctx, c, s, g.SegmentID, asJSON)
	})
}

// withAppender opens the store for writing and runs f with its appender
// and the clock's time.
func withAppender(ctx context.Context, path, sync string, depth int, f func(*store.Store, *store.Appender, scalar.Timestamp) error) error {
	if err := checkDepth(depth); err != nil {
		return err
	}
	s, err := openWriter(ctx, path, sync, depth)
	if err != nil {
		return err
	}
	defer s.Close()
	a, err := s.Appender(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	at, err := now()
	if err != nil {
		return err
	}
	return f(s, a, at)
}

func segmentSeal(ctx context.Context, c *cli.Command, path, sync string, depth int, asJSON bool, key *signing.Key) error {
	return withAppender(ctx, path, sync, depth, func(s *store.Store, a *store.Appender, at scalar.Timestamp) error {
		var sign []func(*evidence.Seal, scalar.Digest)
		if key != nil {
			sign = append(sign, func(seal *evidence.Seal, genesis scalar.Digest) {
				sealing.SignSeal(seal, genesis, []sealing.Signer{key})
			})
		}
		seal, err := a.SealNow(ctx, evidence.SealManual, at, sign...)
		if errors.Is(err, errcode.SegmentNoneOpen) {
			return errcode.WithHint(err, "nothing to seal")
		}
		if err != nil {
			return err
		}
		return showOne(ctx, c, s, seal.SegmentID, asJSON)
	})
}

// inSnapshot runs f on a snapshot of the store, opened for reading only;
// rows are verified as they are read.
func inSnapshot(ctx context.Context, path string, f func(*store.Snapshot) error) error {
	return backend.InSnapshot(ctx, path, f)
}

func segmentStatus(ctx context.Context, c *cli.Command, path string, asJSON bool) error {
	return inSnapshot(ctx, path, func(sn *store.Snapshot) error {
		g, err := sn.LastSegment(ctx)
		if err != nil {
			return err
		}
		if g == nil || g.Sealed() {
			return &errcode.Error{Code: errcode.SegmentNoneOpen, Path: path, Msg: "no segment is open",
				Hint: "open one with arxi-append segment open, or let arxi-seal --store PATH --open start one"}
		}
		if err := sn.Signers(ctx, []*store.Segment{g}); err != nil {
			return err
		}
		return show(c, []*store.Segment{g}, asJSON, false)
	})
}

func segmentList(ctx context.Context, c *cli.Command, path string, asJSON bool) error {
	return inSnapshot(ctx, path, func(sn *store.Snapshot) error {
		segs, err := sn.Segments(ctx)
		if err != nil {
			return err
		}
		if err := sn.Signers(ctx, segs); err != nil {
			return err
		}
		return show(c, segs, asJSON, true)
	})
}

// showOne prints the segment an operator command just changed, read back
// from the store.
func showOne(ctx context.Context, c *cli.Command, s *store.Store, id scalar.UUID, asJSON bool) error {
	return s.InSnapshot(ctx, func(sn *store.Snapshot) error {
		g, err := sn.Segment(ctx, id)
		if err != nil {
			return err
		}
		if err := sn.Signers(ctx, []*store.Segment{g}); err != nil {
			return err
		}
		return show(c, []*store.Segment{g}, asJSON, false)
	})
}

// segmentJSON is a segment's fields as the tables print them (--json
// prints store.Segment.AppendJSON).
type segmentJSON struct {
	CreatedAt     string
	EnvelopeCount uint64
	GenesisHash   string
	Head          string
	PredSegment   *string
	Record        string
	RecorderID    string
	SealReason    *string
	SealedAt      *string
	SegmentID     string
	State         string
}

func toJSON(g *store.Segment) segmentJSON {
	j := segmentJSON{CreatedAt: g.Genesis.CreatedAt.String(), EnvelopeCount: g.Count, GenesisHash: g.Genesis.GenesisHash.String(),
		Head: g.Head.String(), Record: "segment", RecorderID: g.Genesis.RecorderID.String(), SegmentID: g.ID().String(), State: "open"}
	if p := g.Genesis.Predecessor; p != nil {
		id := p.SegmentID.String()
		j.PredSegment = &id
	}
	if g.Seal != nil {
		reason, at := string(g.Seal.Reason), g.Seal.SealedAt.String()
		j.SealReason, j.SealedAt, j.State = &reason, &at, "sealed"
	}
	return j
}

// signer returns a segment's signing epoch and key id for the tables:
// "-" and "none" before any key is enrolled.
func signer(g *store.Segment) (epoch, key string) {
	if g.Signer == nil {
		return "-", "none"
	}
	return strconv.FormatInt(g.Signer.Epoch, 10), g.Signer.Key.KeyID.String()
}

func show(c *cli.Command, segs []*store.Segment, asJSON, table bool) error {
	w := c.Stdout
	if asJSON {
		for _, g := range segs {
			if _, err := w.Write(append(g.AppendJSON(nil), '\n')); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "write output")
			}
		}
		return nil
	}
	tw := c.Table()
	if table {
		tw.Row("SEGMENT", "STATE", "ENVELOPES", "CREATED", "SEALED", "REASON", "EPOCH", "KEY")
		for _, g := range segs {
			j := toJSON(g)
			sealed, reason := "-", "-"
			if g.Seal != nil {
				sealed, reason = c.Time(g.Seal.SealedAt), *j.SealReason
			}
			epoch, key := signer(g)
			tw.Row(j.SegmentID, j.State, strconv.FormatUint(j.EnvelopeCount, 10), c.Time(g.Genesis.CreatedAt), sealed, reason, epoch, key)
		}
	} else {
		for _, g := range segs {
			j := toJSON(g)
			pred := "none"
			if j.PredSegment != nil {
				pred = *j.PredSegment
			}
			rows := [][2]string{{"segment", j.SegmentID}, {"state", j.State}, {"recorder", j.RecorderID}, {"created", c.Time(g.Genesis.CreatedAt)},
				{"envelopes", strconv.FormatUint(j.EnvelopeCount, 10)}, {"head", j.Head}, {"predecessor", pred}}
			if g.Seal != nil {
				rows = append(rows, [2]string{"sealed", c.Time(g.Seal.SealedAt) + " (" + *j.SealReason + ")"})
			}
			epoch, key := signer(g)
			if g.Signer != nil {
				key += " (epoch " + epoch + ")"
			}
			rows = append(rows, [2]string{"signing key", key})
			for _, r := range rows {
				tw.Row(r[0], r[1])
			}
		}
	}
	return tw.Flush()
}

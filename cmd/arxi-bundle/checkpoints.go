package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"io"

	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/checkpoint"
	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/stream"
)

const checkpointsUsage = `arxi-bundle checkpoints prints every signed seal of a bundle (or a sealed
stream) as a C2SP signed note (SPEC §11.2), one JSON line per seal in
bundle order:

  {"note":"<checkpoint, blank line, signature lines>","record":"checkpoint","segment_id":"…"}

The note is the seal's checkpoint text and one signature line per
signature whose public key is known — from --trust-root — in key_id order,
with key name "arxi-" and the first 16 hex digits of the key id. Any tlog
tool that reads signed notes (golang.org/x/mod/sumdb/note among them)
checks it with the key's verifier key. Signatures by keys that are not
known are left out and counted in a warning on stderr; unsigned seals and
open segments give no line. It prints what the seals say and checks
nothing: arxi-verify --trust-root checks the bundle and its seals.

Usage:
  arxi-bundle checkpoints [--trust-root ROOT] FILE|-

Example:
  arxi-bundle checkpoints --trust-root root.json case.arxb.zst`

func checkpoints(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-bundle checkpoints", checkpointsUsage, stdout, stderr)
	rootPath := c.Flags.String("trust-root", "", "take the public keys of the signatures from this trust-root `file`")
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) != 1 {
		return c.Exit(c.UsageError("checkpoints takes one bundle file (or - for stdin)"))
	}
	keys := func(scalar.KeyID) (ed25519.PublicKey, bool) { return nil, false }
	if *rootPath != "" {
		tr, err := signing.LoadTrustRoot(*rootPath)
		if err != nil {
			return c.Exit(err)
		}
		keys = func(id scalar.KeyID) (ed25519.PublicKey, bool) {
			k, ok := tr.Key(id)
			return k.PublicKey, ok
		}
	}
	path := c.Args()[0]
	in, err := c.Input(ctx, path, stdin)
	if err != nil {
		return c.Exit(err)
	}
	defer in.Close()
	out := bufio.NewWriter(stdout)
	unknown, err := writeCheckpoints(ctx, in, out, keys)
	if err != nil && path != "-" {
		err = errcode.WithPath(err, path)
	}
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = errcode.Wrap(errcode.IOFailed, ferr, "write stdout")
	}
	if unknown > 0 {
		from := "no --trust-root was given"
		if *rootPath != "" {
			from = "their keys are not in " + *rootPath
		}
		c.Warn("%d signature(s) left out of the notes: %s", unknown, from)
	}
	return c.Exit(err)
}

// writeCheckpoints reads a bundle or sealed stream from r and writes the
// checkpoint line of each signed seal to w. It returns the number of
// signatures left out because keys does not know their key.
func writeCheckpoints(ctx context.Context, r io.Reader, w io.Writer, keys checkpoint.Keys) (int, error) {
	in := stream.NewReader(r, stream.Sealed, evidence.Limits{})
	first, err := in.NextLine()
	if errors.Is(err, io.EOF) {
		return 0, errcode.New(errcode.BundleMalformed, "input is empty; want a bundle or a sealed stream")
	}
	if err != nil {
		return 0, err
	}
	var g stream.Grammar
	var genesis scalar.Digest
	unknown := 0
	// Keys named by the disclosed lifecycle envelopes read so far (SPEC
	// §11.1) are known too, after those of keys.
	learned := map[scalar.KeyID]ed25519.PublicKey{}
	known := func(id scalar.KeyID) (ed25519.PublicKey, bool) {
		if pub, ok := keys(id); ok {
			return pub, true
		}
		pub, ok := learned[id]
		return pub, ok
	}
	var text, note, line []byte
	record := func(rec evidence.Record) error {
		if err := g.Next(rec.Kind()); err != nil {
			return errcode.AtLine(err, in.Line())
		}
		switch v := rec.(type) {
		case *evidence.Genesis:
			genesis = v.GenesisHash
		case *evidence.Envelope:
			if l, ok, err := signing.ParseLifecycle(&v.Content); ok && err == nil {
				learned[l.New.KeyID] = l.New.PublicKey
				if l.Old != nil {
					learned[l.Old.KeyID] = l.Old.PublicKey
				}
			}
		case *evidence.Seal:
			if len(v.Signatures) == 0 {
				return nil
			}
			text = checkpoint.Append(text[:0], genesis, v)
			var n int
			note, n = checkpoint.AppendNote(note[:0], text, v.Signatures, known)
			unknown += n
			line = checkpoint.AppendLine(line[:0], note, v.SegmentID)
			if _, err := w.Write(line); err != nil {
				return errcode.Wrap(errcode.IOFailed, err, "write stdout")
			}
		}
		return nil
	}
	if bundle.IsManifest(first) {
		if _, err := bundle.ParseManifest(first); err != nil {
			return 0, errcode.AtLine(err, 1)
		}
	} else {
		rec, err := evidence.NewDecoder(evidence.Limits{}).Sealed(first)
		if err != nil || rec.Kind() != evidence.KindGenesis {
			return 0, &errcode.Error{Code: errcode.BundleMalformed, Line: 1, Err: err,
				Msg: "the first line is neither a bundle manifest nor a genesis record"}
		}
		if err := record(rec); err != nil {
			return unknown, err
		}
	}
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return unknown, errcode.Wrap(errcode.IOFailed, err, "interrupted at line %d", in.Line()+1)
			}
		}
		rec, err := in.Next()
		if errors.Is(err, io.EOF) {
			return unknown, errcode.AtLine(g.End(), in.Line())
		}
		if err != nil {
			return unknown, err
		}
		if err := record(rec); err != nil {
			return unknown, err
		}
	}
}

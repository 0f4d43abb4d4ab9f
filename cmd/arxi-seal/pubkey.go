package main

import (
	"context"
	"io"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/signing"
)

const pubkeyUsage = `arxi-seal pubkey prints the trust-root entry {"algorithm","key_id","public_key"}
of a key file: the line keygen printed when it made the key. An encrypted
key needs its passphrase (--sign-passphrase-file, ARXI_SIGN_PASSPHRASE, or
a prompt at a terminal); a plain one is read as it is.

Usage:
  arxi-seal pubkey [--sign-passphrase-file FILE] KEY.pem

Example:
  arxi-seal pubkey key.pem > key.json
  arxi-verify trust-root key.json > root.json`

func pubkey(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-seal pubkey", pubkeyUsage, stdout, stderr)
	pass := c.PassphraseFlag()
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) != 1 {
		return c.Exit(c.UsageError("pubkey takes one key file"))
	}
	path := c.Arg(0)
	k, err := signing.LoadPublicKey(path, func() ([]byte, error) { return pass.Get(ctx, stdin, "passphrase for "+path, false) })
	if err != nil {
		return c.Exit(err)
	}
	if _, err := stdout.Write(append(k.AppendJCS(nil), '\n')); err != nil {
		return c.Exit(errcode.Wrap(errcode.IOFailed, err, "write stdout"))
	}
	return 0
}

package main

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/safefile"
	"arxi.dev/arxi/pkg/signing"
)

const keygenUsage = `arxi-seal keygen writes a new Ed25519 signing key as PKCS#8 PEM, encrypted
with a passphrase (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC), and prints its
trust-root entry {"algorithm","key_id","public_key"} on stdout. It never
overwrites a file and creates the key with mode 0600. The passphrase comes
from --sign-passphrase-file, else ARXI_SIGN_PASSPHRASE, else, at a
terminal, a prompt (asked twice).

Usage:
  arxi-seal keygen -o key.pem [--sign-passphrase-file FILE | ARXI_SIGN_PASSPHRASE=…]
  arxi-seal keygen -o key.pem --insecure-plain-key

Example:
  arxi-seal keygen -o key.pem > key.json
  arxi-verify trust-root key.json > root.json`

func keygen(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-seal keygen", keygenUsage, stdout, stderr)
	out := c.Flags.String("o", "", "write the key to this `file` (required; never overwritten)")
	passphrase := c.PassphraseFlag()
	plain := c.Flags.Bool("insecure-plain-key", false, "write the key unencrypted")
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if *out == "" || len(c.Args()) > 0 {
		return c.Exit(c.UsageError("keygen needs -o FILE and no other arguments"))
	}
	var pass []byte
	var err error
	if *plain {
		pass, err = passphrase.Given()
	} else {
		pass, err = passphrase.Get(ctx, stdin, "passphrase for "+*out, true)
	}
	if err != nil {
		return c.Exit(err)
	}
	switch {
	case *plain && pass != nil:
		return c.Exit(c.UsageError("--insecure-plain-key and a passphrase exclude each other"))
	case !*plain && pass == nil:
		return c.Exit(&errcode.Error{Code: errcode.KeyPassphrase, Msg: "keygen encrypts the key and needs a passphrase",
			Hint: "give --sign-passphrase-file or ARXI_SIGN_PASSPHRASE, run it at a terminal, or pass --insecure-plain-key"})
	}
	key, err := signing.Generate(nil)
	if err != nil {
		return c.Exit(err)
	}
	pemBytes, err := key.MarshalPEM(pass, 0)
	if err != nil {
		return c.Exit(err)
	}
	if err := safefile.CreateNew(*out, pemBytes, 0o600); errors.Is(err, fs.ErrExist) {
		return c.Exit(&errcode.Error{Code: errcode.KeyExists, Path: *out, Msg: "file exists; keygen never overwrites"})
	} else if err != nil {
		return c.Exit(err)
	}
	line := append(key.TrustedKey().AppendJCS(nil), '\n')
	if _, err := stdout.Write(line); err != nil {
		return c.Exit(errcode.Wrap(errcode.IOFailed, err, "write stdout"))
	}
	return 0
}

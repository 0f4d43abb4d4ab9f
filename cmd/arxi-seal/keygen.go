package main

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/signing"
)

const keygenUsage = `arxi-seal keygen writes a new Ed25519 signing key as PKCS#8 PEM, encrypted
with a passphrase (PBES2: PBKDF2-HMAC-SHA256, AES-256-CBC), and prints its
trust-root entry {"algorithm","key_id","public_key"} on stdout. It never
overwrites a file and creates the key with mode 0600.

Usage:
  arxi-seal keygen -o key.pem [--sign-passphrase-file FILE | ARXI_SIGN_PASSPHRASE=…]
  arxi-seal keygen -o key.pem --insecure-plain-key

Example:
  ARXI_SIGN_PASSPHRASE=correct-horse arxi-seal keygen -o key.pem > key.json`

func keygen(args []string, stdout, stderr io.Writer) int {
	c := cli.New("arxi-seal keygen", keygenUsage, stdout, stderr)
	out := c.Flags.String("o", "", "write the key to this `file` (required; never overwritten)")
	passFile := c.Flags.String("sign-passphrase-file", "", "read the passphrase from this `file` (else ARXI_SIGN_PASSPHRASE)")
	plain := c.Flags.Bool("insecure-plain-key", false, "write the key unencrypted")
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if *out == "" || len(c.Args()) > 0 {
		return c.Exit(c.UsageError("keygen needs -o FILE and no other arguments"))
	}
	pass, err := passphrase(*passFile)
	if err != nil {
		return c.Exit(err)
	}
	switch {
	case *plain && pass != nil:
		return c.Exit(c.UsageError("--insecure-plain-key and a passphrase exclude each other"))
	case !*plain && pass == nil:
		return c.Exit(&errcode.Error{Code: errcode.KeyPassphrase, Msg: "keygen encrypts the key and needs a passphrase",
			Hint: "give --sign-passphrase-file or ARXI_SIGN_PASSPHRASE, or --insecure-plain-key"})
	}
	key, err := signing.Generate(nil)
	if err != nil {
		return c.Exit(err)
	}
	pemBytes, err := key.MarshalPEM(pass, 0)
	if err != nil {
		return c.Exit(err)
	}
	if err := writeNew(*out, pemBytes); err != nil {
		return c.Exit(err)
	}
	line := append(key.TrustedKey().AppendJCS(nil), '\n')
	if _, err := stdout.Write(line); err != nil {
		return c.Exit(errcode.Wrap(errcode.IOFailed, err, "write stdout"))
	}
	return 0
}

// writeNew creates path with mode 0600, failing if it exists, and removes it
// again if writing fails.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return &errcode.Error{Code: errcode.KeyExists, Path: path, Msg: "file exists; keygen never overwrites"}
	}
	if err != nil {
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "create key file", Err: err}
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return &errcode.Error{Code: errcode.IOFailed, Path: path, Msg: "write key file", Err: werr}
	}
	return nil
}

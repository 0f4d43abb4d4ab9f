package main

import (
	"context"
	"io"

	"arxi.dev/arxi/pkg/cli"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/signing"
)

const trustRootUsage = `arxi-verify trust-root writes a trust root (SPEC §11) for --trust-root: the
keys of the files given and a policy. Each file is a key entry (the line
arxi-seal keygen and arxi-seal pubkey print), a PEM public key, or a
private key file (mode 0600; an encrypted one needs its passphrase, from
--sign-passphrase-file, ARXI_SIGN_PASSPHRASE or a prompt at a terminal).

Policies: any_trusted_key (the default: one valid signature by a listed
key), all_must_sign (every listed key), threshold (--threshold N distinct
listed keys). --follow-rotations trusts keys handed over by valid key
rotations recorded in the evidence (SPEC §11.1).

Usage:
  arxi-verify trust-root [--policy P] [--threshold N] [--follow-rotations] [-o FILE] KEY...

Example:
  arxi-seal keygen -o key.pem > key.json
  arxi-verify trust-root key.json > root.json
  arxi-verify --trust-root root.json case.arxb.zst`

func trustRoot(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := cli.New("arxi-verify trust-root", trustRootUsage, stdout, stderr)
	policy := c.Flags.String("policy", string(signing.AnyTrustedKey), "the `policy`: any_trusted_key, all_must_sign or threshold")
	threshold := c.Flags.Int("threshold", 0, "with --policy threshold: how many distinct keys must sign (`N`)")
	follow := c.Flags.Bool("follow-rotations", false, "trust keys introduced by valid key rotations (follow_rotations)")
	out := c.Flags.String("o", "", "write the trust root to `FILE` instead of stdout")
	pass := c.PassphraseFlag()
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) == 0 {
		return c.Exit(c.UsageError("trust-root needs at least one key file"))
	}
	p := signing.Policy{Kind: signing.PolicyKind(*policy), Threshold: *threshold, FollowRotations: *follow}
	if p.Kind == signing.Threshold && *threshold == 0 {
		return c.Exit(c.UsageError("--policy threshold needs --threshold N"))
	}
	keys := make([]signing.TrustedKey, 0, len(c.Args()))
	for _, path := range c.Args() {
		k, err := signing.LoadPublicKey(path, func() ([]byte, error) { return pass.Get(ctx, stdin, "passphrase for "+path, false) })
		if err != nil {
			return c.Exit(err)
		}
		keys = append(keys, k)
	}
	tr, err := signing.NewTrustRoot(keys, p)
	if err != nil {
		return c.Exit(errcode.WithHint(err, "see "+c.Name+" --help"))
	}
	return c.Exit(c.Output(ctx, *out, false, func(w io.Writer) error {
		if _, err := w.Write(append(tr.AppendJCS(nil), '\n')); err != nil {
			return errcode.Wrap(errcode.IOFailed, err, "write output")
		}
		return nil
	}))
}

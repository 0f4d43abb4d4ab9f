package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"arxi.dev/arxi/internal/ctxwait"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/signing"
	"golang.org/x/term"
)

// PassphraseEnv is the environment variable a key's passphrase may come
// from (SPEC §11); it is not a flag, so the passphrase is never on a
// command line.
const PassphraseEnv = "ARXI_SIGN_PASSPHRASE"

// Passphrase is where a command gets a key's passphrase: the
// --sign-passphrase-file flag, else ARXI_SIGN_PASSPHRASE, else, for a
// command that asks for it, a prompt on the terminal.
type Passphrase struct {
	c    *Command
	file *string
}

// PassphraseFlag registers --sign-passphrase-file.
func (c *Command) PassphraseFlag() *Passphrase {
	return &Passphrase{c: c, file: c.Flags.String("sign-passphrase-file", "",
		"read the key's passphrase from this `file` (mode 0600; else "+PassphraseEnv+")")}
}

// Given returns the passphrase from the file or the environment, or nil
// when neither gives one.
func (p *Passphrase) Given() ([]byte, error) {
	if *p.file != "" {
		return signing.ReadPassphrase(*p.file)
	}
	if s := os.Getenv(PassphraseEnv); s != "" {
		if len(s) > signing.MaxPassphrase {
			return nil, errcode.New(errcode.KeyPassphrase, "%s exceeds %d bytes", PassphraseEnv, signing.MaxPassphrase)
		}
		return []byte(s), nil
	}
	return nil, nil
}

// Get returns Given's passphrase; when there is none and stdin is a
// terminal, it prompts for one on stderr (twice, when confirm, and the
// two must match), without echo. It returns nil when there is neither.
func (p *Passphrase) Get(ctx context.Context, stdin io.Reader, prompt string, confirm bool) ([]byte, error) {
	pass, err := p.Given()
	if pass != nil || err != nil || !IsTerminal(stdin) {
		return pass, err
	}
	fd := int(stdin.(fder).Fd())
	pass, err = p.read(ctx, fd, prompt+": ")
	if err != nil {
		return nil, err
	}
	if len(pass) == 0 {
		return nil, errcode.New(errcode.KeyPassphrase, "the passphrase is empty")
	}
	if confirm {
		again, err := p.read(ctx, fd, "the same again: ")
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pass, again) {
			return nil, errcode.New(errcode.KeyPassphrase, "the two passphrases differ")
		}
	}
	return pass, nil
}

// read reads one line without echo, restoring the terminal if ctx ends
// first (the read itself cannot be stopped; the process is exiting).
func (p *Passphrase) read(ctx context.Context, fd int, prompt string) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, errcode.Wrap(errcode.IOFailed, err, "read the passphrase")
	}
	p.c.progress.clear()
	echoOff(fd)
	defer term.Restore(fd, state)
	fmt.Fprint(p.c.Stderr, prompt)
	b, err := ctxwait.Do(ctx, func() ([]byte, error) { return term.ReadPassword(fd) }, nil)
	fmt.Fprintln(p.c.Stderr)
	switch {
	case err != nil && err == ctx.Err():
		return nil, err // the read goes on; echo comes back now
	case err != nil:
		return nil, errcode.Wrap(errcode.IOFailed, err, "read the passphrase")
	case len(b) > signing.MaxPassphrase:
		return nil, errcode.New(errcode.KeyPassphrase, "the passphrase exceeds %d bytes", signing.MaxPassphrase)
	}
	return b, nil
}

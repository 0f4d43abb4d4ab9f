package main

import (
	"context"
	"errors"
	"io"
	"io/fs"
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
	"arxi.dev/arxi/pkg/stream"
)

const enrollUsage = `arxi-seal enroll records a store's first signing key in its chain (SPEC
§11.1): it writes a sealed-stream continuation of the store's open segment
(or a new segment linked to the last sealed one) holding a
system.adapter.key_enrolled envelope at epoch 1, signed by the key, and a
key_rotation seal. Pipe it into arxi-append; from then on the store takes
only envelopes signed by that key. Running it again once the store names
the key writes nothing and exits 0.

Usage:
  arxi-seal enroll --store DB --sign-key KEY --recorder-id ID [--reason T] | arxi-append --store DB

Example:
  arxi-seal enroll --store arxi.db --sign-key key.pem --recorder-id recorder-1 | arxi-append --store arxi.db`

const rotateUsage = `arxi-seal rotate hands a store's signing over from its current key to a
new one (SPEC §11.1): a sealed-stream continuation of the store's open
segment (or a new segment linked to the last sealed one) holding a
system.adapter.key_rotated envelope at the next epoch, signed by the old
and the new key, and a key_rotation seal. With --break-glass, for a key
that is lost or compromised, the envelope is
system.adapter.key_rotated.break_glass, signed by the new key only, and
--sign-key is omitted; a verifier trusts the new key only if its trust root
lists it. Pipe it into arxi-append. Running it again after a crash is safe:
when the store already names the new key as current it writes nothing and
exits 0 (or only the seal, when the store holds the envelope but not yet
its seal).

Usage:
  arxi-seal rotate --store DB --sign-key OLD --new-key NEW [--reason T] | arxi-append --store DB
  arxi-seal rotate --store DB --new-key NEW --break-glass [--reason T] | arxi-append --store DB

Example:
  arxi-seal rotate --store arxi.db --sign-key old.pem --new-key new.pem --recorder-id recorder-1 --reason scheduled | arxi-append --store arxi.db`

func enroll(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return lifecycle(ctx, false, args, stdout, stderr)
}

func rotate(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return lifecycle(ctx, true, args, stdout, stderr)
}

// lifecycle runs enroll (rotate false) or rotate.
func lifecycle(ctx context.Context, isRotate bool, args []string, stdout, stderr io.Writer) int {
	name, usage := "arxi-seal enroll", enrollUsage
	if isRotate {
		name, usage = "arxi-seal rotate", rotateUsage
	}
	c := cli.New(name, usage, stdout, stderr)
	fs := c.Flags
	storePath := fs.String("store", "", "the store (a `file` or a postgres:// URL) whose lineage continues (required)")
	recorder := fs.String("recorder-id", "", "the recorder's identity; the open segment's recorder when one is open")
	signKey := fs.String("sign-key", "", "the store's current key `file` (rotate), or the key to enrol (enroll)")
	pass := c.PassphraseFlag()
	plainKey := fs.Bool("insecure-plain-key", false, "accept unencrypted key files")
	reason := fs.String("reason", "", "why the key changes, recorded in the envelope (`text`, at most 256 bytes)")
	claimedAt := fs.String("claimed-at", "", "date the envelope and its seal at this RFC 3339 UTC `time` instead of the clock")
	var newKey, newPass *string
	var breakGlass *bool
	if isRotate {
		newKey = fs.String("new-key", "", "the new key `file` (required)")
		newPass = fs.String("new-passphrase-file", "", "read the new key's passphrase from this `file` (else the --sign-key passphrase)")
		breakGlass = fs.Bool("break-glass", false, "the current key is lost or compromised: sign by the new key only (omit --sign-key)")
	}
	if err := c.Parse(args); err != nil {
		return c.Exit(err)
	}
	if len(c.Args()) > 0 {
		return c.Exit(c.UsageError("unexpected argument %q", c.Args()[0]))
	}
	req, err := lifecycleRequest(c, isRotate, *storePath, *signKey, newKey, breakGlass, *reason, *claimedAt)
	if err != nil {
		return c.Exit(err)
	}
	p, err := pass.Given()
	if err != nil {
		return c.Exit(err)
	}
	if req.oldPath != "" {
		if req.old, err = (signing.KeyFile{Path: req.oldPath, Passphrase: p, AllowPlain: *plainKey}).Load(); err != nil {
			return c.Exit(err)
		}
	}
	np := p
	if newPass != nil && *newPass != "" {
		if np, err = signing.ReadPassphrase(*newPass); err != nil {
			return c.Exit(err)
		}
	}
	if req.new, err = (signing.KeyFile{Path: req.newPath, Passphrase: np, AllowPlain: *plainKey}).Load(); err != nil {
		return c.Exit(err)
	}
	h, err := lifecycleHead(ctx, *storePath)
	if err != nil {
		return c.Exit(err)
	}
	recs, err := req.records(c, h, *recorder)
	if err != nil {
		if errors.Is(err, errcode.KeyNotCurrent) {
			return c.ExitWith(err, errcode.ExitUsage) // refused before any work (SPEC §11.1)
		}
		return c.Exit(err)
	}
	w := stream.NewWriter(stdout)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			return c.Exit(err)
		}
	}
	return c.Exit(w.Flush())
}

// lifecycleReq is what enroll or rotate is asked to do.
type lifecycleReq struct {
	kind             signing.LifecycleKind
	oldPath, newPath string
	old, new         *signing.Key // old nil for enroll and break-glass
	reason           scalar.Label
	at               scalar.Timestamp
}

// lifecycleRequest validates the flags.
func lifecycleRequest(c *cli.Command, isRotate bool, storePath, signKey string, newKey *string, breakGlass *bool, reason, claimedAt string) (*lifecycleReq, error) {
	r := &lifecycleReq{kind: signing.Enrolled}
	if storePath == "" {
		return nil, c.UsageError("--store is required: the lineage is the store's")
	}
	switch {
	case !isRotate:
		if signKey == "" {
			return nil, c.UsageError("--sign-key is required: the key to enrol")
		}
		r.newPath = signKey
	case *newKey == "":
		return nil, c.UsageError("--new-key is required")
	case *breakGlass && signKey != "":
		return nil, &errcode.Error{Code: errcode.UsageInvalid, Msg: "--break-glass and --sign-key exclude each other",
			Hint: "a break-glass rotation replaces a key that is lost; with the current key at hand, rotate without --break-glass"}
	case *breakGlass:
		r.kind, r.newPath = signing.BreakGlass, *newKey
	case signKey == "":
		return nil, c.UsageError("--sign-key (the store's current key) is required, unless --break-glass")
	default:
		r.kind, r.oldPath, r.newPath = signing.Rotated, signKey, *newKey
	}
	if reason != "" {
		l, err := scalar.ParseLabel(reason)
		if err != nil {
			return nil, &errcode.Error{Code: errcode.UsageInvalid, Field: "reason", Msg: "invalid reason", Err: err}
		}
		r.reason = l
	}
	var err error
	if claimedAt != "" {
		if r.at, err = scalar.ParseTimestamp(claimedAt); err != nil {
			return nil, &errcode.Error{Code: errcode.UsageInvalid, Field: "claimed-at", Msg: "invalid time", Err: err}
		}
	} else if r.at, err = scalar.TimestampOf(time.Now()); err != nil {
		return nil, err
	}
	return r, nil
}

// lifecycleHead reads the store's head; a store that does not exist yet
// is empty (arxi-append creates it).
func lifecycleHead(ctx context.Context, path string) (*store.Head, error) {
	s, err := backend.OpenReader(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return &store.Head{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Head(ctx, true)
}

// records returns the continuation to write for h: the lifecycle envelope
// and its seal; only the seal when the store holds the envelope but not
// its seal; nothing when the store already names the new key.
func (r *lifecycleReq) records(c *cli.Command, h *store.Head, recorderFlag string) ([]evidence.Record, error) {
	cur := h.Key
	start := sealing.Continue(h.Genesis, h.Chain, h.LastClaimedAt, h.Last)
	if cur.Epoch > 0 && cur.Key.KeyID == r.new.KeyID() {
		if !h.Rotating {
			c.Note("the store already names key %s as current (epoch %d): nothing to do", cur.Key.KeyID, cur.Epoch)
			return nil, nil
		}
		// The envelope is stored, its seal is not: write the seal.
		c.Note("the store holds the lifecycle envelope of epoch %d but not its seal: writing the key_rotation seal", cur.Epoch)
		// The seal is signed as the envelope was: by the old and the new
		// key of a rotation, the new key otherwise (docs/keys.md).
		var signers []sealing.Signer
		if r.old != nil && cur.Kind == signing.Rotated {
			signers = append(signers, r.old)
		}
		signers = append(signers, r.new)
		s, err := sealing.New(sealing.Config{RecorderID: h.Genesis.RecorderID, Start: start, Signers: signers})
		if err != nil {
			return nil, err
		}
		return s.SealNow(nil, evidence.SealKeyRotation, h.LastClaimedAt)
	}
	if h.Rotating {
		return nil, errcode.New(errcode.Internal, "the store's open segment ends with a lifecycle envelope of another key")
	}
	l := &signing.Lifecycle{Kind: r.kind, Epoch: cur.Epoch + 1, New: r.new.TrustedKey(), Reason: r.reason}
	keys := []*signing.Key{r.new}
	switch {
	case r.kind == signing.Enrolled && cur.Epoch > 0:
		return nil, &errcode.Error{Code: errcode.UsageInvalid,
			Msg:  "the store already has a signing key, " + cur.Key.KeyID.String() + " (epoch " + strconv.FormatInt(cur.Epoch, 10) + ")",
			Hint: "arxi-seal rotate hands over to a new key"}
	case r.kind != signing.Enrolled && cur.Epoch == 0:
		return nil, &errcode.Error{Code: errcode.UsageInvalid, Msg: "the store has no signing key to rotate from",
			Hint: "arxi-seal enroll records the first key"}
	case r.kind == signing.Rotated:
		if r.old.KeyID() != cur.Key.KeyID {
			return nil, &errcode.Error{Code: errcode.KeyNotCurrent, Path: r.oldPath,
				Msg:  "--sign-key is key " + r.old.KeyID().String() + "; the store's current key is " + cur.Key.KeyID.String() + " (epoch " + strconv.FormatInt(cur.Epoch, 10) + ")",
				Hint: "--sign-key must be the store's current key; if it is lost, rotate with --break-glass"}
		}
		keys = []*signing.Key{r.old, r.new}
	}
	if cur.Epoch > 0 {
		old := cur.Key
		l.Old = &old
	}
	recorder, err := lifecycleRecorder(h, recorderFlag)
	if err != nil {
		return nil, err
	}
	return sealing.Lifecycle(sealing.LifecycleConfig{RecorderID: recorder, Start: start, Lifecycle: l, ClaimedAt: r.at, Keys: keys})
}

// lifecycleRecorder is the recorder of the lifecycle envelope: the open
// segment's, else --recorder-id.
func lifecycleRecorder(h *store.Head, flag string) (scalar.Label, error) {
	var id scalar.Label
	if flag != "" {
		var err error
		if id, err = scalar.ParseLabel(flag); err != nil {
			return id, &errcode.Error{Code: errcode.ConfigInvalid, Field: "recorder-id", Msg: "invalid recorder id", Err: err}
		}
	}
	if h.Genesis == nil {
		if id.IsZero() {
			return id, &errcode.Error{Code: errcode.UsageInvalid, Msg: "--recorder-id is required: the store has no open segment to take it from",
				Hint: "or set ARXI_RECORDER_ID, or recorder-id in the --config file"}
		}
		return id, nil
	}
	if !id.IsZero() && id != h.Genesis.RecorderID {
		return id, &errcode.Error{Code: errcode.UsageInvalid, Field: "recorder-id",
			Msg: "the open segment's recorder is " + strconv.Quote(h.Genesis.RecorderID.String()) + ", not " + strconv.Quote(flag)}
	}
	return h.Genesis.RecorderID, nil
}

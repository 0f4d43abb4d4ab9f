package storetest

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/stream"
)

// Key returns deterministic test key n.
func Key(n byte) *signing.Key {
	return signing.NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize)))
}

// LifecycleOf returns the lifecycle payload of kind at epoch from old
// (nil at epoch 1) to new.
func LifecycleOf(kind signing.LifecycleKind, epoch int64, old, new *signing.Key) *signing.Lifecycle {
	l := &signing.Lifecycle{Kind: kind, Epoch: epoch, New: new.TrustedKey()}
	if old != nil {
		o := old.TrustedKey()
		l.Old = &o
	}
	return l
}

// Forge seals the lifecycle envelope l from the store's head, signed by
// keys (whatever l requires), then a key_rotation seal: a lifecycle
// continuation as arxi-seal rotate writes it when keys are l's signers,
// and a forgery otherwise.
func Forge(t testing.TB, s *store.Store, l *signing.Lifecycle, at scalar.Timestamp, keys ...*signing.Key) []byte {
	t.Helper()
	h, err := s.Head(ctx, true)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	signers := make([]sealing.Signer, len(keys))
	for i, k := range keys {
		signers[i] = k
	}
	sl, err := sealing.New(sealing.Config{RecorderID: Recorder, Signers: signers, Start: sealing.Continue(h.Genesis, h.Chain, h.LastClaimedAt, h.Last), LifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sl.Append(nil, &evidence.Unsealed{Content: l.Content(Recorder, at)})
	if err != nil {
		t.Fatal(err)
	}
	if out, err = sl.SealNow(out, evidence.SealKeyRotation, at); err != nil {
		t.Fatal(err)
	}
	return encode(t, out)
}

// encode writes records as a sealed stream.
func encode(t testing.TB, recs []evidence.Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w := stream.NewWriter(&b)
	for _, r := range recs {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Rotate is Forge with the keys l requires: a valid continuation.
func Rotate(t testing.TB, s *store.Store, l *signing.Lifecycle, at scalar.Timestamp, keys ...*signing.Key) []byte {
	t.Helper()
	h, err := s.Head(ctx, true)
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	recs, err := sealing.Lifecycle(sealing.LifecycleConfig{RecorderID: Recorder, Lifecycle: l, ClaimedAt: at, Keys: keys,
		Start: sealing.Continue(h.Genesis, h.Chain, h.LastClaimedAt, h.Last)})
	if err != nil {
		t.Fatal(err)
	}
	return encode(t, recs)
}

// At is the claimed_at of generated event i.
func At(i int) scalar.Timestamp {
	ts, _ := scalar.TimestampOf(Shape.At(i))
	return ts
}

// signed seals events i..j-1 from the store's head, signed by keys.
func signed(t *testing.T, s *store.Store, from, to int, sealAtEnd bool, keys ...*signing.Key) []byte {
	t.Helper()
	var signers []sealing.Signer
	for _, k := range keys {
		signers = append(signers, k)
	}
	return continueFrom(t, s, true, sealing.Config{Signers: signers}, Events(from, to), sealAtEnd)
}

func at(i int) scalar.Timestamp { return At(i) }

// testKeys: the key lifecycle rules (SPEC §11.1) on every backend.
func testKeys(t *testing.T, h Harness) {
	a, b, c, x := Key(1), Key(2), Key(3), Key(9)
	t.Run("Lineage", func(t *testing.T) {
		bk := h.New(t)
		s := open(t, bk, 0)
		mustAppend(t, s, signed(t, s, 0, 3, false)) // unsigned events before any key
		enrol := Rotate(t, s, LifecycleOf(signing.Enrolled, 1, nil, a), at(3), a)
		mustAppend(t, s, enrol)
		mustAppend(t, s, signed(t, s, 4, 7, true, a))
		mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.Rotated, 2, a, b), at(8), a, b))
		mustAppend(t, s, signed(t, s, 9, 12, false, b))
		mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.BreakGlass, 3, b, c), at(12), c))
		mustAppend(t, s, signed(t, s, 13, 15, false, c))
		s = open(t, h.Reopen(t, bk), 0)
		defer s.Close()
		l, err := s.Lineage(ctx)
		if err != nil || l.Epoch != 3 || l.Key.KeyID != c.KeyID() || !l.Key.PublicKey.Equal(c.PublicKey()) {
			t.Fatalf("Lineage = %+v, %v; want epoch 3, key %s", l, err, c.KeyID())
		}
		envs := Envelopes(t, dump(t, s))
		if got := envs[len(envs)-3]; got.EnvelopeID != l.EnvelopeID || got.EventType.String() != signing.EventKeyBreakGlass {
			t.Errorf("Lineage envelope %s, want the break-glass envelope %s", l.EnvelopeID, got.EnvelopeID)
		}
		// Every lifecycle envelope ends its segment with a key_rotation seal.
		in := dump(t, s)
		for i, line := range Lines(in) {
			if strings.Contains(line, `"event_type":"system.adapter.key_`) && !strings.Contains(Lines(in)[i+1], `"reason":"key_rotation"`) {
				t.Errorf("line %d: a lifecycle envelope not followed by its key_rotation seal: %s", i+1, Lines(in)[i+1])
			}
		}
		if err := l.RequireKey(c.KeyID()); err != nil {
			t.Errorf("RequireKey(current) = %v", err)
		}
		wantCode(t, "RequireKey(retired)", l.RequireKey(b.KeyID()), errcode.KeyNotCurrent)
	})

	t.Run("Enforcement", func(t *testing.T) {
		s := open(t, h.New(t), 0)
		defer s.Close()
		mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.Enrolled, 1, nil, a), at(0), a))
		before := dump(t, s)
		for _, tc := range []struct {
			name string
			keys []*signing.Key
			code errcode.Code
		}{
			{"unsigned", nil, errcode.KeyNotCurrent},
			{"signed by another key", []*signing.Key{x}, errcode.KeyNotCurrent},
			{"signed by the current key", []*signing.Key{a}, ""},
			{"signed by the current key and a witness", []*signing.Key{x, a}, ""},
		} {
			in := signed(t, s, 1, 4, false, tc.keys...)
			_, _, err := appendStream(t, s, in, 1)
			if tc.code == "" {
				if err != nil {
					t.Errorf("%s: append = %v", tc.name, err)
				}
				before = dump(t, s)
				continue
			}
			wantCode(t, tc.name, err, tc.code)
			if e, ok := errcode.As(err); ok && (e.Segment == "" || e.Sequence == 0) {
				t.Errorf("%s: error %v does not name the envelope", tc.name, err)
			}
			if !bytes.Equal(dump(t, s), before) {
				t.Errorf("%s: the store changed", tc.name)
			}
		}
		// A signature by the current key's id that does not verify.
		in := signed(t, s, 10, 11, false, a)
		in = edit(t, in, lineOf(in, "envelope", 0), func(r evidence.Record) { r.(*evidence.Envelope).Signatures[0].Value[0] ^= 1 })
		_, _, err := appendStream(t, s, in, 1)
		wantCode(t, "forged signature by the current key", err, errcode.KeyNotCurrent)
		if !bytes.Equal(dump(t, s), before) {
			t.Errorf("forged signature: the store changed")
		}
	})

	t.Run("Seals", func(t *testing.T) {
		// SPEC §11.2: once the store has a key, every seal is signed by
		// the key of its segment.
		s := open(t, h.New(t), 0)
		defer s.Close()
		mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.Enrolled, 1, nil, a), at(0), a))
		mustAppend(t, s, signed(t, s, 1, 3, false, a))
		before := dump(t, s)
		for name, keys := range map[string][]*signing.Key{"unsigned": nil, "signed by another key": {x}} {
			in := signed(t, s, 3, 4, true, a)
			in = edit(t, in, lineOf(in, "seal", 0), func(r evidence.Record) {
				sl := r.(*evidence.Seal)
				sl.Signatures = nil
				g := Records(t, []byte(Lines(in)[0]))[0].(*evidence.Genesis)
				var signers []sealing.Signer
				for _, k := range keys {
					signers = append(signers, k)
				}
				sealing.SignSeal(sl, g.GenesisHash, signers)
			})
			_, _, err := appendStream(t, s, in, 0)
			wantCode(t, "seal "+name, err, errcode.KeyNotCurrent)
			if !bytes.Equal(dump(t, s), before) {
				t.Errorf("seal %s: the store changed", name)
			}
		}
		ap, err := s.Appender(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer ap.Close()
		_, err = ap.SealNow(ctx, evidence.SealManual, at(9))
		wantCode(t, "manual seal unsigned", err, errcode.KeyNotCurrent)
		if _, err := ap.SealNow(ctx, evidence.SealManual, at(9), func(sl *evidence.Seal, g scalar.Digest) {
			sealing.SignSeal(sl, g, []sealing.Signer{a})
		}); err != nil {
			t.Errorf("manual seal signed by the current key: %v", err)
		}
	})

	t.Run("Forgeries", func(t *testing.T) {
		// Each forgery comes after an enrolment of a and a rotation to b
		// (epoch 2, current key b).
		mismatched := LifecycleOf(signing.Rotated, 3, b, c)
		mismatched.New.KeyID = x.KeyID()
		for _, tc := range []struct {
			name  string
			l     *signing.Lifecycle
			keys  []*signing.Key
			field string
		}{
			{"skipped epoch", LifecycleOf(signing.Rotated, 4, b, c), []*signing.Key{b, c}, "payload.epoch"},
			{"repeated epoch", LifecycleOf(signing.Rotated, 2, b, c), []*signing.Key{b, c}, "payload.epoch"},
			{"enrolment again", LifecycleOf(signing.Enrolled, 1, nil, c), []*signing.Key{c}, "payload.epoch"},
			{"old key not current", LifecycleOf(signing.Rotated, 3, a, c), []*signing.Key{a, c}, "payload.old_key_id"},
			{"rotation signed by the new key only", LifecycleOf(signing.Rotated, 3, b, c), []*signing.Key{c}, "signatures"},
			{"rotation signed by the old key only", LifecycleOf(signing.Rotated, 3, b, c), []*signing.Key{b}, "signatures"},
			{"break-glass signed by the old key only", LifecycleOf(signing.BreakGlass, 3, b, c), []*signing.Key{b}, "signatures"},
			{"rotation to the same key", LifecycleOf(signing.Rotated, 3, b, b), []*signing.Key{b}, "payload.new_key_id"},
			{"mismatched key ids", mismatched, []*signing.Key{b, c}, "payload.new_key_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s := open(t, h.New(t), 0)
				defer s.Close()
				mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.Enrolled, 1, nil, a), at(0), a))
				mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.Rotated, 2, a, b), at(1), a, b))
				before := dump(t, s)
				_, _, err := appendStream(t, s, Forge(t, s, tc.l, at(2), tc.keys...), 0)
				e, ok := errcode.As(err)
				if !ok || e.Code != errcode.KeyRotationInvalid || e.Field != tc.field {
					t.Errorf("append = %v, want %s on field %q", err, errcode.KeyRotationInvalid, tc.field)
				}
				if !bytes.Equal(dump(t, s), before) {
					t.Errorf("the store changed")
				}
				if l, _ := s.Lineage(ctx); l.Epoch != 2 || l.Key.KeyID != b.KeyID() {
					t.Errorf("Lineage = %+v after a refused forgery", l)
				}
			})
		}
	})

	t.Run("RotationEndsSegment", func(t *testing.T) {
		bk := h.New(t)
		s := open(t, bk, 0)
		in := Rotate(t, s, LifecycleOf(signing.Enrolled, 1, nil, a), at(0), a)
		lines := Lines(in)
		// The lifecycle envelope committed alone (a crash before its seal):
		// the store opens, and only the key_rotation seal may follow.
		mustAppend(t, s, []byte(strings.Join(lines[:len(lines)-1], "")))
		s = open(t, h.Reopen(t, bk), 0)
		defer s.Close()
		if l, err := s.Lineage(ctx); err != nil || l.Epoch != 1 {
			t.Fatalf("Lineage = %+v, %v", l, err)
		}
		_, _, err := appendStream(t, s, signed(t, s, 1, 2, false, a), 0)
		wantCode(t, "envelope after the lifecycle envelope", err, errcode.KeyRotationInvalid)
		_, _, err = appendStream(t, s, []byte(lines[0]+strings.Replace(lines[len(lines)-1], "key_rotation", "end_of_stream", 1)), 0)
		wantCode(t, "end_of_stream seal after the lifecycle envelope", err, errcode.KeyRotationInvalid)
		mustAppend(t, s, []byte(lines[0]+lines[len(lines)-1]))
		mustAppend(t, s, signed(t, s, 1, 3, true, a))
	})

	t.Run("Corruption", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			c    Corruption
		}{
			{"key id", Corruption{"key_epochs", int64(2), "key_id", keyID(x)}},
			{"public key", Corruption{"key_epochs", int64(2), "public_key", []byte(x.PublicKey())}},
			{"position", Corruption{"key_epochs", int64(2), "position", int64(3)}},
			{"lifecycle envelope's event type", Corruption{"envelopes", uint64(2), "event_type", "tool.call"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				bk := h.New(t)
				s := open(t, bk, 0)
				mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.Enrolled, 1, nil, a), at(0), a))
				mustAppend(t, s, Rotate(t, s, LifecycleOf(signing.Rotated, 2, a, b), at(1), a, b))
				mustAppend(t, s, signed(t, s, 2, 4, false, b))
				h.Corrupt(t, bk, tc.c)
				bk = h.Reopen(t, bk)
				defer bk.Close()
				_, err := store.Open(ctx, bk, store.Config{})
				wantCode(t, "open", err, errcode.StoreCorrupt)
				if e, ok := errcode.As(err); ok && !strings.Contains(e.Msg, "row") {
					t.Errorf("error %v does not name the row", err)
				}
			})
		}
	})
}

func keyID(k *signing.Key) []byte { id := k.KeyID(); return id[:] }

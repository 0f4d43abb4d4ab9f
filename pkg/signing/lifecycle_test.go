package signing

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/schematest"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
)

// seededKey is a deterministic test key.
func seededKey(b byte) *Key {
	return NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, ed25519.SeedSize)))
}

// rotation is the payload of a rotation from old to new at epoch.
func rotation(epoch int64, old, new *Key, reason string) *Lifecycle {
	l := &Lifecycle{Kind: Rotated, Epoch: epoch, New: new.TrustedKey()}
	if epoch == 1 {
		l.Kind = Enrolled
	}
	if old != nil {
		o := old.TrustedKey()
		l.Old = &o
	}
	if reason != "" {
		l.Reason = scalar.MustLabel(reason)
	}
	return l
}

func TestParseLifecyclePayload(t *testing.T) {
	a, b := seededKey(1), seededKey(2)
	good := string(rotation(2, a, b, "scheduled").AppendPayload(nil))
	enrol := string(rotation(1, nil, a, "").AppendPayload(nil))
	// edit replaces one member's value of a payload in canonical form.
	edit := func(in, key, value string) string {
		var o map[string]json.RawMessage
		if err := json.Unmarshal([]byte(in), &o); err != nil {
			t.Fatal(err)
		}
		o[key] = json.RawMessage(value)
		out, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name    string
		kind    LifecycleKind
		payload string
		code    errcode.Code
		field   string
	}{
		{"not an object", Rotated, `[]`, errcode.KeyRotationInvalid, "payload"},
		{"unknown key", Rotated, strings.Replace(good, `{"epoch"`, `{"comment":"x","epoch"`, 1), errcode.KeyRotationInvalid, "payload.comment"},
		{"missing reason", Rotated, strings.Replace(good, `,"reason":"scheduled"`, ``, 1), errcode.KeyRotationInvalid, "payload.reason"},
		{"epoch zero", Rotated, edit(good, "epoch", "0"), errcode.KeyRotationInvalid, "payload.epoch"},
		{"epoch negative", Rotated, edit(good, "epoch", "-3"), errcode.KeyRotationInvalid, "payload.epoch"},
		{"epoch fraction", Rotated, edit(good, "epoch", "2.5"), errcode.KeyRotationInvalid, "payload.epoch"},
		{"epoch string", Rotated, edit(good, "epoch", `"2"`), errcode.KeyRotationInvalid, "payload.epoch"},
		{"bad base64", Rotated, edit(good, "new_public_key", `"!!!!"`), errcode.KeyRotationInvalid, "payload.new_public_key"},
		{"short key", Rotated, edit(good, "new_public_key", `"`+b64(make([]byte, 31))+`"`), errcode.KeyRotationInvalid, "payload.new_public_key"},
		{"non-canonical base64", Rotated, edit(good, "new_public_key", `"`+strings.TrimRight(b64(b.PublicKey()), "=")+`"`), errcode.KeyRotationInvalid, "payload.new_public_key"},
		{"key id not hex", Rotated, edit(good, "new_key_id", `"xyz"`), errcode.KeyRotationInvalid, "payload.new_key_id"},
		{"new key id of another key", Rotated, edit(good, "new_key_id", `"`+a.KeyID().String()+`"`), errcode.KeyRotationInvalid, "payload.new_key_id"},
		{"old key id of another key", Rotated, edit(good, "old_key_id", `"`+b.KeyID().String()+`"`), errcode.KeyRotationInvalid, "payload.old_key_id"},
		{"old id null, key set", Rotated, edit(good, "old_key_id", `null`), errcode.KeyRotationInvalid, "payload.old_public_key"},
		{"old null after epoch 1", Rotated, edit(edit(good, "old_key_id", `null`), "old_public_key", "null"), errcode.KeyRotationInvalid, "payload.old_key_id"},
		{"old set at epoch 1", Rotated, edit(good, "epoch", "1"), errcode.KeyRotationInvalid, "payload.old_key_id"},
		{"rotation to the same key", Rotated, string(rotation(2, a, a, "").AppendPayload(nil)), errcode.KeyRotationInvalid, "payload.new_key_id"},
		{"enrolment at epoch 2", Enrolled, good, errcode.KeyRotationInvalid, "payload.epoch"},
		{"rotation at epoch 1", Rotated, enrol, errcode.KeyRotationInvalid, "payload.epoch"},
		{"break-glass at epoch 1", BreakGlass, enrol, errcode.KeyRotationInvalid, "payload.epoch"},
		{"blank reason", Rotated, edit(good, "reason", `" "`), errcode.KeyRotationInvalid, "payload.reason"},
		{"reason not a string", Rotated, edit(good, "reason", `7`), errcode.KeyRotationInvalid, "payload.reason"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLifecyclePayload(tc.kind, tc.payload)
			e, ok := errcode.As(err)
			if !ok || e.Code != tc.code || e.Field != tc.field {
				t.Errorf("ParseLifecyclePayload(%s) = %v, want %s on field %q", tc.payload, err, tc.code, tc.field)
			}
		})
	}
	for _, tc := range []struct {
		kind    LifecycleKind
		payload string
	}{{Rotated, good}, {BreakGlass, good}, {Enrolled, enrol}, {Rotated, edit(good, "reason", "null")}} {
		l, err := ParseLifecyclePayload(tc.kind, tc.payload)
		if err != nil {
			t.Fatalf("ParseLifecyclePayload(%s) = %v", tc.payload, err)
		}
		if got := string(l.AppendPayload(nil)); got != tc.payload {
			t.Errorf("AppendPayload = %s, want %s", got, tc.payload)
		}
	}
}

// TestParseLifecycle: the event type picks the kind; other event types
// are not lifecycle envelopes; adapter_id must be arxi.
func TestParseLifecycle(t *testing.T) {
	a := seededKey(1)
	c := rotation(1, nil, a, "").Content(scalar.MustLabel("rec"), scalar.Timestamp{})
	l, ok, err := ParseLifecycle(&c)
	if err != nil || !ok || l.Kind != Enrolled || l.New.KeyID != a.KeyID() {
		t.Fatalf("ParseLifecycle = %+v, %v, %v", l, ok, err)
	}
	other := c
	other.EventType = scalar.MustToken("system.adapter.key_rotatedx")
	if _, ok, err := ParseLifecycle(&other); ok || err != nil {
		t.Errorf("ParseLifecycle(%s) = %v, %v; want not a lifecycle envelope", other.EventType, ok, err)
	}
	other = c
	other.AdapterID = scalar.MustToken("example")
	if _, _, err := ParseLifecycle(&other); errcode.CodeOf(err) != errcode.KeyRotationInvalid {
		t.Errorf("ParseLifecycle(adapter example) = %v, want key.rotation_invalid", err)
	}
}

// TestLifecycleRules: the signatures each kind needs, and how a lifecycle
// envelope follows the lineage.
func TestLifecycleRules(t *testing.T) {
	a, b, x := seededKey(1), seededKey(2), seededKey(3)
	sign := func(l *Lifecycle, keys ...*Key) (scalar.Digest, []evidence.Signature) {
		c := l.Content(scalar.MustLabel("rec"), scalar.Timestamp{})
		h := evidence.ContentHash(&c)
		var sigs []evidence.Signature
		for _, k := range keys {
			sigs = append(sigs, k.Sign(h))
		}
		return h, sigs
	}
	rot := rotation(2, a, b, "")
	glass := rotation(2, a, b, "")
	glass.Kind = BreakGlass
	enrol := rotation(1, nil, a, "")
	for _, tc := range []struct {
		name string
		l    *Lifecycle
		keys []*Key
		ok   bool
	}{
		{"enrolment by the new key", enrol, []*Key{a}, true},
		{"enrolment unsigned", enrol, nil, false},
		{"enrolment by another key", enrol, []*Key{x}, false},
		{"rotation by both", rot, []*Key{a, b}, true},
		{"rotation by both and a witness", rot, []*Key{a, b, x}, true},
		{"rotation by the new key only", rot, []*Key{b}, false},
		{"rotation by the old key only", rot, []*Key{a}, false},
		{"break-glass by the new key", glass, []*Key{b}, true},
		{"break-glass by the old key only", glass, []*Key{a}, false},
	} {
		h, sigs := sign(tc.l, tc.keys...)
		err := tc.l.CheckSignatures(h, sigs)
		if (err == nil) != tc.ok || (err != nil && errcode.CodeOf(err) != errcode.KeyRotationInvalid) {
			t.Errorf("%s: CheckSignatures = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
	// A signature by the right key id over other content does not verify.
	h, sigs := sign(rot, a, b)
	h[0] ^= 1
	if err := rot.CheckSignatures(h, sigs); !errors.Is(err, errcode.KeyRotationInvalid) {
		t.Errorf("CheckSignatures(other content) = %v", err)
	}

	at1 := KeyEpoch{Epoch: 1, Key: a.TrustedKey()}
	for _, tc := range []struct {
		name  string
		l     *Lifecycle
		cur   KeyEpoch
		field string
	}{
		{"enrolment of an empty lineage", enrol, KeyEpoch{}, ""},
		{"enrolment again", enrol, at1, "payload.epoch"},
		{"rotation", rot, at1, ""},
		{"rotation before enrolment", rot, KeyEpoch{}, "payload.epoch"},
		{"skipped epoch", rotation(3, a, b, ""), at1, "payload.epoch"},
		{"repeated epoch", rot, KeyEpoch{Epoch: 2, Key: a.TrustedKey()}, "payload.epoch"},
		{"old key not current", rotation(2, x, b, ""), at1, "payload.old_key_id"},
	} {
		err := tc.l.Follows(tc.cur)
		e, _ := errcode.As(err)
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: Follows = %v", tc.name, err)
		case tc.field != "" && (e == nil || e.Code != errcode.KeyRotationInvalid || e.Field != tc.field):
			t.Errorf("%s: Follows = %v, want %s on %q", tc.name, err, errcode.KeyRotationInvalid, tc.field)
		}
	}
}

func TestLifecyclePayloadSchema(t *testing.T) {
	sch := schematest.Compile(t, LifecyclePayloadSchema)
	a, b := seededKey(1), seededKey(2)
	for _, l := range []*Lifecycle{rotation(1, nil, a, ""), rotation(2, a, b, "lost laptop")} {
		if err := schematest.Validate(sch, l.AppendPayload(nil)); err != nil {
			t.Errorf("%s: %v", l.AppendPayload(nil), err)
		}
	}
	half := strings.Replace(string(rotation(2, a, b, "").AppendPayload(nil)), `"old_key_id":"`+a.KeyID().String()+`"`, `"old_key_id":null`, 1)
	if err := schematest.Validate(sch, []byte(half)); err == nil {
		t.Errorf("the schema accepts old_key_id null beside an old_public_key")
	}
}

func FuzzParseLifecyclePayload(f *testing.F) {
	a, b := seededKey(1), seededKey(2)
	f.Add([]byte(rotation(2, a, b, "scheduled").AppendPayload(nil)))
	f.Add([]byte(rotation(1, nil, a, "").AppendPayload(nil)))
	f.Add([]byte(`{"epoch":1}`))
	var canon canonical.Canonicalizer
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, err := canon.Append(nil, data)
		if err != nil {
			return // the canonical pass refuses what is not strict JSON first
		}
		for k := Enrolled; k <= BreakGlass; k++ {
			l, err := ParseLifecyclePayload(k, string(payload))
			if err != nil {
				if _, ok := errcode.As(err); !ok {
					t.Fatalf("untyped error: %v", err)
				}
				continue
			}
			if scalar.KeyIDOf(l.New.PublicKey) != l.New.KeyID || (l.Old != nil && scalar.KeyIDOf(l.Old.PublicKey) != l.Old.KeyID) {
				t.Fatalf("accepted a key id that is not its key's")
			}
			if (l.Epoch == 1) != (l.Old == nil) || l.Epoch < 1 {
				t.Fatalf("accepted epoch %d with old key %v", l.Epoch, l.Old)
			}
			// Every key is required, so what is accepted is exactly its
			// canonical payload.
			if got := l.AppendPayload(nil); !bytes.Equal(got, payload) {
				t.Fatalf("AppendPayload = %s, want %s", got, payload)
			}
		}
	})
}

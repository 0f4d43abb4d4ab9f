package signing

import (
	"crypto/ed25519"
	"encoding/base64"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/jsonobj"
	"arxi.dev/arxi/pkg/scalar"
)

// A key lifecycle envelope (SPEC §11.1) records a store's signing lineage
// in its own chain: epoch 1 enrols the first key, each rotation hands over
// from the current key to a new one at the next epoch, and a break-glass
// rotation replaces a lost or compromised key. This file is the one home
// of its payload and of the rules a lifecycle envelope follows, which the
// store (arxi-append) and the verifier (phase 6) both apply.

// The event types of lifecycle envelopes.
const (
	EventKeyEnrolled   = "system.adapter.key_enrolled"
	EventKeyRotated    = "system.adapter.key_rotated"
	EventKeyBreakGlass = "system.adapter.key_rotated.break_glass"
)

// LifecycleAdapter is the adapter_id of every lifecycle envelope, and
// LifecycleEnvironment its environment_id.
const (
	LifecycleAdapter     = "arxi"
	LifecycleEnvironment = "arxi"
)

// LifecycleKind is what a lifecycle envelope does.
type LifecycleKind uint8

// The lifecycle kinds.
const (
	Enrolled   LifecycleKind = iota + 1 // epoch 1, signed by the new key
	Rotated                             // signed by the old and the new key
	BreakGlass                          // signed by the new key only
)

var kindEvents = [...]string{"", EventKeyEnrolled, EventKeyRotated, EventKeyBreakGlass}

// EventType returns the kind's event type.
func (k LifecycleKind) EventType() string { return kindEvents[k] }

// LifecycleKindOf returns the kind whose event type is eventType, and
// whether it is one.
func LifecycleKindOf(eventType string) (LifecycleKind, bool) {
	for k := Enrolled; k <= BreakGlass; k++ {
		if kindEvents[k] == eventType {
			return k, true
		}
	}
	return 0, false
}

// IsLifecycle reports whether an envelope's event type is a lifecycle
// event type.
func IsLifecycle(eventType string) bool { _, ok := LifecycleKindOf(eventType); return ok }

// Lifecycle is a decoded lifecycle envelope: its kind and its payload
// {"epoch","new_key_id","new_public_key","old_key_id","old_public_key","reason"}.
type Lifecycle struct {
	Kind   LifecycleKind
	Epoch  int64
	New    TrustedKey
	Old    *TrustedKey  // nil exactly at epoch 1
	Reason scalar.Label // zero for null
}

// KeyEpoch is a lineage's current state: the key trusted to sign at an
// epoch. The zero KeyEpoch is a lineage with no key yet.
type KeyEpoch struct {
	Epoch int64
	Key   TrustedKey
}

// lifecycleFields decodes payloads: every error is key.rotation_invalid
// naming the payload's field. A lifecycle envelope is sealed evidence; one
// that does not decode is a lineage that does not follow (exit 1), not
// rejected input.
var lifecycleFields = &jsonobj.Style{Code: errcode.KeyRotationInvalid}

// lifecycleKeys are the payload's keys, from its schema.
var lifecycleKeys = LifecyclePayloadSchema.Keys()

// MaxEpoch is the largest epoch: an epoch is a JSON integer (SPEC §3).
const MaxEpoch = 1<<53 - 1

// ParseLifecycle decodes the lifecycle envelope c strictly, or returns
// ok false when its event type is not a lifecycle event type. Besides the
// payload (ParseLifecyclePayload) it checks that adapter_id is "arxi" and
// that the kind suits the epoch: epoch 1 is an enrolment, later epochs are
// rotations.
func ParseLifecycle(c *evidence.Content) (l *Lifecycle, ok bool, err error) {
	kind, ok := LifecycleKindOf(c.EventType.String())
	if !ok {
		return nil, false, nil
	}
	if c.AdapterID.String() != LifecycleAdapter {
		return nil, true, &errcode.Error{Code: errcode.KeyRotationInvalid, Field: "adapter_id",
			Msg: "a " + kind.EventType() + " envelope has adapter_id \"arxi\""}
	}
	l, err = ParseLifecyclePayload(kind, c.Payload)
	return l, true, err
}

// ParseLifecyclePayload decodes the payload of a lifecycle envelope of
// the given kind: unknown or missing keys, an epoch that is not an integer
// from 1, public keys that are not base64 of 32 bytes, key ids that are not
// the SHA-256 of their keys, old_* not null exactly at epoch 1, a rotation
// to the key it retires, and a reason that is not a label (SPEC §2) are
// refused as key.rotation_invalid, each error naming its field
// ("payload.new_key_id").
func ParseLifecyclePayload(kind LifecycleKind, payload string) (*Lifecycle, error) {
	if kind < Enrolled || kind > BreakGlass {
		return nil, errcode.New(errcode.Internal, "unknown lifecycle kind %d", kind)
	}
	o, err := lifecycleFields.ObjectAt("payload", jsonobj.Value{Raw: payload})
	if err != nil {
		return nil, err
	}
	if err := o.Only(lifecycleKeys...); err != nil {
		return nil, err
	}
	if err := o.Require(lifecycleKeys...); err != nil {
		return nil, err
	}
	l := &Lifecycle{Kind: kind}
	if l.Epoch, err = o.Int("epoch"); err != nil {
		return nil, err
	}
	if l.Epoch < 1 || l.Epoch > MaxEpoch {
		return nil, o.Errorf("epoch", "must be an integer from 1 to 2^53-1, not %d", l.Epoch)
	}
	if l.New, err = payloadKey(&o, "new_key_id", "new_public_key"); err != nil {
		return nil, err
	}
	oldNull := o.Get("old_key_id").IsNull()
	if oldNull != o.Get("old_public_key").IsNull() {
		return nil, o.Errorf("old_public_key", "old_key_id and old_public_key are both null or both set")
	}
	switch {
	case l.Epoch == 1 && !oldNull:
		return nil, o.Errorf("old_key_id", "must be null at epoch 1, which enrols the first key")
	case l.Epoch > 1 && oldNull:
		return nil, o.Errorf("old_key_id", "is null only at epoch 1; epoch %d rotates from a key", l.Epoch)
	case !oldNull:
		old, err := payloadKey(&o, "old_key_id", "old_public_key")
		if err != nil {
			return nil, err
		}
		if old.KeyID == l.New.KeyID {
			return nil, o.Errorf("new_key_id", "a rotation must change the key; the new key is the old one")
		}
		l.Old = &old
	}
	switch {
	case kind == Enrolled && l.Epoch != 1:
		return nil, o.Errorf("epoch", "a key_enrolled envelope is at epoch 1, not %d", l.Epoch)
	case kind != Enrolled && l.Epoch == 1:
		return nil, o.Errorf("epoch", "epoch 1 enrols the first key (%s), it is not a rotation", EventKeyEnrolled)
	}
	reason, ok, err := o.OptString("reason")
	if err != nil {
		return nil, err
	}
	if ok {
		if l.Reason, err = scalar.ParseLabel(reason); err != nil {
			return nil, o.Invalid("reason", err)
		}
	}
	return l, nil
}

// payloadKey decodes a key id and its public key.
func payloadKey(o *jsonobj.Object, idKey, pubKey string) (TrustedKey, error) {
	var k TrustedKey
	idText, err := o.String(idKey)
	if err != nil {
		return k, err
	}
	if k.KeyID, err = scalar.ParseKeyID(idText); err != nil {
		return k, o.Invalid(idKey, err)
	}
	pubText, err := o.String(pubKey)
	if err != nil {
		return k, err
	}
	pub, err := base64.StdEncoding.Strict().DecodeString(pubText)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return k, o.Errorf(pubKey, "must be standard base64 of a 32-byte Ed25519 public key")
	}
	if scalar.KeyIDOf(pub) != k.KeyID {
		return k, o.Errorf(idKey, "does not match %s (want %s)", pubKey, scalar.KeyIDOf(pub))
	}
	k.PublicKey = ed25519.PublicKey(pub)
	return k, nil
}

// AppendPayload appends the payload's canonical JSON, which
// ParseLifecyclePayload reads back as l.
func (l *Lifecycle) AppendPayload(dst []byte) []byte {
	dst = append(dst, `{"epoch":`...)
	dst = strconv.AppendInt(dst, l.Epoch, 10)
	dst = append(dst, `,"new_key_id":"`...)
	dst = l.New.KeyID.Append(dst)
	dst = append(dst, `","new_public_key":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, l.New.PublicKey)
	dst = append(dst, `","old_key_id":`...)
	if l.Old == nil {
		dst = append(dst, `null,"old_public_key":null`...)
	} else {
		dst = append(dst, '"')
		dst = l.Old.KeyID.Append(dst)
		dst = append(dst, `","old_public_key":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, l.Old.PublicKey)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"reason":`...)
	if l.Reason.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = canonical.AppendString(dst, l.Reason.String())
	}
	return append(dst, '}')
}

// Content returns the lifecycle envelope's content (SPEC §11.1): adapter
// and environment "arxi", actor the recorder, no trace, session or
// attachment, claimed at at; its envelope id is left to be derived.
func (l *Lifecycle) Content(recorder scalar.Label, at scalar.Timestamp) evidence.Content {
	return evidence.Content{
		EventType:     scalar.MustToken(l.Kind.EventType()),
		ActorID:       recorder,
		EnvironmentID: scalar.MustLabel(LifecycleEnvironment),
		AdapterID:     scalar.MustToken(LifecycleAdapter),
		ClaimedAt:     at,
		Payload:       string(l.AppendPayload(nil)),
	}
}

// Signers returns the keys whose signatures the envelope needs: the new
// key, and for a normal rotation the old key too.
func (l *Lifecycle) Signers() []TrustedKey {
	if l.Kind == Rotated {
		return []TrustedKey{*l.Old, l.New}
	}
	return []TrustedKey{l.New}
}

// CheckSignatures checks that every required signature (Signers) is among
// sigs and verifies over content: key.rotation_invalid naming
// "signatures" otherwise. Other signatures are not the lineage's business.
func (l *Lifecycle) CheckSignatures(content scalar.Digest, sigs []evidence.Signature) error {
	for _, k := range l.Signers() {
		role := "new"
		if l.Old != nil && k.KeyID == l.Old.KeyID {
			role = "old"
		}
		found := false
		for _, s := range sigs {
			if s.KeyID != k.KeyID {
				continue
			}
			found = true
			if !Verify(k.PublicKey, content, s.Value) {
				return &errcode.Error{Code: errcode.KeyRotationInvalid, Field: "signatures",
					Msg: "the signature by the " + role + " key " + k.KeyID.String() + " does not verify"}
			}
		}
		if !found {
			return &errcode.Error{Code: errcode.KeyRotationInvalid, Field: "signatures",
				Msg: "a " + l.Kind.EventType() + " envelope is signed by the " + role + " key " + k.KeyID.String() + "; it is not"}
		}
	}
	return nil
}

// Follows checks that l continues the lineage whose current state is cur
// (the zero KeyEpoch for none): its epoch is cur's plus one and its old
// key is cur's key. The error is key.rotation_invalid naming the field.
func (l *Lifecycle) Follows(cur KeyEpoch) error {
	bad := func(field, msg string) error {
		return &errcode.Error{Code: errcode.KeyRotationInvalid, Field: "payload." + field, Msg: msg}
	}
	if l.Epoch != cur.Epoch+1 {
		if cur.Epoch == 0 {
			return bad("epoch", "is "+strconv.FormatInt(l.Epoch, 10)+", but no key is enrolled yet: the first lifecycle envelope enrols a key at epoch 1")
		}
		return bad("epoch", "is "+strconv.FormatInt(l.Epoch, 10)+"; the current key "+cur.Key.KeyID.String()+" is at epoch "+
			strconv.FormatInt(cur.Epoch, 10)+", so the next epoch is "+strconv.FormatInt(cur.Epoch+1, 10))
	}
	if cur.Epoch > 0 && (l.Old.KeyID != cur.Key.KeyID || !l.Old.PublicKey.Equal(cur.Key.PublicKey)) {
		return bad("old_key_id", "is "+l.Old.KeyID.String()+", but the current key is "+cur.Key.KeyID.String())
	}
	return nil
}

// Next is the lineage's state after l.
func (l *Lifecycle) Next() KeyEpoch { return KeyEpoch{Epoch: l.Epoch, Key: l.New} }
